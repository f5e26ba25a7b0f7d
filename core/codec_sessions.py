"""Codec sessions: what the Temporal Web UI's calls to ``/codec/`` carry, instead of a token.

An operator (or an admin) opens one at ``/codec/connexion`` with their API token; the browser then
holds only the codec session's secret, in a cookie limited to ``/codec/``. A codec session:

- lasts ``settings.codec_session_ttl_hours`` (8 by default), never the staff token's 90 days;
- opens nothing but the codec endpoint: its secret is stored hashed under its own label, in its
  own table, so that it is no API session token (``Authorization: Bearer`` refuses it), and the
  API token is never in a cookie;
- is revoked by its holder (``/codec/deconnexion``), all of an account's at once by the admin
  command (``python -m api.admin codec-sessions-revoke``), and stops with its account (disabled)
  or its role (no longer operator or admin).

Refusals (``DomainError``)::

    session_invalid   unknown, expired or revoked codec session, disabled account, or a role
                      that may not decode
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Callable

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.accounts import AccountRecord
from core.db import accounts, codec_sessions
from core.settings import Settings
from domain.contracts import Actor
from domain.errors import DomainError, ErrorCode
from domain.stages import Role

SECRET_BYTES = 32
CODEC_ROLES = frozenset({Role.OPERATOR, Role.ADMIN})
"""Who may decode Temporal payloads."""
_HASH_LABEL = b"secupol-codec-session-v1|"


def hash_secret(secret: str) -> str:
    """The stored form of a codec session's secret (never equal to an API token's hash)."""
    return hashlib.sha256(_HASH_LABEL + secret.encode()).hexdigest()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CodecSessions:
    """Codec sessions in the app database.

    Args:
        engine: The app database (migrated).
        settings: ``codec_session_ttl_hours``.
        now: The clock (tests pass one to reach expiry without waiting).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        now: Callable[[], dt.datetime] = _utcnow,
    ):
        self._engine = engine
        self.ttl = dt.timedelta(hours=settings.codec_session_ttl_hours)
        """How long a new codec session lasts."""
        self._now = now

    async def open(self, account: AccountRecord) -> str:
        """Open a codec session for an operator or admin; returns its secret.

        Raises:
            DomainError: ``forbidden_role`` for any other role, ``session_invalid`` for a
                disabled account.
        """
        if account.role not in CODEC_ROLES:
            raise DomainError(ErrorCode.FORBIDDEN_ROLE)
        if account.disabled:
            raise DomainError(ErrorCode.SESSION_INVALID)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        now = self._now()
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(codec_sessions).values(
                    session_id=uuid.uuid4().hex,
                    secret_hash=hash_secret(secret),
                    account_id=account.account_id,
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
        return secret

    async def authenticate(self, secret: str) -> tuple[AccountRecord, Actor]:
        """The account behind a live codec session, and the ``Actor`` it is.

        Raises:
            DomainError: ``session_invalid``.
        """
        if not secret or len(secret) > 200:
            raise DomainError(ErrorCode.SESSION_INVALID)
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(accounts)
                    .join(codec_sessions, codec_sessions.c.account_id == accounts.c.account_id)
                    .where(
                        codec_sessions.c.secret_hash == hash_secret(secret),
                        codec_sessions.c.revoked_at.is_(None),
                        codec_sessions.c.expires_at > self._now(),
                        accounts.c.disabled_at.is_(None),
                        accounts.c.role.in_([role.value for role in CODEC_ROLES]),
                    )
                )
            ).first()
        if row is None:
            raise DomainError(ErrorCode.SESSION_INVALID)
        account = AccountRecord(
            account_id=row.account_id,
            email=row.email,
            display_name=row.display_name,
            role=Role(row.role),
            departements=[],
        )
        return account, Actor(role=account.role, id=account.account_id)

    async def revoke(self, secret: str) -> str | None:
        """End one codec session (sign-out); returns its account id if it was live."""
        if not secret or len(secret) > 200:
            return None
        async with self._engine.begin() as connection:
            account_id = (
                await connection.execute(
                    select(codec_sessions.c.account_id).where(
                        codec_sessions.c.secret_hash == hash_secret(secret),
                        codec_sessions.c.revoked_at.is_(None),
                        codec_sessions.c.expires_at > self._now(),
                    )
                )
            ).scalar()
            if account_id is None:
                return None
            await connection.execute(
                update(codec_sessions)
                .where(codec_sessions.c.secret_hash == hash_secret(secret))
                .values(revoked_at=self._now())
            )
        return str(account_id)

    async def revoke_all(self, account_id: str) -> int:
        """End every live codec session of an account; returns how many there were."""
        now = self._now()
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(codec_sessions)
                .where(
                    codec_sessions.c.account_id == account_id,
                    codec_sessions.c.revoked_at.is_(None),
                    codec_sessions.c.expires_at > now,
                )
                .values(revoked_at=now)
            )
        return result.rowcount or 0
