"""Accounts, sign-in links and sessions, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.accounts import Accounts, hash_token
from core.db import sessions, sign_in_links
from core.settings import Environment, Settings
from domain.errors import DomainError, ErrorCode
from domain.identifiers import is_candidate_id
from domain.stages import Role


class Clock:
    """A clock the test moves forward, so that expiry needs no waiting."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(app_engine: AsyncEngine, clock: Clock) -> Accounts:
    settings = Settings(environment=Environment.TEST, _env_file=None)  # type: ignore[call-arg]
    return Accounts(app_engine, settings, now=clock)


def refused(code: ErrorCode) -> pytest.RaisesExc[DomainError]:
    return pytest.raises(DomainError, check=lambda error: error.code == code)


async def test_candidate_signs_in_once_with_the_emailed_link(accounts: Accounts) -> None:
    account = await accounts.create(
        email=" Camille.Martin@Example.fr ", display_name="Camille Martin", role=Role.CANDIDATE
    )
    assert account.email == "camille.martin@example.fr"
    assert is_candidate_id(account.account_id)  # usable in case ids

    link = await accounts.issue_sign_in_link("CAMILLE.MARTIN@example.fr")
    assert link is not None and len(link) >= 40
    session = await accounts.exchange_sign_in_link(link)
    found, actor = await accounts.authenticate(session)
    assert found.account_id == account.account_id
    assert actor.role == Role.CANDIDATE and actor.id == account.account_id

    with refused(ErrorCode.SIGN_IN_LINK_INVALID):
        await accounts.exchange_sign_in_link(link)  # single use


async def test_tokens_are_stored_hashed(accounts: Accounts, app_engine: AsyncEngine) -> None:
    await accounts.create(email="a@example.fr", display_name="A", role=Role.CANDIDATE)
    link = await accounts.issue_sign_in_link("a@example.fr")
    assert link is not None
    session = await accounts.exchange_sign_in_link(link)
    async with app_engine.connect() as connection:
        stored_links = (await connection.execute(select(sign_in_links.c.token_hash))).scalars()
        stored_sessions = (await connection.execute(select(sessions.c.token_hash))).scalars()
        assert list(stored_links) == [hash_token(link)]
        assert list(stored_sessions) == [hash_token(session)]


async def test_expired_link_and_session_are_refused(accounts: Accounts, clock: Clock) -> None:
    await accounts.create(email="b@example.fr", display_name="B", role=Role.CANDIDATE)
    late = await accounts.issue_sign_in_link("b@example.fr")
    assert late is not None
    clock.advance(dt.timedelta(minutes=15, seconds=1))
    with refused(ErrorCode.SIGN_IN_LINK_INVALID):
        await accounts.exchange_sign_in_link(late)

    link = await accounts.issue_sign_in_link("b@example.fr")
    assert link is not None
    session = await accounts.exchange_sign_in_link(link)
    clock.advance(dt.timedelta(hours=11, minutes=59))
    await accounts.authenticate(session)
    clock.advance(dt.timedelta(minutes=2))
    with refused(ErrorCode.SESSION_INVALID):
        await accounts.authenticate(session)


async def test_unknown_tokens_and_addresses_reveal_nothing(accounts: Accounts) -> None:
    assert await accounts.issue_sign_in_link("personne@example.fr") is None
    with refused(ErrorCode.SIGN_IN_LINK_INVALID):
        await accounts.exchange_sign_in_link("not-a-token")
    with refused(ErrorCode.SESSION_INVALID):
        await accounts.authenticate("not-a-token")


async def test_revoked_session_and_disabled_account(accounts: Accounts) -> None:
    account = await accounts.create(email="c@example.fr", display_name="C", role=Role.CANDIDATE)
    first = await accounts.open_session(account.account_id)
    second = await accounts.open_session(account.account_id)
    await accounts.revoke_session(first)
    await accounts.revoke_session(first)
    with refused(ErrorCode.SESSION_INVALID):
        await accounts.authenticate(first)
    await accounts.authenticate(second)
    await accounts.disable(account.account_id)
    with refused(ErrorCode.SESSION_INVALID):
        await accounts.authenticate(second)
    assert await accounts.issue_sign_in_link("c@example.fr") is None


async def test_concurrent_exchanges_of_one_link_open_one_session(accounts: Accounts) -> None:
    await accounts.create(email="d@example.fr", display_name="D", role=Role.CANDIDATE)
    link = await accounts.issue_sign_in_link("d@example.fr")
    assert link is not None
    results = await asyncio.gather(
        *(accounts.exchange_sign_in_link(link) for _ in range(5)), return_exceptions=True
    )
    opened = [r for r in results if isinstance(r, str)]
    assert len(opened) == 1
    assert all(
        isinstance(r, DomainError) and r.code == ErrorCode.SIGN_IN_LINK_INVALID
        for r in results
        if not isinstance(r, str)
    )


async def test_staff_scopes(accounts: Accounts) -> None:
    agent = await accounts.create(
        email="agent@oise.example.fr",
        display_name="Agent",
        role=Role.PREFECTURE,
        departements=["60", "02", "60"],
    )
    assert agent.departements == ["02", "60"]
    _, actor = await accounts.authenticate(await accounts.open_session(agent.account_id))
    assert actor.departements == ["02", "60"]
    with refused(ErrorCode.SCOPE_REQUIRED):
        await accounts.create(email="x@example.fr", display_name="X", role=Role.PREFECTURE)
    with refused(ErrorCode.INVALID_DEPARTEMENT):
        await accounts.create(
            email="y@example.fr", display_name="Y", role=Role.PREFECTURE, departements=["20"]
        )
    with refused(ErrorCode.ACCOUNT_EXISTS):
        await accounts.create(email="AGENT@oise.example.fr", display_name="Z", role=Role.CNCCFP)


async def test_mandates(accounts: Accounts) -> None:
    third = await accounts.create(email="t@example.fr", display_name="T", role=Role.THIRD_PARTY)
    await accounts.grant_mandate(
        case_id="case-municipales-2026-c1", account_id=third.account_id, document_id="doc1"
    )
    assert await accounts.mandated_cases(third.account_id) == ["case-municipales-2026-c1"]
    assert await accounts.holds_mandate(
        case_id="case-municipales-2026-c1", account_id=third.account_id
    )
    # A new third party on the case: both hold a mandate until the case accepts the new one.
    other = await accounts.create(email="u@example.fr", display_name="U", role=Role.THIRD_PARTY)
    await accounts.grant_mandate(
        case_id="case-municipales-2026-c1", account_id=other.account_id, document_id="doc2"
    )
    await accounts.end_other_mandates(case_id="case-municipales-2026-c1", keep=other.account_id)
    assert await accounts.mandated_cases(third.account_id) == []
    assert await accounts.mandated_cases(other.account_id) == ["case-municipales-2026-c1"]
    await accounts.revoke_mandate(case_id="case-municipales-2026-c1", account_id=other.account_id)
    assert not await accounts.holds_mandate(
        case_id="case-municipales-2026-c1", account_id=other.account_id
    )


async def test_sign_in_links_per_address_are_limited_each_hour(
    accounts: Accounts, clock: Clock
) -> None:
    await accounts.create(email="flood@example.fr", display_name="F", role=Role.CANDIDATE)
    limit = Settings(_env_file=None).sign_in_links_per_hour  # type: ignore[call-arg]
    issued = [await accounts.issue_sign_in_link("flood@example.fr") for _ in range(limit + 2)]
    assert all(issued[:limit]) and issued[limit:] == [None, None]
    clock.advance(dt.timedelta(hours=1, seconds=1))
    assert await accounts.issue_sign_in_link("flood@example.fr") is not None


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.PREFECTURE, Role.CNCCFP])
async def test_staff_never_get_an_emailed_link(accounts: Accounts, role: Role) -> None:
    staff = await accounts.create(
        email=f"{role.value}@interieur.example.test",
        display_name="Agent",
        role=role,
        departements=["60"] if role == Role.PREFECTURE else [],
    )
    assert await accounts.issue_sign_in_link(staff.email) is None


async def test_an_account_is_confirmed_by_its_link_and_named_by_its_owner(
    accounts: Accounts, clock: Clock
) -> None:
    account = await accounts.create(
        email="camille@example.fr", display_name="", role=Role.CANDIDATE
    )
    assert not account.confirmed and not account.name_confirmed
    # A session opened otherwise than by the emailed link confirms nothing.
    found, _ = await accounts.authenticate(await accounts.open_session(account.account_id))
    assert not found.confirmed
    link = await accounts.issue_sign_in_link(account.email)
    assert link is not None
    found, _ = await accounts.authenticate(await accounts.exchange_sign_in_link(link))
    assert found.confirmed and not found.name_confirmed
    await accounts.set_display_name(account.account_id, "  Camille Lefèvre ")
    named = await accounts.get(account.account_id)
    assert named is not None and named.name_confirmed and named.display_name == "Camille Lefèvre"
