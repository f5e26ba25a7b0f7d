"""Storage down at the moment of submission: the deposit is recorded at its time, and the
dossier is sealed (and its receipt sent) once storage is back. Nothing is lost.

The store is a real S3-compatible server (moto) on loopback, stopped and started again on the
same port; the worker's storage is the S3 backend, as in production.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from core.settings import Settings, StorageBackend
from core.storage import build_storage
from domain.contracts import AddExpenseLineInput, SubmitInput
from domain.stages import Action, Stage
from embedded.mailbox import MailServer
from embedded.temporal_server import free_port
from tests.helpers import (
    TestCaseClient,
    assert_eventually,
    candidate,
    running_worker,
    templates_of,
)
from tests.workflows.steps import line, recognised_open_space


class RestartableS3:
    """A moto S3 server that can be stopped and started again on the same port (its data
    lives in the process, so it survives the restart)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def s3() -> Iterator[RestartableS3]:
    server = RestartableS3()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def s3_cases(
    client: Client,
    settings: Settings,
    db_engine: AsyncEngine,
    task_queue: str,
    s3: RestartableS3,
) -> AsyncIterator[TestCaseClient]:
    s3_settings = settings.model_copy(
        update={
            "storage_backend": StorageBackend.S3,
            "s3_endpoint_url": s3.endpoint,
            "s3_bucket": f"secupol-{uuid.uuid4().hex[:16]}",
            "s3_access_key_id": "secupol-test",
            "s3_secret_access_key": SecretStr("secupol-test-secret"),
        }
    )
    storage = build_storage(s3_settings, db_engine, create_bucket=True)
    try:
        async with running_worker(client, s3_settings, db_engine, storage, task_queue) as cases:
            yield cases
    finally:
        await storage.aclose()


async def test_deposit_stands_while_storage_is_down_and_is_sealed_after(
    s3_cases: TestCaseClient, s3: RestartableS3, mail_server: MailServer
) -> None:
    cases = s3_cases
    case, case_id, invoice = await recognised_open_space(cases)
    me = candidate(case)
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(100_000, "F-1", invoice)),
    )

    s3.stop()
    state = await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    assert state.stage == Stage.SUBMITTED
    assert state.submitted_at is not None
    assert state.seal is None  # not yet: storage is down
    submitted_at = state.submitted_at

    s3.start()

    async def sealed_and_acknowledged() -> None:
        sealed = await cases.state(case_id)
        assert sealed.seal is not None
        assert sealed.submitted_at == submitted_at  # the deposit keeps its own time
        sent = mail_server.store.for_recipient(case.candidate.email)
        assert "deposit_acknowledged" in templates_of(sent)
        acknowledgement = sent[templates_of(sent).index("deposit_acknowledged")]
        attached = [part.get_content_type() for part in acknowledgement.iter_attachments()]
        assert attached == ["application/pdf"]

    await assert_eventually(sealed_and_acknowledged, timeout=60, interval=0.5)
