"""``worker_role``: a process for the cases' workflow tasks and another for their activities.

The two processes are ``run_worker``, the worker's own entry point, on one task queue: each polls
only its kind of task, and a case goes from its opening to a sealed deposit across both, its
emails sent once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError

import worker.run
from activities import open_activities
from core.settings import Settings, WorkerRole
from core.storage import DocumentStorage
from core.telemetry import runtime_for
from domain.contracts import AddExpenseLineInput, SubmitInput
from domain.ids import case_workflow_id
from domain.retention import RETENTION_SCHEDULE_ID
from domain.stages import Action, Stage
from embedded.mailbox import MailServer
from embedded.temporal_server import free_port
from tests.helpers import (
    TestCaseClient,
    assert_eventually,
    candidate,
    evaluation_request,
    new_case_input,
    templates_of,
)
from tests.workflows.steps import line, recognised_open_space
from worker.run import build_worker, run_worker
from workflows import WORKFLOWS


async def test_each_role_registers_only_its_kind_of_task(
    client: Client, settings: Settings, db_engine: AsyncEngine
) -> None:
    async with open_activities(settings, db_engine) as activities:
        for role, workflows, registered in (
            (WorkerRole.ALL, len(WORKFLOWS), len(activities)),
            (WorkerRole.WORKFLOWS, len(WORKFLOWS), 0),
            (WorkerRole.ACTIVITIES, 0, len(activities)),
        ):
            # One task queue each: the SDK refuses two workers of one process and client whose
            # task types overlap on a queue.
            local = settings.model_copy(
                update={"worker_role": role, "task_queue": f"roles-{uuid.uuid4().hex[:8]}"}
            )
            config = build_worker(client, local, activities).config()
            assert len(config.get("workflows", [])) == workflows, role
            assert len(config.get("activities", [])) == registered, role


@contextlib.asynccontextmanager
async def worker_process(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """``run_worker`` for ``settings`` until the block ends, then its orderly stop; its SDK
    metrics on a runtime of its own, as in a process of its own."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop, runtime=runtime_for(settings)))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)


async def slot_kinds(settings: Settings) -> set[str]:
    """The ``worker_type`` of the task slots a worker reports on its task queue: what the alert
    rules read (``SecupolWorkerDown``, ``SecupolActivityWorkerDown``)."""
    async with httpx.AsyncClient(timeout=10) as http:
        page = (await http.get(f"http://{settings.worker_metrics_address}/metrics")).text
    return {
        match.group(1)
        for line in page.splitlines()
        if line.startswith("temporal_worker_task_slots_available{")
        and f'task_queue="{settings.task_queue}"' in line
        and (match := re.search(r'worker_type="([A-Za-z]+)"', line))
    }


async def test_a_case_runs_on_a_workflow_worker_and_an_activity_worker(
    client: Client,
    settings: Settings,
    task_queue: str,
    mail_server: MailServer,
    storage: DocumentStorage,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker.run, "ACTIVITY_POLLERS_CHECK_S", 0.3)
    caplog.set_level(logging.ERROR, logger="secupol.worker")
    base = settings.model_copy(
        update={
            "task_queue": task_queue,
            "worker_metrics_address": None,
            "retention_schedule_enabled": False,
        }
    )
    # A workflow worker opens no database: this one's URL leads nowhere.
    nowhere = f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none"
    workflows_only = base.model_copy(
        update={
            "worker_role": WorkerRole.WORKFLOWS,
            "database_url": nowhere,
            "worker_metrics_address": f"127.0.0.1:{free_port()}",
        }
    )
    activities_only = base.model_copy(
        update={
            "worker_role": WorkerRole.ACTIVITIES,
            "worker_metrics_address": f"127.0.0.1:{free_port()}",
        }
    )
    cases = TestCaseClient(client, task_queue, storage)
    case = new_case_input()
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    try:
        async with worker_process(workflows_only) as workflow_worker:
            await cases.open_case(case, evaluation_request(case))
            # The case answers (its workflow task ran) but its email waits for an activity
            # worker: scheduled, not sent.
            assert (await cases.state(case_id)).stage == Stage.EVALUATION_REQUESTED

            async def email_waiting() -> None:
                description = await cases.handle(case_id).describe()
                pending = description.raw_description.pending_activities
                assert [a.activity_type.name for a in pending] == ["send_email"]

            await assert_eventually(email_waiting)

            async def told_nobody_runs_activities() -> None:
                assert any(
                    "no worker polls the activities" in record.getMessage()
                    for record in caplog.records
                )

            await assert_eventually(told_nobody_runs_activities)
            assert mail_server.store.for_recipient(case.prefecture_email) == []
            assert not workflow_worker.done()
            assert "ActivityWorker" not in await slot_kinds(workflows_only)

            async with worker_process(activities_only):

                async def email_sent() -> None:
                    to_prefecture = mail_server.store.for_recipient(case.prefecture_email)
                    assert templates_of(to_prefecture) == ["evaluation_requested"]

                await assert_eventually(email_sent, timeout=30)
                assert "WorkflowWorker" in await slot_kinds(workflows_only)
                kinds = await slot_kinds(activities_only)
                assert "ActivityWorker" in kinds and "WorkflowWorker" not in kinds
                caplog.clear()
                await asyncio.sleep(1)  # three checks, with an activity worker polling
                assert not any(
                    "no worker polls" in record.getMessage() for record in caplog.records
                )
                # Then a whole deposit: updates on one process, the seal on the other.
                space_case, space_id, invoice = await recognised_open_space(cases)
                me = candidate(space_case)
                await cases.act(
                    space_id,
                    Action.ADD_EXPENSE_LINE,
                    AddExpenseLineInput(actor=me, line=line(10_000, "F-1", invoice)),
                )
                state = await cases.act(
                    space_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1)
                )
                assert state.stage == Stage.SUBMITTED
                assert state.seal is not None
        assert templates_of(mail_server.store.for_recipient(case.prefecture_email)) == [
            "evaluation_requested"
        ]
    finally:
        with contextlib.suppress(RPCError):
            await client.get_schedule_handle(RETENTION_SCHEDULE_ID).delete()
