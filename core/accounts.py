"""Accounts, one-time sign-in links and session tokens.

Candidates sign in with a link sent by email: the link carries a random token, stored only as its
SHA-256, valid ``sign_in_link_ttl_minutes`` and usable once; exchanging it opens a session whose
token is likewise stored hashed, expires and can be revoked. Staff sign in through OpenID
Connect (``api/routes/staff_sign_in.py``: a session like the emailed link's) or, for scripts,
receive a long-lived session token from the admin command, and never an emailed link (a mailbox
compromise must not be a staff compromise).

An account is *confirmed* once its owner signs in from an emailed link, and its name once the
owner sets it (``set_display_name``): anyone may create an account for any address, so until
then the account names no case. ``authenticate`` turns a session token into the ``Actor`` the
workflow checks (role, id, départements).

Refusals (``DomainError``)::

    account_exists          an account already uses this address
    scope_required          a prefecture agent without a département
    invalid_departement     a département code that does not exist
    sign_in_link_invalid    unknown, used or expired link (one answer for all three: no oracle)
    session_invalid         unknown, expired or revoked session, or a disabled account
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import account_departements, accounts, case_mandates, sessions, sign_in_links
from core.settings import Settings
from domain.contracts import Actor
from domain.errors import DomainError, ErrorCode
from domain.identifiers import is_valid_departement
from domain.stages import Role

EMAILED_LINK_ROLES = frozenset({Role.CANDIDATE, Role.THIRD_PARTY, Role.ELU})
"""The roles that sign in from an emailed link; staff never receive one."""

TOKEN_BYTES = 32
"""256 random bits: a plain SHA-256 is enough to store such a token (no dictionary to try)."""


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AccountRecord(BaseModel):
    """An account as the API sees it."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    email: str
    display_name: str
    role: Role
    departements: list[str]
    disabled: bool = False
    confirmed: bool = False
    """The owner of the address has signed in from an emailed link."""
    name_confirmed: bool = False
    """The owner set the display name themselves."""


class Accounts:
    """Accounts and their tokens in the app database.

    Args:
        engine: The app database (migrated).
        settings: Token lifetimes.
        now: The clock (tests pass one to reach expiry without waiting).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        now: Callable[[], dt.datetime] = _utcnow,
    ):
        self._engine = engine
        self._settings = settings
        self._now = now

    async def create(
        self,
        *,
        email: str,
        display_name: str,
        role: Role,
        departements: Sequence[str] = (),
    ) -> AccountRecord:
        """Create an account.

        A candidate's id is also their candidate id in case ids: lower-case letters and digits.

        Raises:
            DomainError: ``account_exists``, ``scope_required`` or ``invalid_departement``.
        """
        if role == Role.SYSTEM:
            raise DomainError(ErrorCode.FORBIDDEN_ROLE, field="role")
        scopes = sorted(set(departements))
        if any(not is_valid_departement(code) for code in scopes):
            raise DomainError(ErrorCode.INVALID_DEPARTEMENT, field="departements")
        if role == Role.PREFECTURE and not scopes:
            raise DomainError(ErrorCode.SCOPE_REQUIRED, field="departements")
        prefix = "c" if role == Role.CANDIDATE else role.value[:4]
        account_id = f"{prefix}{uuid.uuid4().hex[:20]}"
        normalised = email.strip().lower()
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(accounts).values(
                        account_id=account_id,
                        email=normalised,
                        display_name=display_name.strip(),
                        role=role.value,
                        created_at=self._now(),
                    )
                )
                if scopes:
                    await connection.execute(
                        insert(account_departements),
                        [{"account_id": account_id, "departement": code} for code in scopes],
                    )
        except IntegrityError:
            raise DomainError(ErrorCode.ACCOUNT_EXISTS, field="email") from None
        return AccountRecord(
            account_id=account_id,
            email=normalised,
            display_name=display_name.strip(),
            role=role,
            departements=scopes,
        )

    async def get(self, account_id: str) -> AccountRecord | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(accounts).where(accounts.c.account_id == account_id)
                )
            ).first()
            if row is None:
                return None
            scopes = (
                await connection.execute(
                    select(account_departements.c.departement)
                    .where(account_departements.c.account_id == account_id)
                    .order_by(account_departements.c.departement)
                )
            ).scalars()
            return AccountRecord(
                account_id=row.account_id,
                email=row.email,
                display_name=row.display_name,
                role=Role(row.role),
                departements=list(scopes),
                disabled=row.disabled_at is not None,
                confirmed=row.confirmed_at is not None,
                name_confirmed=row.name_confirmed_at is not None,
            )

    async def find_by_email(self, email: str) -> AccountRecord | None:
        async with self._engine.connect() as connection:
            account_id = (
                await connection.execute(
                    select(accounts.c.account_id).where(accounts.c.email == email.strip().lower())
                )
            ).scalar()
        return None if account_id is None else await self.get(account_id)

    async def set_display_name(self, account_id: str, display_name: str) -> None:
        """The owner sets (or changes) their name: from now on it is theirs."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(accounts)
                .where(accounts.c.account_id == account_id)
                .values(display_name=display_name.strip(), name_confirmed_at=self._now())
            )

    async def confirm(self, account_id: str) -> None:
        """Mark an account and its name confirmed without an emailed link: for accounts an
        administrator makes for a known person (the demonstration, benchmarks)."""
        now = self._now()
        async with self._engine.begin() as connection:
            await connection.execute(
                update(accounts)
                .where(accounts.c.account_id == account_id)
                .values(confirmed_at=now, name_confirmed_at=now)
            )

    async def disable(self, account_id: str) -> None:
        """Disable an account: its sessions stop working at once."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(accounts)
                .where(accounts.c.account_id == account_id)
                .values(disabled_at=self._now())
            )

    async def issue_sign_in_link(self, email: str) -> str | None:
        """A one-time token for the account of ``email``, or None if there is none.

        The caller emails the link when there is one and answers the same either way, so that
        nobody learns whether an address has an account. Past ``sign_in_links_per_hour`` links
        in the last hour, None as well: a mailbox cannot be flooded through the API.
        """
        account = await self.find_by_email(email)
        if account is None or account.disabled or account.role not in EMAILED_LINK_ROLES:
            return None
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._now()
        async with self._engine.begin() as connection:
            recent = (
                await connection.execute(
                    select(func.count())
                    .select_from(sign_in_links)
                    .where(
                        sign_in_links.c.account_id == account.account_id,
                        sign_in_links.c.created_at > now - dt.timedelta(hours=1),
                    )
                )
            ).scalar_one()
            if recent >= self._settings.sign_in_links_per_hour:
                # Someone is flooding this mailbox: answer as usual, send nothing.
                return None
            await connection.execute(
                insert(sign_in_links).values(
                    token_hash=hash_token(token),
                    account_id=account.account_id,
                    created_at=now,
                    expires_at=now + dt.timedelta(minutes=self._settings.sign_in_link_ttl_minutes),
                )
            )
        return token

    async def exchange_sign_in_link(self, token: str) -> str:
        """Spend a sign-in link and open a session; returns the session token.

        Raises:
            DomainError: ``sign_in_link_invalid`` (unknown, used or expired).
        """
        now = self._now()
        async with self._engine.begin() as connection:
            # One statement marks the link used only if it is still good: two concurrent
            # exchanges of the same link cannot both succeed.
            result = await connection.execute(
                update(sign_in_links)
                .where(
                    sign_in_links.c.token_hash == hash_token(token),
                    sign_in_links.c.used_at.is_(None),
                    sign_in_links.c.expires_at > now,
                )
                .values(used_at=now)
                .returning(sign_in_links.c.account_id)
            )
            account_id = result.scalar()
            if account_id is None:
                raise DomainError(ErrorCode.SIGN_IN_LINK_INVALID)
            # The owner of the address has read the email: the account is theirs.
            await connection.execute(
                update(accounts)
                .where(accounts.c.account_id == account_id, accounts.c.confirmed_at.is_(None))
                .values(confirmed_at=now)
            )
        return await self.open_session(
            account_id, dt.timedelta(hours=self._settings.session_ttl_hours)
        )

    async def open_session(self, account_id: str, ttl: dt.timedelta | None = None) -> str:
        """Open a session for an account (the admin command does it for staff)."""
        ttl = ttl or dt.timedelta(days=self._settings.staff_token_ttl_days)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._now()
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(sessions).values(
                    token_hash=hash_token(token),
                    account_id=account_id,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

    async def revoke_session(self, token: str) -> None:
        """Close a session (sign-out); revoking twice is harmless."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(sessions)
                .where(sessions.c.token_hash == hash_token(token), sessions.c.revoked_at.is_(None))
                .values(revoked_at=self._now())
            )

    async def authenticate(self, token: str) -> tuple[AccountRecord, Actor]:
        """The account behind a session token, and the ``Actor`` it acts as on cases.

        Raises:
            DomainError: ``session_invalid``.
        """
        # One query for the session and its account (every request makes it); the
        # départements only for prefecture staff.
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(accounts)
                    .join(sessions, sessions.c.account_id == accounts.c.account_id)
                    .where(
                        sessions.c.token_hash == hash_token(token),
                        sessions.c.revoked_at.is_(None),
                        sessions.c.expires_at > self._now(),
                        accounts.c.disabled_at.is_(None),
                    )
                )
            ).first()
            if row is None:
                raise DomainError(ErrorCode.SESSION_INVALID)
            scopes: list[str] = []
            if row.role == Role.PREFECTURE.value:
                scopes = list(
                    (
                        await connection.execute(
                            select(account_departements.c.departement)
                            .where(account_departements.c.account_id == row.account_id)
                            .order_by(account_departements.c.departement)
                        )
                    ).scalars()
                )
        account = AccountRecord(
            account_id=row.account_id,
            email=row.email,
            display_name=row.display_name,
            role=Role(row.role),
            departements=scopes,
            confirmed=row.confirmed_at is not None,
            name_confirmed=row.name_confirmed_at is not None,
        )
        actor = Actor(role=account.role, id=account.account_id, departements=account.departements)
        return account, actor

    async def grant_mandate(self, *, case_id: str, account_id: str, document_id: str) -> None:
        """Record that a third party may act on one case (mirrors the workflow's mandate).

        Other mandates on the case stand until ``end_other_mandates``: the API calls it once the
        workflow has accepted the new third party, so that a refused change leaves the current
        third party in place.
        """
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(case_mandates).where(
                    case_mandates.c.case_id == case_id, case_mandates.c.account_id == account_id
                )
            )
            await connection.execute(
                insert(case_mandates).values(
                    case_id=case_id,
                    account_id=account_id,
                    mandate_document_id=document_id,
                    granted_at=self._now(),
                )
            )

    async def end_other_mandates(self, *, case_id: str, keep: str) -> None:
        """End every mandate on the case but ``keep``'s (a case has one third party)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(case_mandates)
                .where(
                    case_mandates.c.case_id == case_id,
                    case_mandates.c.account_id != keep,
                    case_mandates.c.revoked_at.is_(None),
                )
                .values(revoked_at=self._now())
            )

    async def revoke_mandate(self, *, case_id: str, account_id: str) -> None:
        """End a third party's mandate on a case (a mandate the workflow refused, for one)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(case_mandates)
                .where(
                    case_mandates.c.case_id == case_id,
                    case_mandates.c.account_id == account_id,
                    case_mandates.c.revoked_at.is_(None),
                )
                .values(revoked_at=self._now())
            )

    async def discard(self, account_id: str) -> bool:
        """Delete an account made for a request that did not go through (a mandate the case did
        not accept), with its tokens and mandates, unless it holds a current mandate by then
        (another request gave it one). Returns whether it was deleted.
        """
        async with self._engine.begin() as connection:
            in_use = (
                await connection.execute(
                    select(case_mandates.c.case_id).where(
                        case_mandates.c.account_id == account_id,
                        case_mandates.c.revoked_at.is_(None),
                    )
                )
            ).first()
            if in_use is not None:
                return False
            # Each table in turn: SQLite does not enforce the foreign keys' cascade here.
            for table in (case_mandates, sessions, sign_in_links, account_departements):
                await connection.execute(delete(table).where(table.c.account_id == account_id))
            deleted = await connection.execute(
                delete(accounts).where(accounts.c.account_id == account_id)
            )
        return bool(deleted.rowcount)

    async def holds_mandate(self, *, case_id: str, account_id: str) -> bool:
        """Whether a third party currently holds a mandate for the case."""
        async with self._engine.connect() as connection:
            found = (
                await connection.execute(
                    select(case_mandates.c.case_id).where(
                        case_mandates.c.case_id == case_id,
                        case_mandates.c.account_id == account_id,
                        case_mandates.c.revoked_at.is_(None),
                    )
                )
            ).first()
        return found is not None

    async def mandated_cases(self, account_id: str) -> list[str]:
        """The cases a third party holds a current mandate for."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(case_mandates.c.case_id).where(
                    case_mandates.c.account_id == account_id,
                    case_mandates.c.revoked_at.is_(None),
                )
            )
            return sorted(rows.scalars())
