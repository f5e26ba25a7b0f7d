"""Administration shared by the admin routes and ``python -m api.admin``: staff accounts,
prefecture services, elections."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.accounts import AccountRecord, Accounts
from core.db import elections, prefectures
from domain.contracts import Email
from domain.elections import is_covered, parse_election_type
from domain.errors import DomainError, ErrorCode
from domain.identifiers import is_opaque_id, is_valid_departement
from domain.stages import Role
from domain.text import clean_line

STAFF_ROLES = frozenset({Role.PREFECTURE, Role.CNCCFP, Role.ADMIN, Role.OPERATOR})

IDENTITY_PROVIDER_ROLES = STAFF_ROLES | {Role.COLLECTIVITE}
"""Accounts that sign in through the identity provider (``/auth/staff/sign-in``): the State's
agents and the collectivités' (ProConnect serves both); never candidates, third parties or
officials, who sign in from emailed links."""


async def create_staff(
    accounts: Accounts,
    *,
    email: str,
    display_name: str,
    role: Role,
    departements: Sequence[str] = (),
) -> tuple[AccountRecord, str]:
    """Create a staff account and its first session token (to be shown once).

    Raises:
        DomainError: ``forbidden_role`` (not a staff role), ``invalid_email``, and the refusals
            of ``Accounts.create``.
    """
    if role not in STAFF_ROLES:
        raise DomainError(
            ErrorCode.FORBIDDEN_ROLE,
            field="role",
            message="Un compte d'agent a le rôle prefecture, cnccfp, admin ou operator.",
        )
    email = check_email(email)
    display_name = check_line(display_name.strip(), "display_name")
    if role != Role.PREFECTURE and departements:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            field="departements",
            message="Seuls les agents de préfecture sont rattachés à des départements.",
        )
    account = await accounts.create(
        email=email, display_name=display_name, role=role, departements=departements
    )
    token = await accounts.open_session(account.account_id)
    return account, token


_EMAIL = TypeAdapter(Email)


def check_email(value: str) -> str:
    """The address, stripped, if it is well formed.

    Raises:
        DomainError: ``invalid_email``.
    """
    try:
        return _EMAIL.validate_python(value.strip())
    except ValidationError:
        raise DomainError(ErrorCode.INVALID_EMAIL, field="email") from None


def check_line(value: str, field: str) -> str:
    """A single-line text typed by an operator, cleaned by ``domain.text.clean_line``.

    Raises:
        DomainError: ``text_control_character``, ``text_bidi_control`` or ``text_invisible``.
    """
    try:
        return clean_line(value)
    except PydanticCustomError as refusal:
        raise DomainError(ErrorCode(refusal.type), field=field) from None


async def set_prefecture(engine: AsyncEngine, departement: str, email: str) -> None:
    """Record (or change) the address of a département's prefecture service."""
    if not is_valid_departement(departement):
        raise DomainError(ErrorCode.INVALID_DEPARTEMENT, field="departement")
    email = check_email(email)
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as connection:
        changed = await connection.execute(
            update(prefectures)
            .where(prefectures.c.departement == departement)
            .values(email=email, updated_at=now)
        )
        if changed.rowcount == 0:
            await connection.execute(
                insert(prefectures).values(departement=departement, email=email, updated_at=now)
            )


async def add_election(
    engine: AsyncEngine,
    *,
    election_id: str,
    election_type: str,
    label: str,
    first_round: dt.date,
    second_round: dt.date | None,
) -> bool:
    """Add an election, covered or not by its type alone (``domain.elections.is_covered``: the
    admin route and the admin command have no other way). Returns whether it is covered.

    Raises:
        DomainError: ``invalid_identifier``, ``invalid_input`` (an unknown election type),
            ``invalid_date_range`` or ``election_exists``.
    """
    if not is_opaque_id(election_id):
        raise DomainError(ErrorCode.INVALID_IDENTIFIER, field="election_id")
    if second_round is not None and second_round <= first_round:
        raise DomainError(
            ErrorCode.INVALID_DATE_RANGE,
            field="second_round",
            message="Le second tour doit suivre le premier.",
        )
    label = check_line(label.strip(), "label")
    known_type = parse_election_type(election_type)
    covered = is_covered(known_type)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(elections).values(
                    election_id=election_id,
                    election_type=known_type.value,
                    label=label,
                    first_round=first_round,
                    second_round=second_round,
                    covered=covered,
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
    except IntegrityError:
        raise DomainError(ErrorCode.ELECTION_EXISTS, field="election_id") from None
    return covered


async def election_exists(engine: AsyncEngine, election_id: str) -> bool:
    async with engine.connect() as connection:
        found = (
            await connection.execute(
                select(elections.c.election_id).where(elections.c.election_id == election_id)
            )
        ).first()
    return found is not None
