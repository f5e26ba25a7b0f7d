"""Helpers shared by the tests: polling instead of sleeping, case inputs, actors."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from email.message import EmailMessage
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from activities import open_activities
from core.cases import CaseClient
from core.settings import CnapsRegistryKind, Settings
from core.storage import DocumentStorage
from domain.contracts import (
    CURRENT_PROCEDURE_VERSION,
    Actor,
    CandidateContact,
    CasePolicy,
    ElectionInfo,
    OpenCaseInput,
    RequestEvaluationInput,
)
from domain.documents import DocumentKind
from domain.stages import Role
from embedded.demo import upload_sample
from embedded.temporal_server import free_port
from worker.run import build_worker

T = TypeVar("T")


@contextlib.asynccontextmanager
async def running_worker(
    client: Any,
    settings: Settings,
    engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
    **overrides: Any,
) -> AsyncIterator[TestCaseClient]:
    """A worker with the real activities on ``task_queue`` (settings changed by ``overrides``),
    and a client for its cases; the worker's storage and ``storage`` share the same store."""
    local = settings.model_copy(update={"task_queue": task_queue, **overrides})
    async with (
        open_activities(local, engine) as activities,
        build_worker(client, local, activities),
    ):
        yield TestCaseClient(client, task_queue, storage)


def unreachable_cnaps() -> dict[str, Any]:
    """Settings overrides of a worker whose CNAPS registry is an HTTP endpoint nobody listens on."""
    return {
        "cnaps_registry": CnapsRegistryKind.HTTP,
        "cnaps_http_url": f"http://127.0.0.1:{free_port()}/autorisations",
        "registry_timeout_s": 1.0,
    }


class TestCaseClient(CaseClient):
    """The case client, plus real uploads to the same storage the worker reads."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, client: Any, task_queue: str, storage: DocumentStorage):
        super().__init__(client, task_queue)
        self.storage = storage

    async def upload(
        self, case_id: str, kind: DocumentKind = DocumentKind.INVOICE, filename: str = "piece.pdf"
    ) -> str:
        """Store a unique real PDF for the case; returns its document id."""
        return await upload_sample(self.storage, case_id, kind, filename)


MUNICIPALES_2026 = ElectionInfo(
    election_id="municipales-2026",
    label="Élections municipales 2026",
    first_round=dt.date(2026, 3, 15),
    second_round=dt.date(2026, 3, 22),
)

CNCCFP = Actor(role=Role.CNCCFP, id="cnccfp-rapporteur-1")
OPERATOR = Actor(role=Role.OPERATOR, id="ops-1")
PREFECTURE_60 = Actor(role=Role.PREFECTURE, id="pref-60-agent-1", departements=["60"])
PREFECTURE_75 = Actor(role=Role.PREFECTURE, id="pref-75-agent-1", departements=["75"])


async def assert_eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 20.0, interval: float = 0.1
) -> T:
    """Poll ``check`` until it stops raising AssertionError; re-raise the last one at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(interval)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_case_input(
    *,
    deadline_in: dt.timedelta = dt.timedelta(days=30),
    policy: CasePolicy | None = None,
    departement: str = "60",
) -> OpenCaseInput:
    """A case with a unique candidate whose deposit deadline is ``deadline_in`` from now."""
    candidate_id = f"cand{uuid.uuid4().hex[:12]}"
    return OpenCaseInput(
        election=MUNICIPALES_2026,
        candidate_id=candidate_id,
        candidate=CandidateContact(name="Camille Martin", email=f"{candidate_id}@example.test"),
        departement=departement,
        prefecture_email=f"pref-{candidate_id}@interieur.example.test",
        candidacy_declared_on=dt.date(2025, 10, 1),
        deposit_deadline=utcnow() + deadline_in,
        policy=policy or CasePolicy(reminder_offsets=[]),
        cnccfp_email="cnccfp@cnccfp.example.test",
        procedure_version=CURRENT_PROCEDURE_VERSION,
    )


def candidate(case: OpenCaseInput) -> Actor:
    return Actor(role=Role.CANDIDATE, id=case.candidate_id)


def evaluation_request(case: OpenCaseInput) -> RequestEvaluationInput:
    return RequestEvaluationInput(
        actor=candidate(case),
        complaint_document_refs=["doc-plainte-1"],
        candidacy_proof_ref="doc-declaration-1",
    )


def templates_of(messages: list[EmailMessage]) -> list[str]:
    """The secupol template of each message (from its X-Secupol-Template header or subject)."""
    return [str(message.get("X-Secupol-Template", message["Subject"])) for message in messages]


def paris_today() -> dt.date:
    """Today in Paris, as the workflow sees it."""
    from domain.calendar import PARIS

    return dt.datetime.now(PARIS).date()
