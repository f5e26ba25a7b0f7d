"""``python -m api.admin retention …`` on a SQLite database of its own and the session's
Temporal server: the dry-run listing, the purge of what is due (or of one case), the refusals."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client

from api.admin import run
from api.retention_admin import OUTCOME_LABELS
from core.accounts import Accounts
from core.db import (
    accounts,
    audit_log,
    case_closures,
    case_mandates,
    create_engine,
    documents,
    migrate,
)
from core.settings import Settings
from core.storage import DocumentStorage, build_storage
from domain.documents import DocumentKind
from domain.errors import MESSAGES, ErrorCode
from domain.retention import ClosureOutcome
from embedded.demo import sample_pdf
from tests.retention_records import count_rows, insert_closure, seed_case_records

NOW = dt.datetime.now(dt.UTC)
EMPTY = {"documents": 0, "case_messages": 0, "invoice_claims": 0, "email_outbox": 0}


POSTGRES_URL = os.environ.get("SECUPOL_TEST_POSTGRES_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database: a SQLite file, or a PostgreSQL database dropped after the test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'secupol.sqlite3'}"
        return
    name = f"secupol_retention_{uuid.uuid4().hex[:10]}"
    admin_engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin_engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        async with admin_engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin_engine.dispose()


@pytest.fixture
def cli_settings(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    temporal_address: str,
    client: Client,
    database_url: str,
) -> Settings:
    """The environment the command reads: a fresh database and the session's Temporal (up:
    ``client`` waited for it)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SECUPOL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SECUPOL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SECUPOL_DATABASE_URL", database_url)
    monkeypatch.setenv("SECUPOL_TEMPORAL_ADDRESS", temporal_address)
    return Settings()


@pytest.fixture
async def records(cli_settings: Settings) -> AsyncIterator[tuple[AsyncEngine, DocumentStorage]]:
    engine = create_engine(cli_settings)
    await migrate(engine)
    storage = build_storage(cli_settings, engine)
    try:
        yield engine, storage
    finally:
        await storage.aclose()
        await engine.dispose()


def _case_ids() -> tuple[str, str]:
    candidate_id = f"cand{uuid.uuid4().hex[:12]}"
    return f"case-retention-test-{candidate_id}", candidate_id


async def _closed_case(
    engine: AsyncEngine, storage: DocumentStorage, *, due_in: dt.timedelta
) -> tuple[str, str]:
    """A closed (withdrawn) case with records, due for purge ``due_in`` from now; its id and its
    document's object key."""
    case_id, candidate_id = _case_ids()
    key = await seed_case_records(engine, storage, case_id, candidate_id)
    await insert_closure(
        engine, case_id, ClosureOutcome.WITHDRAWN, NOW - dt.timedelta(days=400), NOW + due_in
    )
    return case_id, key


async def admin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = await run(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


async def test_list_and_dry_run_show_due_cases_without_personal_data_and_change_nothing(
    records: tuple[AsyncEngine, DocumentStorage], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, storage = records
    due, due_key = await _closed_case(engine, storage, due_in=-dt.timedelta(days=35))
    later, _ = await _closed_case(engine, storage, due_in=dt.timedelta(days=30))

    for argv in (("retention", "list"), ("retention", "purge", "--dry-run")):
        status, out, _ = await admin(capsys, *argv)
        assert status == 0
        line = next(line for line in out.splitlines() if due in line)
        assert "retiré" in line
        assert "purge prévue le" in line
        assert later not in out
        assert "@" not in out and "Camille" not in out and "facture" not in out
    assert (await count_rows(engine, due))["documents"] == 1
    assert await storage.store.exists(due_key)


async def test_purge_removes_due_cases_records_and_documents_and_audits_each(
    records: tuple[AsyncEngine, DocumentStorage], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, storage = records
    due, due_key = await _closed_case(engine, storage, due_in=-dt.timedelta(days=1))
    later, later_key = await _closed_case(engine, storage, due_in=dt.timedelta(days=30))

    status, out, _ = await admin(capsys, "retention", "purge")
    assert status == 0
    assert f"{due}  purgé : 1 document(s), 1 fichier(s), 1 message(s)" in out
    assert later not in out
    assert await count_rows(engine, due) == EMPTY
    assert not await storage.store.exists(due_key)
    assert (await count_rows(engine, later))["documents"] == 1
    assert await storage.store.exists(later_key)
    async with engine.connect() as connection:
        audited = (
            await connection.execute(
                select(audit_log.c.action, audit_log.c.actor_id, audit_log.c.outcome).where(
                    audit_log.c.case_id == due
                )
            )
        ).all()
        purged_at = (
            await connection.execute(
                select(case_closures.c.purged_at).where(case_closures.c.case_id == due)
            )
        ).scalar_one()
    assert [tuple(row) for row in audited] == [("purge", "admin-cli", "ok")]
    assert purged_at is not None

    # Purged once: a second purge of the same case says so and changes nothing.
    status, out, _ = await admin(capsys, "retention", "purge", "--case-id", due)
    assert status == 0
    assert "Dossiers à purger : 0" in out


async def test_one_case_before_its_due_date_only_when_asked(
    records: tuple[AsyncEngine, DocumentStorage], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, storage = records
    later, later_key = await _closed_case(engine, storage, due_in=dt.timedelta(days=30))

    status, _, err = await admin(capsys, "retention", "purge", "--case-id", later)
    assert status == 2
    assert MESSAGES[ErrorCode.RETENTION_NOT_DUE] in err
    assert (await count_rows(engine, later))["documents"] == 1

    status, out, _ = await admin(
        capsys, "retention", "purge", "--case-id", later, "--before-due", "--dry-run"
    )
    assert status == 0
    assert later in out
    assert await storage.store.exists(later_key)

    status, out, _ = await admin(capsys, "retention", "purge", "--case-id", later, "--before-due")
    assert status == 0
    assert f"{later}  purgé" in out
    assert await count_rows(engine, later) == EMPTY
    assert not await storage.store.exists(later_key)


async def test_refusals(
    records: tuple[AsyncEngine, DocumentStorage], capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = await admin(capsys, "retention", "purge", "--before-due")
    assert status == 2
    assert MESSAGES[ErrorCode.INVALID_INPUT] in err

    status, _, err = await admin(capsys, "retention", "purge", "--case-id", "case-inconnu-x1")
    assert status == 2
    assert MESSAGES[ErrorCode.CASE_NOT_CLOSED] in err


async def test_schedule_is_shown(
    records: tuple[AsyncEngine, DocumentStorage], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = await admin(capsys, "retention", "schedule")
    assert status == 0
    assert out.startswith(("Planification", "Aucune purge planifiée"))


async def test_a_file_shared_with_another_case_and_accounts_still_in_use_are_kept(
    records: tuple[AsyncEngine, DocumentStorage], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, storage = records
    first, _ = await _closed_case(engine, storage, due_in=-dt.timedelta(days=1))
    second, _ = await _closed_case(engine, storage, due_in=dt.timedelta(days=30))
    data = sample_pdf(f"piece commune {uuid.uuid4().hex}")
    shared = []
    for case_id in (first, second):

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        info = await storage.ingest(
            case_id=case_id,
            kind=DocumentKind.INVOICE,
            filename="commune.pdf",
            uploaded_by="test",
            chunks=chunks(),
        )
        shared.append(info.document_id)
    async with engine.connect() as connection:
        shared_key = (
            await connection.execute(
                select(documents.c.object_key).where(documents.c.document_id == shared[0])
            )
        ).scalar_one()
    # A third party mandated on both cases, and a staff account.
    accounts_store = Accounts(engine, Settings(_env_file=None))  # type: ignore[call-arg]
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as connection:
        await connection.execute(
            insert(accounts).values(
                account_id="tiers1",
                email="tiers1@example.test",
                display_name="Dominique Tiers",
                role="third_party",
                created_at=now,
            )
        )
        for case_id in (first, second):
            await connection.execute(
                insert(case_mandates).values(
                    case_id=case_id,
                    account_id="tiers1",
                    mandate_document_id="doc-mandat",
                    granted_at=now,
                )
            )

    status, _, _ = await admin(capsys, "retention", "purge")
    assert status == 0
    assert await storage.store.exists(shared_key)
    assert await accounts_store.get("tiers1") is not None

    status, out, _ = await admin(capsys, "retention", "purge", "--case-id", second, "--before-due")
    assert status == 0
    assert "2 compte(s)" in out  # the candidate's and the third party's
    assert not await storage.store.exists(shared_key)
    assert await accounts_store.get("tiers1") is None


async def test_list_shows_cases_with_records_but_neither_execution_nor_closure(
    records: tuple[AsyncEngine, DocumentStorage], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, storage = records
    forgotten, candidate_id = _case_ids()
    await seed_case_records(engine, storage, forgotten, candidate_id)
    closed, _ = await _closed_case(engine, storage, due_in=dt.timedelta(days=30))

    status, out, _ = await admin(capsys, "retention", "list")
    assert status == 0
    assert "À examiner : 1 dossier(s)" in out
    assert f"  {forgotten}" in out
    assert closed not in out
    assert (await count_rows(engine, forgotten))["documents"] == 1


def test_every_outcome_has_its_label() -> None:
    # Cases' and élus' procedures' outcomes alike: ``retention list`` prints each.
    assert set(OUTCOME_LABELS) == {outcome.value for outcome in ClosureOutcome}
