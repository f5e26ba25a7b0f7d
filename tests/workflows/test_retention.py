"""The retention purge on a real dev server of its own: a withdrawn case with a zero delay is
purged by ``RetentionPurgeWorkflow`` (rows, document objects, account, Temporal executions), an
open case is left alone, closed élus' procedures are purged the same way (an official with
another procedure keeps their account), and the Schedule is created once and runs the same
workflow.

The server is this module's own so that the scan of closed cases sees only these cases (the
session's server holds every other test's closed cases, which a zero delay would purge).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.service import RPCError, RPCStatusCode

from core.db import accounts, audit_log, case_closures
from core.elus import ElusClient
from core.retention import PURGE_ACTION, SCHEDULE_DISABLED_NOTE, ensure_schedule
from core.settings import Settings
from core.storage import DocumentStorage
from core.temporal import connect_when_ready
from domain.contracts import WithdrawInput
from domain.elus import (
    ElusAction,
    ElusActor,
    ElusStage,
    Procedure,
    RecordReturnInput,
    WithdrawStateProtectionInput,
)
from domain.ids import case_workflow_id
from domain.retention import (
    RETENTION_ACTOR_ID,
    RETENTION_SCHEDULE_ID,
    RETENTION_WORKFLOW_TYPE,
    ClosureOutcome,
    RetentionPurgeInput,
    RetentionPurgeResult,
)
from domain.stages import Action, Role, Stage
from embedded.temporal_server import running_dev_server
from tests.elus_helpers import (
    PREFECTURE_60,
    loan_decision,
    official,
    reference,
    state_protection_request,
)
from tests.helpers import (
    TestCaseClient,
    assert_eventually,
    candidate,
    evaluation_request,
    new_case_input,
    paris_today,
    running_worker,
    utcnow,
)
from tests.retention_records import count_rows, seed_case_records
from worker.run import run_worker

FAST_DELETION = [
    # The server deletes an execution from its transfer queue, which it polls every few tens of
    # seconds by default; polled every second, a deletion shows within seconds.
    "--dynamic-config-value",
    'history.transferProcessorMaxPollInterval="1s"',
    "--dynamic-config-value",
    'history.transferProcessorUpdateAckInterval="1s"',
]


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_dev_server(tmp_path_factory.mktemp("retention"), FAST_DELETION) as address:
        yield address


@pytest.fixture(scope="module")
async def client(settings: Settings, own_server: str) -> Client:
    """This module's server (``record_history`` reads the histories through this name)."""
    return await connect_when_ready(settings.model_copy(update={"temporal_address": own_server}))


@pytest.fixture
async def purge_cases(
    client: Client,
    settings: Settings,
    own_server: str,
    db_engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
) -> AsyncIterator[TestCaseClient]:
    """A worker whose withdrawn cases are due for purge as soon as they close."""
    async with running_worker(
        client,
        settings,
        db_engine,
        storage,
        task_queue,
        temporal_address=own_server,
        retention_days_withdrawn=0,
    ) as cases:
        yield cases


async def _gone(client: Client, case_id: str) -> None:
    try:
        await client.get_workflow_handle(case_id).describe()
    except RPCError as error:
        assert error.status == RPCStatusCode.NOT_FOUND
    else:
        raise AssertionError("the case's execution is still there")
    assert [
        execution async for execution in client.list_workflows(f"WorkflowId = '{case_id}'")
    ] == []


async def _run_purge(client: Client, task_queue: str) -> RetentionPurgeResult:
    result: RetentionPurgeResult = await client.execute_workflow(
        RETENTION_WORKFLOW_TYPE,
        RetentionPurgeInput(batch_size=10),
        id=f"retention-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=RetentionPurgeResult,
    )
    return result


@pytest.mark.record_history("retention_purge")
async def test_a_closed_case_past_its_delay_is_purged_and_an_open_one_is_kept(
    purge_cases: TestCaseClient,
    client: Client,
    db_engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
) -> None:
    closing = new_case_input()
    closing_id = case_workflow_id(closing.election.election_id, closing.candidate_id)
    staying = new_case_input()
    staying_id = case_workflow_id(staying.election.election_id, staying.candidate_id)
    for case in (closing, staying):
        await purge_cases.open_case(case, evaluation_request(case))
    object_key = await seed_case_records(db_engine, storage, closing_id, closing.candidate_id)
    await seed_case_records(db_engine, storage, staying_id, staying.candidate_id)
    state = await purge_cases.act(
        closing_id, Action.WITHDRAW, WithdrawInput(actor=candidate(closing), reason="Je renonce.")
    )
    assert state.stage == Stage.WITHDRAWN
    await purge_cases.wait_closed(closing_id)
    assert await storage.store.exists(object_key)

    async def purged() -> RetentionPurgeResult:
        # Visibility may show the closing a moment after the workflow completed.
        result = await _run_purge(client, task_queue)
        assert closing_id in result.purged
        return result

    result = await assert_eventually(purged)
    assert result.failed == []
    assert staying_id not in result.purged

    assert await count_rows(db_engine, closing_id) == {
        "documents": 0,
        "case_messages": 0,
        "invoice_claims": 0,
        "email_outbox": 0,
    }
    assert not await storage.store.exists(object_key)
    async with db_engine.connect() as connection:
        remaining = set(
            (
                await connection.execute(
                    select(accounts.c.account_id).where(
                        accounts.c.account_id.in_([closing.candidate_id, staying.candidate_id])
                    )
                )
            ).scalars()
        )
        closure = (
            await connection.execute(
                select(case_closures).where(case_closures.c.case_id == closing_id)
            )
        ).one()
        audit = (
            await connection.execute(
                select(audit_log).where(
                    audit_log.c.case_id == closing_id, audit_log.c.action == PURGE_ACTION
                )
            )
        ).all()
    assert remaining == {staying.candidate_id}
    assert closure.outcome == ClosureOutcome.WITHDRAWN.value
    assert closure.purged_at is not None
    assert [(row.actor_id, row.outcome) for row in audit] == [(RETENTION_ACTOR_ID, "ok")]
    await assert_eventually(lambda: _gone(client, closing_id), timeout=60, interval=0.5)

    # The open case keeps everything, and its workflow runs on.
    assert (await count_rows(db_engine, staying_id))["documents"] == 1
    assert (await purge_cases.state(staying_id)).stage == Stage.EVALUATION_REQUESTED

    # The purge's own histories carry case ids and counts, nothing personal, even decoded.
    async for execution in client.list_workflows(f"WorkflowType = '{RETENTION_WORKFLOW_TYPE}'"):
        history = await client.get_workflow_handle(
            execution.id, run_id=execution.run_id
        ).fetch_history()
        for event in history.events:
            if event.HasField("activity_task_completed_event_attributes"):
                payloads = event.activity_task_completed_event_attributes.result.payloads
                decoded = await client.data_converter.decode(payloads, [object])
                assert closing.candidate.email not in str(decoded)
        assert closing.candidate.email not in history.to_json()

    # A second run finds nothing more to do.
    again = await _run_purge(client, task_queue)
    assert (again.recorded, again.purged, again.failed) == (0, [], [])


async def test_the_schedule_is_created_once_and_runs_the_purge(
    purge_cases: TestCaseClient, client: Client, settings: Settings, task_queue: str
) -> None:
    local = settings.model_copy(update={"task_queue": task_queue})
    await ensure_schedule(client, local)
    await ensure_schedule(client, local)  # idempotent: an update, not an error
    handle = client.get_schedule_handle(RETENTION_SCHEDULE_ID)
    description = await handle.describe()
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == RETENTION_WORKFLOW_TYPE
    assert action.task_queue == task_queue
    assert not description.schedule.state.paused
    schedules = [entry.id async for entry in await client.list_schedules()]
    assert schedules.count(RETENTION_SCHEDULE_ID) == 1

    await handle.trigger()

    async def ran() -> None:
        runs = (await handle.describe()).info.recent_actions
        assert runs, "the schedule has not started the purge yet"
        result = await client.get_workflow_handle(
            runs[-1].action.workflow_id, run_id=runs[-1].action.first_execution_run_id
        ).result()
        assert result is not None

    await assert_eventually(ran, timeout=30)

    disabled = local.model_copy(update={"retention_schedule_enabled": False})
    await ensure_schedule(client, disabled)
    assert (await handle.describe()).schedule.state.paused
    await handle.delete()
    # Disabled from the first start: created paused, saying why.
    await ensure_schedule(client, disabled)
    state = (await handle.describe()).schedule.state
    assert (state.paused, state.note) == (True, SCHEDULE_DISABLED_NOTE)
    await handle.delete()


async def test_a_starting_worker_creates_the_schedule(
    client: Client, settings: Settings, own_server: str, task_queue: str
) -> None:
    with contextlib.suppress(RPCError):
        await client.get_schedule_handle(RETENTION_SCHEDULE_ID).delete()
    local = settings.model_copy(
        update={
            "temporal_address": own_server,
            "task_queue": task_queue,
            "worker_metrics_address": None,
        }
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(local, stop))
    try:

        async def created() -> None:
            try:
                description = await client.get_schedule_handle(RETENTION_SCHEDULE_ID).describe()
            except RPCError as error:
                raise AssertionError("no schedule yet") from error
            action = description.schedule.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert action.task_queue == task_queue

        await assert_eventually(created, timeout=30)
    finally:
        stop.set()
        await worker
    await client.get_schedule_handle(RETENTION_SCHEDULE_ID).delete()


@pytest.fixture
async def purge_elus(
    client: Client,
    settings: Settings,
    own_server: str,
    db_engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
) -> AsyncIterator[ElusClient]:
    """A worker whose returned loans and withdrawn State-protection requests are due at once."""
    async with running_worker(
        client,
        settings,
        db_engine,
        storage,
        task_queue,
        temporal_address=own_server,
        retention_days_ab_returned=0,
        retention_days_cp_withdrawn=0,
    ):
        yield ElusClient(client, task_queue)


async def _add_account(engine: AsyncEngine, account_id: str, role: Role) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(accounts).values(
                account_id=account_id,
                email=f"{account_id}@example.test",
                display_name="Dominique Leroy",
                role=role.value,
                created_at=utcnow(),
            )
        )


async def _start_loan(elus: ElusClient, account_id: str) -> str:
    decision = loan_decision().model_copy(
        update={"official": official(account_id), "loan_id": reference()}
    )
    return await elus.start(
        Procedure.ALERT_BUTTON,
        decision.loan_id,
        decision,
        stage=ElusStage.AB_DECIDED,
        departement="60",
        requester=account_id,
    )


async def test_closed_elus_procedures_past_their_delay_are_purged_with_their_lone_accounts(
    purge_elus: ElusClient,
    client: Client,
    db_engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    lone, busy, candidate_id = f"elu{suffix}a", f"elu{suffix}b", f"cand{suffix}"
    for account_id in (lone, busy):
        await _add_account(db_engine, account_id, Role.ELU)
    returned_lone = await _start_loan(purge_elus, lone)
    returned_busy = await _start_loan(purge_elus, busy)
    still_lent = await _start_loan(purge_elus, busy)
    request = state_protection_request(candidate_id)
    withdrawn = await purge_elus.start(
        Procedure.CANDIDATE_PROTECTION,
        request.request_id,
        request,
        stage=ElusStage.CP_REQUESTED,
        departement="60",
        requester=candidate_id,
    )
    # The candidate's account, a document and an email of the request (as for a case).
    object_key = await seed_case_records(db_engine, storage, withdrawn, candidate_id)
    for loan in (returned_lone, returned_busy):
        await purge_elus.act(
            loan,
            ElusAction.RECORD_RETURN,
            RecordReturnInput(actor=PREFECTURE_60, returned_on=paris_today()),
        )
    await purge_elus.act(
        withdrawn,
        ElusAction.WITHDRAW_STATE_PROTECTION_REQUEST,
        WithdrawStateProtectionInput(actor=ElusActor(role=Role.CANDIDATE, id=candidate_id)),
    )
    closed = {returned_lone, returned_busy, withdrawn}
    for procedure_id in closed:
        await purge_elus.handle(procedure_id).result()

    async def purged() -> RetentionPurgeResult:
        result = await _run_purge(client, task_queue)
        assert closed <= set(result.purged)
        return result

    result = await assert_eventually(purged)
    assert result.failed == []
    assert still_lent not in result.purged

    for procedure_id in closed:
        assert await count_rows(db_engine, procedure_id) == {
            "documents": 0,
            "case_messages": 0,
            "invoice_claims": 0,
            "email_outbox": 0,
        }
    assert not await storage.store.exists(object_key)
    async with db_engine.connect() as connection:
        remaining = set(
            (
                await connection.execute(
                    select(accounts.c.account_id).where(
                        accounts.c.account_id.in_([lone, busy, candidate_id])
                    )
                )
            ).scalars()
        )
        closures = {
            row.case_id: row
            for row in (
                await connection.execute(
                    select(case_closures).where(case_closures.c.case_id.in_(closed))
                )
            ).all()
        }
        audit = (
            await connection.execute(
                select(audit_log.c.case_id, audit_log.c.actor_id).where(
                    audit_log.c.case_id.in_(closed), audit_log.c.action == PURGE_ACTION
                )
            )
        ).all()
    # The official with a loan still running keeps their account; the others' go.
    assert remaining == {busy}
    assert {row.outcome for row in closures.values()} == {
        ClosureOutcome.ALERT_BUTTON_RETURNED.value,
        ClosureOutcome.STATE_PROTECTION_WITHDRAWN.value,
    }
    assert all(row.purged_at is not None and row.requester_id is None for row in closures.values())
    assert sorted(audit) == sorted((procedure_id, RETENTION_ACTOR_ID) for procedure_id in closed)
    for procedure_id in closed:
        await assert_eventually(
            lambda procedure_id=procedure_id: _gone(client, procedure_id),  # type: ignore[misc]
            timeout=60,
            interval=0.5,
        )
    assert (await purge_elus.state(still_lent)).stage == ElusStage.AB_DECIDED
