"""A submission that outlasts the request: the API answers 503 "check the case", leaves the audit
row ``pending``, and completes it once the deposit is known to stand.

The seal is made slow by a fake ``seal_dossier`` (registered under the real activity's name) that
waits for the test's go before sealing with the real activity: no real component can be made to
take longer than the API's wait on purpose. Two API replicas share the database and the task
queue: one with the usual wait brings the case to its deposit, one that waits one second sends the
submission.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio import activity
from temporalio.client import Client

from activities import open_activities
from api import audit
from api.main import create_app
from api.serving import serving
from core.db import audit_log, create_engine, migrate
from core.settings import Settings
from core.storage import build_storage
from domain.contracts import Actor, SealDossierInput, SealDossierResult
from domain.documents import DocumentKind
from domain.stages import Role
from embedded.mailbox import MailServer
from embedded.temporal_server import free_port
from tests.api.conftest import BACKENDS, ApiStack, _database_url, _drop_database, _seed
from tests.api.flow import (
    act,
    expense_line,
    new_email,
    open_case,
    open_space,
    record_evaluation,
    upload,
)
from tests.helpers import TestCaseClient, assert_eventually
from worker.run import build_worker


@dataclass
class SlowSeal:
    """The stack, the base URL of the impatient replica, and the go of the held seals."""

    stack: ApiStack
    impatient_url: str
    release: asyncio.Event
    sealing: asyncio.Event
    """Set once a seal has started (the submission reached the workflow)."""


def held_seal(
    real: Callable[..., Any], release: asyncio.Event, sealing: asyncio.Event
) -> Callable[..., Any]:
    @activity.defn(name="seal_dossier")
    async def seal_dossier(input: SealDossierInput) -> SealDossierResult:
        sealing.set()
        await release.wait()
        result: SealDossierResult = await real(input)
        return result

    return seal_dossier


@contextlib.asynccontextmanager
async def slow_seal_stack(
    backend: str, directory: Path, settings: Settings, client: Client, mail_server: MailServer
) -> AsyncIterator[SlowSeal]:
    url, database = await _database_url(backend, directory)
    port, impatient_port = free_port(), free_port()
    local = settings.model_copy(
        update={
            "data_dir": directory,
            "database_url": url,
            "task_queue": f"seal-{uuid.uuid4().hex[:10]}",
            "api_port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "sign_in_links_per_hour": 50,
            "api_request_timeout_s": 30.0,
        }
    )
    impatient = local.model_copy(update={"api_port": impatient_port, "api_request_timeout_s": 1.0})
    release, sealing = asyncio.Event(), asyncio.Event()
    engine = create_engine(local)
    try:
        await migrate(engine)
        storage = build_storage(local, engine)
        async with open_activities(local, engine) as activities:
            registered = [
                held_seal(found, release, sealing) if found.__name__ == "seal_dossier" else found
                for found in activities
            ]
            async with (
                build_worker(client, local, registered),
                serving(create_app(local), port) as base_url,
                serving(create_app(impatient), impatient_port) as impatient_url,
            ):
                stack = ApiStack(
                    backend=backend,
                    base_url=base_url,
                    settings=local,
                    engine=engine,
                    mail=mail_server,
                    cases=TestCaseClient(client, local.task_queue, storage),
                    election_id=f"depot-{uuid.uuid4().hex[:8]}",
                    first_round=dt.date.today() - dt.timedelta(days=10),
                )
                await _seed(stack)
                try:
                    yield SlowSeal(stack, impatient_url, release, sealing)
                finally:
                    release.set()  # the worker stops with no seal held
        await storage.aclose()
    finally:
        await engine.dispose()
        if database is not None:
            await _drop_database(database)


@pytest.fixture(params=BACKENDS)
async def slow(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    settings: Settings,
    client: Client,
    mail_server: MailServer,
) -> AsyncIterator[SlowSeal]:
    async with slow_seal_stack(request.param, tmp_path, settings, client, mail_server) as stack:
        yield stack


async def submission_rows(stack: ApiStack, case_id: str) -> list[str]:
    async with stack.engine.connect() as connection:
        rows = await connection.execute(
            select(audit_log.c.outcome)
            .where(audit_log.c.case_id == case_id, audit_log.c.action == "submit")
            .order_by(audit_log.c.entry_id)
        )
        return list(rows.scalars())


async def test_a_submission_longer_than_the_request_is_pending_then_ok(slow: SlowSeal) -> None:
    stack = slow.stack
    token = await stack.sign_in(new_email())
    case_id = (await open_case(stack, token))["case_id"]
    await record_evaluation(stack, case_id)
    await open_space(stack, token, case_id)
    async with stack.http(token) as http:
        invoice = await upload(http, case_id, DocumentKind.INVOICE, "F-001.pdf")
        await act(http, "POST", f"/cases/{case_id}/expense-lines", expense_line(stack, invoice))

    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "depot-1"}
    async with stack.http() as impatient:
        response = await impatient.post(
            f"{slow.impatient_url}/cases/{case_id}/submission",
            json={"rounds_attended": 1},
            headers=headers,
        )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert "peut-être été enregistrée" in body["detail"]
    assert "Consultez le dossier" in body["detail"]
    assert "Idempotency-Key" in body["detail"]
    # The API cannot know yet: the row says so, and the submission did reach the case.
    assert await submission_rows(stack, case_id) == ["pending"]
    await asyncio.wait_for(slow.sealing.wait(), timeout=60)
    assert await submission_rows(stack, case_id) == ["pending"]

    slow.release.set()

    async def completed() -> None:
        assert await submission_rows(stack, case_id) == ["ok"]

    await assert_eventually(completed, timeout=60)
    async with stack.http(token) as http:
        case = await act(http, "GET", f"/cases/{case_id}")
        assert case["stage"] == "submitted"
        assert case["submitted_at"] is not None
        # The retry the answer invites is safe: the same key, the deposit once.
        again = await http.post(
            f"/cases/{case_id}/submission", json={"rounds_attended": 1}, headers=headers
        )
        assert again.status_code == 200, again.text
        assert again.json()["submitted_at"] == case["submitted_at"]
    assert await submission_rows(stack, case_id) == ["ok", "ok"]


async def test_watches_stop_at_shutdown_and_leave_their_rows_pending(
    settings: Settings, tmp_path: Path
) -> None:
    local = settings.model_copy(update={"data_dir": tmp_path, "database_url": None})
    engine = create_engine(local)
    try:
        await migrate(engine)
        entry = await audit.begin(engine, Actor(role=Role.CANDIDATE, id="c1"), "submit")
        watcher = audit.OutcomeWatcher(engine)
        never = asyncio.Event()

        async def fetch() -> str | None:
            await never.wait()
            return audit.OK

        watcher.watch(entry, fetch)
        assert watcher.watching == 1
        await watcher.aclose()
        assert watcher.watching == 0
        async with engine.connect() as connection:
            outcome = (
                await connection.execute(
                    select(audit_log.c.outcome).where(audit_log.c.entry_id == entry)
                )
            ).scalar_one()
        assert outcome == "pending"
    finally:
        await engine.dispose()
