"""The faults, each run on its own stack of real processes with ``cases`` cases.

The fault suite (``tests/faults``) runs them at N = 10 and asserts on their ``FaultResult``;
``bench/faults.py`` runs the same code at N = 100 and prints the table. A result counts emails by
what a receiver sees:

- ``expected``: the emails the cases asked for (their notifications, all marked sent at the end);
- ``delivered``: distinct Message-IDs of those emails found in the mailbox;
- ``lost``: expected emails with no delivery;
- ``duplicated``: deliveries a receiver would see as a second message: a second Message-ID for
  the same recipient and template, a Message-ID no case asked for, or a copy whose bytes differ;
- ``copies``: identical redeliveries (same Message-ID, same bytes), which only the crash window
  SMTP cannot close produces (``activities/email/sender.py``); a receiver sees one message.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from activities.email import message_id_for
from core.db import create_engine, email_outbox, migrate
from core.settings import Settings
from core.storage import build_storage
from core.temporal import connect_when_ready
from domain.contracts import (
    AddExpenseLineInput,
    CasePolicy,
    CaseState,
    NotificationStatus,
    RecordEvaluationInput,
    RetryRegistryChecksUpdate,
    SubmitInput,
)
from domain.documents import DocumentKind
from domain.ids import case_workflow_id
from domain.money import ThreatLevel
from domain.registries import RegistryOutcome
from domain.stages import Action, Stage
from tests.faults.stack import DevServer, Mailbox, WorkerProcess, deliveries, fault_settings
from tests.helpers import (
    OPERATOR,
    PREFECTURE_60,
    TestCaseClient,
    assert_eventually,
    candidate,
    evaluation_request,
    new_case_input,
    unreachable_cnaps,
)
from tests.workflows.steps import line, recognised_open_space

SETTLE_TIMEOUT_S = 240.0
"""Longest wait for every email to be out after a fault: a SIGKILLed attempt is retried only
after its start-to-close timeout (60 s), then backs off."""


@dataclass
class FaultResult:
    fault: str
    cases: int
    expected: int
    delivered: int
    lost: int
    duplicated: int
    copies: int
    recover_s: float
    """From the end of the fault (restart, relay back) to every case settled."""
    detail: dict[str, Any]


@dataclass
class Stack:
    workdir: Path
    temporal: DevServer
    mailbox: Mailbox
    worker: WorkerProcess
    settings: Settings
    engine: AsyncEngine
    cases: TestCaseClient


@contextlib.asynccontextmanager
async def running_stack(workdir: Path, **overrides: Any) -> AsyncIterator[Stack]:
    """Dev server, mailbox, migrated database and a worker subprocess, all stopped on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    temporal = DevServer(workdir)
    mailbox = Mailbox(workdir / "mail")
    temporal.start()
    mailbox.start()
    settings = fault_settings(workdir, temporal, mailbox, **overrides)
    engine = create_engine(settings)
    worker = WorkerProcess(settings, workdir)
    try:
        await migrate(engine)
        client = await connect_when_ready(settings)
        worker.start()
        await worker_polling(client, settings.task_queue)
        storage = build_storage(settings, engine)
        cases = TestCaseClient(client, settings.task_queue, storage)
        yield Stack(workdir, temporal, mailbox, worker, settings, engine, cases)
    finally:
        if worker.running:
            worker.kill()
        await engine.dispose()
        mailbox.stop()
        temporal.stop()


async def worker_polling(client: Client, task_queue: str) -> None:
    """Wait until a worker polls ``task_queue`` (it has migrated and connected)."""

    async def polled() -> None:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            )
        )
        assert response.pollers

    await assert_eventually(polled, timeout=60, interval=0.2)


async def open_cases(stack: Stack, n: int, **case_kw: Any) -> list[str]:
    """Open ``n`` cases at once (each asks the prefecture for an evaluation: one email)."""
    inputs = [new_case_input(**case_kw) for _ in range(n)]
    await asyncio.gather(
        *(stack.cases.open_case(case, evaluation_request(case)) for case in inputs)
    )
    return [case_workflow_id(case.election.election_id, case.candidate_id) for case in inputs]


async def record_evaluations(stack: Stack, case_ids: list[str]) -> None:
    """The prefecture answers every case (one more email each, to the candidate)."""

    async def record(case_id: str) -> None:
        decision = await stack.cases.upload(
            case_id, DocumentKind.EVALUATION_DECISION, "decision.pdf"
        )
        await stack.cases.act(
            case_id,
            Action.RECORD_EVALUATION,
            RecordEvaluationInput(
                actor=PREFECTURE_60,
                recognised=True,
                level=ThreatLevel.TWO,
                decided_on=dt.date(2026, 3, 1),
                decision_document=decision,
            ),
        )

    await asyncio.gather(*(record(case_id) for case_id in case_ids))


async def states(stack: Stack, case_ids: list[str]) -> list[CaseState]:
    return list(await asyncio.gather(*(stack.cases.state(case_id) for case_id in case_ids)))


async def all_emails_out(stack: Stack, case_ids: list[str]) -> list[CaseState]:
    """Every email every case asked for is marked sent (polls until then)."""

    async def check() -> list[CaseState]:
        found = await states(stack, case_ids)
        pending = [
            record.key
            for state in found
            for record in state.notifications
            if record.status != NotificationStatus.SENT
        ]
        assert not pending, f"{len(pending)} emails not sent yet"
        return found

    return await assert_eventually(check, timeout=SETTLE_TIMEOUT_S, interval=0.5)


async def count(
    stack: Stack, fault: str, case_ids: list[str], recover_from: float, **detail: Any
) -> FaultResult:
    """Wait until every case's emails are out, then count what the mailbox received."""
    found = await all_emails_out(stack, case_ids)
    recover_s = time.monotonic() - recover_from
    keys = {record.key for state in found for record in state.notifications}
    expected_ids = {message_id_for(key, stack.settings.mail_from): key for key in keys}
    async with stack.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    email_outbox.c.idempotency_key,
                    email_outbox.c.recipient,
                    email_outbox.c.template,
                    email_outbox.c.status,
                )
            )
        ).all()
    outbox = {row.idempotency_key: row for row in rows}
    assert all(outbox[key].status == "sent" for key in keys), "an email is not marked sent"
    expected_pairs = Counter((outbox[key].recipient, outbox[key].template) for key in keys)

    copies, contents = deliveries(stack.mailbox.store)
    delivered_ids = {delivery.message_id for delivery in copies}
    delivered_pairs = Counter((d.recipient, d.template) for d in copies)
    lost = len(set(expected_ids) - delivered_ids)
    unexpected = len(delivered_ids - set(expected_ids))
    extra_per_pair = sum(
        max(0, delivered_pairs[pair] - expected_pairs[pair]) for pair in delivered_pairs
    )
    differing = sum(len(bodies) - 1 for bodies in contents.values())
    identical_copies = sum(n - 1 for n in copies.values()) - differing
    return FaultResult(
        fault=fault,
        cases=len(case_ids),
        expected=len(keys),
        delivered=len(delivered_ids & set(expected_ids)),
        lost=lost,
        duplicated=max(unexpected, extra_per_pair) + differing,
        copies=identical_copies,
        recover_s=round(recover_s, 1),
        detail=detail,
    )


# --- a. Worker SIGKILL with emails in flight --------------------------------------------------


async def worker_sigkill(workdir: Path, n: int) -> FaultResult:
    """Two SIGKILLs of the worker while emails are in flight, each followed by a restart.

    Cases are opened in two waves (each asks the prefecture for an evaluation: one email). The
    first kill is aimed at the window SMTP cannot close: the relay has stored a message of the
    first wave and the worker dies before the 250 reaches it. The second lands wherever the
    second wave's sends are. Then every case is answered (a second email each).
    """
    async with running_stack(workdir) as stack:
        killed = asyncio.Event()
        loop = asyncio.get_running_loop()
        first_wave, second_wave = n // 2, n - n // 2
        target = max(1, first_wave // 3)

        def kill_after_storing(number: int) -> None:
            if number == target and stack.worker.running:
                os.kill(stack.worker.pid, signal.SIGKILL)
                loop.call_soon_threadsafe(killed.set)

        stack.mailbox.handler.on_stored = kill_after_storing
        opening = asyncio.create_task(open_cases(stack, first_wave))
        await asyncio.wait_for(killed.wait(), 120)
        stack.mailbox.handler.on_stored = None
        stack.worker.kill()  # reaps the process the hook killed
        stack.worker.start()
        case_ids = await opening

        # Second kill: wherever the second wave's sends are, once the relay has one of them.
        before = stack.mailbox.handler.received
        second = asyncio.create_task(open_cases(stack, second_wave))
        await assert_eventually(_received_more(stack, before, 1), timeout=120, interval=0.005)
        stack.worker.kill()
        stack.worker.start()
        restarted = time.monotonic()
        case_ids += await second
        # The prefecture answers every case: one more email each, queued behind the first.
        await record_evaluations(stack, case_ids)
        return await count(stack, "worker SIGKILL x2", case_ids, restarted, worker_starts=3)


def _received_more(stack: Stack, before: int, more: int) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        assert stack.mailbox.handler.received >= before + more

    return check


# --- b. SMTP down, then back ------------------------------------------------------------------


async def smtp_down(workdir: Path, n: int, outage_s: float = 10.0) -> FaultResult:
    """The relay refuses connections while ``n`` cases are opened and answered, then returns."""
    async with running_stack(workdir) as stack:
        stack.mailbox.stop()
        case_ids = await open_cases(stack, n)
        await record_evaluations(stack, case_ids)

        async def every_email_tried() -> None:
            async with stack.engine.connect() as connection:
                statuses = (await connection.execute(select(email_outbox.c.status))).scalars()
                assert list(statuses).count("temp_failure") >= n

        await assert_eventually(every_email_tried, timeout=60, interval=0.2)
        await asyncio.sleep(outage_s)  # the outage lasts: several retries fail
        stack.mailbox.start()
        back = time.monotonic()
        return await count(stack, "SMTP down", case_ids, back, outage_s=outage_s)


# --- c. Temporal server killed and restarted on its SQLite file -------------------------------


async def temporal_restart(workdir: Path, n: int, outage_s: float = 15.0) -> FaultResult:
    """SIGKILL of the dev server while every case's deposit deadline falls due; restart on the
    same file and port. Every case goes on, and each deadline fires exactly once."""
    deadline_in = dt.timedelta(seconds=outage_s / 2 + 20)
    async with running_stack(workdir) as stack:
        case_ids = await open_cases(
            stack,
            n,
            deadline_in=deadline_in,
            policy=CasePolicy(reminder_offsets=[], prefecture_reminder_before=[]),
        )
        await all_emails_out(stack, case_ids)
        due = min(state.deposit_deadline for state in await states(stack, case_ids))
        stack.temporal.kill()
        # Down from before the deadlines until after them (not an assertion: the fault's shape).
        await asyncio.sleep(max(0.0, (due - dt.datetime.now(dt.UTC)).total_seconds()) + 5)
        stack.temporal.start()
        back = time.monotonic()

        async def deadline_fired() -> None:
            for state in await states(stack, case_ids):
                assert state.stage == Stage.AWAITING_ADMINISTRATION, state.stage

        await assert_eventually(deadline_fired, timeout=120, interval=0.5)
        result = await count(stack, "Temporal server restart", case_ids, back)
        copies, _ = deliveries(stack.mailbox.store)
        per_case = Counter(d.recipient for d in copies if d.template == "administration_delay")
        result.detail["administration_delay_per_candidate"] = sorted(set(per_case.values()))
        result.detail["candidates_told"] = len(per_case)
        return result


# --- e. A registry down during a submission ---------------------------------------------------


async def registry_down(workdir: Path, n: int) -> FaultResult:
    """The CNAPS registry refuses connections while ``n`` candidates add a line and submit: the
    deposits stand, the checks end "à vérifier manuellement"; once the registry is back, the
    operator's retry checks them again."""
    policy = CasePolicy(reminder_offsets=[], registry_max_attempts=2)
    async with running_stack(workdir, **unreachable_cnaps()) as stack:
        spaces = await asyncio.gather(
            *(recognised_open_space(stack.cases, policy=policy) for _ in range(n))
        )

        async def submit(case: Any, case_id: str, invoice: str) -> CaseState:
            me = candidate(case)
            await stack.cases.act(
                case_id,
                Action.ADD_EXPENSE_LINE,
                AddExpenseLineInput(actor=me, line=line(100_000, "F-1", invoice)),
            )
            return await stack.cases.act(
                case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1)
            )

        submitted = await asyncio.gather(*(submit(*space) for space in spaces))
        case_ids = [space.case_id for space in spaces]

        async def to_verify_by_hand() -> None:
            for state in await states(stack, case_ids):
                assert state.line_checks and state.line_checks[0].needs_manual_verification
                assert state.line_checks[0].cnaps is not None
                assert state.line_checks[0].cnaps.outcome == RegistryOutcome.UNAVAILABLE

        await assert_eventually(to_verify_by_hand, timeout=120, interval=0.5)
        # The registry is back: the worker restarts on the referential file (the default).
        stack.worker.terminate()
        stack.worker.settings = fault_settings(
            workdir, stack.temporal, stack.mailbox, task_queue=stack.settings.task_queue
        )
        stack.worker.start()
        back = time.monotonic()
        await asyncio.gather(
            *(
                stack.cases.act(
                    case_id,
                    Action.RETRY_REGISTRY_CHECKS,
                    RetryRegistryChecksUpdate(actor=OPERATOR, reason="Fin de la panne."),
                )
                for case_id in case_ids
            )
        )

        async def checked_again() -> None:
            for state in await states(stack, case_ids):
                check = state.line_checks[0]
                assert check.cnaps is not None and check.cnaps.outcome == RegistryOutcome.VALID
                assert not check.needs_manual_verification

        await assert_eventually(checked_again, timeout=120, interval=0.5)
        result = await count(stack, "registry down", case_ids, back)
        final = await states(stack, case_ids)
        result.detail["submitted"] = sum(s.stage == Stage.SUBMITTED for s in submitted)
        result.detail["still_submitted"] = sum(s.submitted_at is not None for s in final)
        return result


def as_row(result: FaultResult) -> dict[str, Any]:
    row = asdict(result)
    row.pop("detail")
    return row


# --- d. The database refusing connections -----------------------------------------------------

POSTGRES_URL = os.environ.get("SECUPOL_TEST_POSTGRES_URL", "")


async def _set_connections(admin: Any, database: str, allowed: bool) -> None:
    async with admin.connect() as connection:
        flag = "true" if allowed else "false"
        await connection.execute(text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS {flag}'))
        if not allowed:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{database}'"
                )
            )


async def database_down(workdir: Path, n: int, outage_s: float = 5.0) -> FaultResult:
    """PostgreSQL refuses every connection (``ALLOW_CONNECTIONS false``, sessions terminated)
    while ``n`` cases are opened directly (their emails cannot be claimed in the outbox) and
    ``n`` candidates try to open theirs through the API (503 each, nothing applied). Then the
    database comes back: every email goes out once, and the candidates' retries open their
    cases."""
    from api.main import create_app
    from api.serving import serving
    from api.staff import add_election, set_prefecture
    from core.accounts import Accounts
    from domain.stages import Role
    from embedded.temporal_server import free_port
    from tests.api.flow import evaluation_proofs

    assert POSTGRES_URL, "needs SECUPOL_TEST_POSTGRES_URL"
    name = f"secupol_faults_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        async with running_stack(workdir, database_url=url, api_port=free_port()) as stack:
            accounts = Accounts(stack.engine, stack.settings)
            first_round = dt.date.today() - dt.timedelta(days=10)
            await add_election(
                stack.engine,
                election_id="panne",
                election_type="municipales",
                label="Panne",
                first_round=first_round,
                second_round=None,
            )
            await set_prefecture(stack.engine, "60", "pref-60@interieur.example.test")
            tokens = []
            for _ in range(n):
                account = await accounts.create(
                    email=f"c{uuid.uuid4().hex[:8]}@example.test",
                    display_name="Camille Martin",
                    role=Role.CANDIDATE,
                )
                await accounts.confirm(account.account_id)
                tokens.append((account.account_id, await accounts.open_session(account.account_id)))
            bodies = {}
            async with (
                serving(create_app(stack.settings), stack.settings.api_port) as base,
                httpx.AsyncClient(base_url=base, timeout=30) as http,
            ):
                for account_id, token in tokens:
                    http.headers["Authorization"] = f"Bearer {token}"
                    proofs = await evaluation_proofs(http, f"case-panne-{account_id}")
                    bodies[account_id] = {
                        "election_id": "panne",
                        "departement": "60",
                        "candidacy_declared_on": (first_round - dt.timedelta(days=30)).isoformat(),
                        **proofs,
                    }

                async def open_by_api(account_id: str, token: str) -> int:
                    response = await http.post(
                        "/cases",
                        json=bodies[account_id],
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    return response.status_code

                direct = asyncio.create_task(open_cases(stack, n))
                await _set_connections(admin, name, allowed=False)
                refused = await asyncio.gather(*(open_by_api(*t) for t in tokens))
                case_ids = await direct
                await asyncio.sleep(outage_s)  # the outage lasts; the outbox retries fail
                started_during_outage = 0
                for account_id, _ in tokens:
                    with contextlib.suppress(Exception):
                        await stack.cases.state(f"case-panne-{account_id}")
                        started_during_outage += 1
                await _set_connections(admin, name, allowed=True)
                back = time.monotonic()
                retried = await asyncio.gather(*(open_by_api(*t) for t in tokens))
            api_case_ids = [f"case-panne-{account_id}" for account_id, _ in tokens]
            result = await count(stack, "database down", case_ids + api_case_ids, back)
            result.detail |= {
                "api_during_outage": sorted(Counter(refused).items()),
                "api_cases_started_during_outage": started_during_outage,
                "api_after": sorted(Counter(retried).items()),
            }
            return result
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
