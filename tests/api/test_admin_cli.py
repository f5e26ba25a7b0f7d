"""``python -m api.admin`` on a real SQLite database of its own (no Temporal, no API server)."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.admin import run
from api.staff import election_exists
from core.accounts import Accounts
from core.db import audit_log, create_engine, elections, migrate, prefectures
from core.elus import collectivites_of
from core.settings import Settings
from domain.calendar import PARIS, deposit_deadline
from domain.elections import ElectionType, is_covered
from domain.errors import MESSAGES, DomainError, ErrorCode
from domain.stages import Role

REPO = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r"^  jeton +: (\S+)$", re.MULTILINE)


@pytest.fixture
def admin_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment the command reads: a fresh SQLite file, no developer `.env` or variables."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SECUPOL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SECUPOL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(
        "SECUPOL_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'secupol.sqlite3'}"
    )
    return Settings()


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[tuple[AsyncEngine, Accounts]]:
    engine = create_engine(settings)
    try:
        yield engine, Accounts(engine, settings)
    finally:
        await engine.dispose()


async def admin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command; its status, stdout and stderr."""
    capsys.readouterr()
    status = await run(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def only_token(out: str) -> str:
    tokens = TOKEN.findall(out)
    assert len(tokens) == 1, out
    token: str = tokens[0]
    return token


def assert_refused(status: int, out: str, err: str, message: str) -> None:
    assert status == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


async def test_create_staff_prints_a_token_that_authenticates(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = await admin(
        capsys,
        "create-staff",
        "--email", "Agent.Oise@Interieur.example.test",
        "--name", "Agent de l'Oise",
        "--role", "prefecture",
        "--departement", "75",
        "--departement", "60",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert "n'est affiché qu'une fois" in out
    assert "Authorization: Bearer <jeton>" in out
    assert "dans 90 jours" in out
    async with database(admin_settings) as (_, accounts):
        account, actor = await accounts.authenticate(only_token(out))
    assert account.email == "agent.oise@interieur.example.test"
    assert account.account_id in out
    assert actor.role == Role.PREFECTURE
    assert actor.departements == ["60", "75"]


async def test_a_prefecture_agent_needs_a_departement(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = await admin(
        capsys, "create-staff", "--email", "agent@interieur.example.test", "--name", "Agent",
        "--role", "prefecture",
    )  # fmt: skip
    assert_refused(status, out, err, MESSAGES[ErrorCode.SCOPE_REQUIRED])
    async with database(admin_settings) as (_, accounts):
        assert await accounts.find_by_email("agent@interieur.example.test") is None


async def test_an_address_has_one_account(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    create = ("create-staff", "--name", "Rapporteur", "--role", "cnccfp", "--email")
    status, _, _ = await admin(capsys, *create, "rapporteur@cnccfp.example.test")
    assert status == 0
    status, out, err = await admin(capsys, *create, "Rapporteur@CNCCFP.example.test")
    assert_refused(status, out, err, MESSAGES[ErrorCode.ACCOUNT_EXISTS])


async def test_refused_inputs_create_nothing(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = await admin(
        capsys, "create-staff", "--email", "pas-une-adresse", "--name", "X", "--role", "admin"
    )
    assert_refused(status, out, err, MESSAGES[ErrorCode.INVALID_EMAIL])
    status, out, err = await admin(
        capsys, "create-staff", "--email", "x@example.test", "--name", "  ", "--role", "admin"
    )
    assert_refused(status, out, err, "Le nom est obligatoire.")
    status, out, err = await admin(
        capsys, "create-staff", "--email", "x@example.test", "--name", "X", "--role", "admin",
        "--departement", "60",
    )  # fmt: skip
    assert_refused(status, out, err, "Seuls les agents de préfecture")
    async with database(admin_settings) as (_, accounts):
        assert await accounts.find_by_email("x@example.test") is None


async def test_new_token_adds_a_session(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    email = "exploitation@example.test"
    _, out, _ = await admin(
        capsys, "create-staff", "--email", email, "--name", "Exploitation", "--role", "operator"
    )
    first = only_token(out)
    status, out, err = await admin(capsys, "new-token", "--email", email.upper())
    assert (status, err) == (0, "")
    second = only_token(out)
    assert second != first
    async with database(admin_settings) as (_, accounts):
        for token in (first, second):
            account, actor = await accounts.authenticate(token)
            assert (account.email, actor.role) == (email, Role.OPERATOR)


async def test_new_token_is_for_staff_accounts_only(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with database(admin_settings) as (engine, accounts):
        await migrate(engine)
        await accounts.create(
            email="candidate@example.test", display_name="Camille", role=Role.CANDIDATE
        )
    status, out, err = await admin(capsys, "new-token", "--email", "candidate@example.test")
    assert_refused(status, out, err, "lien reçu par courriel")
    status, out, err = await admin(capsys, "new-token", "--email", "nobody@example.test")
    assert_refused(status, out, err, MESSAGES[ErrorCode.ACCOUNT_NOT_FOUND])


async def test_disable_ends_the_sessions(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    email = "admin@example.test"
    _, out, _ = await admin(
        capsys, "create-staff", "--email", email, "--name", "Admin", "--role", "admin"
    )
    token = only_token(out)
    status, out, err = await admin(capsys, "disable", "--email", email)
    assert (status, err) == (0, "")
    assert "Compte désactivé" in out
    async with database(admin_settings) as (_, accounts):
        with pytest.raises(DomainError) as refused:
            await accounts.authenticate(token)
        assert refused.value.code == ErrorCode.SESSION_INVALID
    status, out, _ = await admin(capsys, "disable", "--email", email)
    assert (status, "déjà désactivé" in out) == (0, True)
    status, out, err = await admin(capsys, "new-token", "--email", email)
    assert_refused(status, out, err, "désactivé")


async def test_set_prefecture(admin_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    for address in ("pref-2a@example.test", "courrier-2a@example.test"):
        status, _, err = await admin(
            capsys, "set-prefecture", "--departement", "2A", "--email", address
        )
        assert (status, err) == (0, "")
    async with database(admin_settings) as (engine, _), engine.connect() as connection:
        rows = (
            await connection.execute(select(prefectures.c.departement, prefectures.c.email))
        ).all()
    assert [tuple(row) for row in rows] == [("2A", "courrier-2a@example.test")]
    status, out, err = await admin(
        capsys, "set-prefecture", "--departement", "99", "--email", "x@example.test"
    )
    assert_refused(status, out, err, MESSAGES[ErrorCode.INVALID_DEPARTEMENT])


async def test_add_election(admin_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    election = ("add-election", "--type", "municipales", "--label", "Municipales partielles")
    status, out, err = await admin(
        capsys, *election, "--id", "partielles-2027", "--first-round", "2027-03-14",
        "--second-round", "2027-03-21",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert "dispositif     : applicable" in out
    assert "21/05/2027 à 18 h 00" in out
    status, out, err = await admin(
        capsys, *election, "--id", "inversee-2027", "--first-round", "2027-03-21",
        "--second-round", "2027-03-14",
    )  # fmt: skip
    assert_refused(status, out, err, "Le second tour doit suivre le premier.")
    status, out, err = await admin(
        capsys, *election, "--id", "partielles-2027", "--first-round", "2027-03-14"
    )
    assert_refused(status, out, err, MESSAGES[ErrorCode.ELECTION_EXISTS])
    async with database(admin_settings) as (engine, _):
        assert await election_exists(engine, "partielles-2027")
        assert not await election_exists(engine, "inversee-2027")


@pytest.mark.parametrize("election_type", [kind.value for kind in ElectionType])
async def test_add_election_coverage_follows_the_type(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str], election_type: str
) -> None:
    status, out, err = await admin(
        capsys, "add-election", "--id", f"{election_type}-2027", "--type", election_type,
        "--label", "Élection", "--first-round", "2027-03-14",
    )  # fmt: skip
    assert (status, err) == (0, "")
    covered = is_covered(election_type)
    assert f"dispositif     : {'applicable' if covered else 'non applicable'}" in out
    async with database(admin_settings) as (engine, _), engine.connect() as connection:
        row = (
            await connection.execute(
                select(elections.c.election_type, elections.c.covered).where(
                    elections.c.election_id == f"{election_type}-2027"
                )
            )
        ).one()
    assert tuple(row) == (election_type, covered)


async def test_add_election_has_no_coverage_override(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("add-election", "--id", "senat-2026", "--label", "Sénatoriales 2026",
            "--first-round", "2026-09-27")  # fmt: skip
    for flag in ("--covered", "--not-covered"):
        with pytest.raises(SystemExit) as usage:
            await admin(capsys, *base, "--type", "senatoriales", flag)
        assert usage.value.code == 2
        assert "unrecognized arguments" in capsys.readouterr().err
    status, out, err = await admin(capsys, *base, "--type", "Sénatoriales")
    assert_refused(status, out, err, "Type d'élection inconnu.")
    async with database(admin_settings) as (engine, _):
        assert not await election_exists(engine, "senat-2026")
        async with engine.connect() as connection:
            outcomes = (
                (
                    await connection.execute(
                        select(audit_log.c.outcome).where(audit_log.c.action == "cli_add_election")
                    )
                )
                .scalars()
                .all()
            )
    assert outcomes == [ErrorCode.INVALID_INPUT.value]


async def test_seed_demo_runs_twice(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, first, err = await admin(capsys, "seed-demo")
    assert (status, err) == (0, "")
    status, second, err = await admin(capsys, "seed-demo")
    assert (status, err) == (0, "")
    assert "existant, nouveau jeton" in second
    assert (
        "curl -X POST http://localhost:8000/auth/sign-in-links -H 'Content-Type: application/json'"
        ' -d \'{"email": "camille.martin@secupol.localhost"}\''
    ) in second
    assert "python -m embedded.mailbox show N" in second
    assert "http://localhost:8000/docs" in second
    assert "http://localhost:8000/espace-elus " in second
    assert "Compte élu — dominique.leroy@secupol.localhost (existant)" in second

    expected = {
        "admin@secupol.localhost": (Role.ADMIN, []),
        "rapporteur@secupol.localhost": (Role.CNCCFP, []),
        "agent-60@secupol.localhost": (Role.PREFECTURE, ["60"]),
        "exploitation@secupol.localhost": (Role.OPERATOR, []),
        "agent-beauvais@secupol.localhost": (Role.COLLECTIVITE, []),
    }
    first_round = dt.datetime.now(PARIS).date() - dt.timedelta(days=10)
    async with database(admin_settings) as (engine, accounts):
        for out in (first, second):  # the first run's tokens still work
            seen = {}
            for token in TOKEN.findall(out):
                account, actor = await accounts.authenticate(token)
                seen[account.email] = (actor.role, actor.departements)
            assert seen == expected
        candidate = await accounts.find_by_email("camille.martin@secupol.localhost")
        assert candidate is not None
        assert (candidate.role, candidate.display_name) == (
            Role.CANDIDATE,
            "Camille Martin (fictif)",
        )
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    select(elections).where(elections.c.election_id == "exercice-demo")
                )
            ).one()
            prefecture = (
                await connection.execute(
                    select(prefectures.c.email).where(prefectures.c.departement == "60")
                )
            ).scalar_one()
    assert (row.election_type, row.label, row.covered) == (
        "municipales",
        "Exercice (démonstration)",
        True,
    )
    assert (row.first_round, row.second_round) == (first_round, first_round + dt.timedelta(days=7))
    assert deposit_deadline(row.first_round) > dt.datetime.now(dt.UTC)
    assert prefecture == "prefecture-60@secupol.localhost"
    async with database(admin_settings) as (engine, accounts):
        staff = await accounts.find_by_email("agent-beauvais@secupol.localhost")
        official = await accounts.find_by_email("dominique.leroy@secupol.localhost")
        assert staff is not None and official is not None
        assert await collectivites_of(engine, staff.account_id) == ["commune-beauvais-demo"]
        assert official.role == Role.ELU


def test_the_module_exits_2_without_a_traceback(admin_settings: Settings, tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "api.admin", "create-staff", "--email", "agent@example.test",
         "--name", "Agent", "--role", "prefecture"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert MESSAGES[ErrorCode.SCOPE_REQUIRED] in done.stderr
    assert "Traceback" not in done.stderr


async def test_every_command_is_in_the_audit_log_without_its_token(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    create = ("create-staff", "--name", "Rapporteur", "--role", "cnccfp", "--email")
    status, out, _ = await admin(capsys, *create, "audit@cnccfp.example.test")
    assert status == 0
    status, _, _ = await admin(capsys, *create, "audit@cnccfp.example.test")
    assert status == 2
    async with database(admin_settings) as (engine, accounts):
        account = await accounts.find_by_email("audit@cnccfp.example.test")
        assert account is not None
        async with engine.connect() as connection:
            rows = (
                await connection.execute(select(audit_log).order_by(audit_log.c.entry_id))
            ).all()
    assert [(row.actor_id, row.actor_role, row.action, row.outcome) for row in rows] == [
        # The token minted is a sign-in of that account, which no identity provider saw.
        (account.account_id, "cnccfp", "sign_in_admin_token", "ok"),
        ("admin-cli", "admin", "cli_create_staff", "ok"),
        ("admin-cli", "admin", "cli_create_staff", "account_exists"),
    ]
    assert only_token(out) not in str([tuple(row) for row in rows])


async def test_each_token_minted_for_a_script_is_audited(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    email = "scripts@exploitation.example.test"
    status, _, _ = await admin(
        capsys, "create-staff", "--email", email, "--name", "Scripts", "--role", "operator"
    )
    assert status == 0
    for _ in range(2):
        status, out, _ = await admin(capsys, "new-token", "--email", email)
        assert status == 0
    status, _, _ = await admin(capsys, "new-token", "--email", "inconnu@example.test")
    assert status == 2
    async with database(admin_settings) as (engine, accounts):
        account = await accounts.find_by_email(email)
        assert account is not None
        async with engine.connect() as connection:
            minted = (
                await connection.execute(
                    select(audit_log.c.actor_id, audit_log.c.actor_role, audit_log.c.outcome)
                    .where(audit_log.c.action == "sign_in_admin_token")
                    .order_by(audit_log.c.entry_id)
                )
            ).all()
    # create-staff and both new-token: three tokens, three rows; the refusal minted none.
    assert [tuple(row) for row in minted] == [(account.account_id, "operator", "ok")] * 3
    assert only_token(out) not in str(minted)
