"""Benchmark: whole cases against a trivial-workflow baseline, on one real dev server.

(a) baseline: N trivial workflows, each started by Update-with-Start and sent as many updates
    as a full case receives; (b) N full cases driven through every stage by updates, with the
    real email activity delivering to a real SMTP server on loopback and a SQLite outbox.

Prints a human summary, then as its last line a JSON object with ``baseline_cases_per_s``,
``lifecycle_cases_per_s``, ``ratio``, ``update_p50_ms``, ``update_p95_ms``, ``update_p99_ms`` (the
updates of the full cases) and ``events_per_case``.

    python -m bench.case_lifecycle --cases 200 --concurrency 20

The worker runs in this process beside the load: on a 2-core machine the figures measure the
whole system on one box, not the server alone.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from activities import build_activities
from bench.trivial import BenchTrivialWorkflow
from core.cases import CaseClient
from core.db import create_engine, create_tables
from core.settings import Environment, Settings
from core.temporal import connect_when_ready
from domain.calendar import PARIS
from domain.contracts import (
    Actor,
    AddExpenseLineInput,
    AnswerObservationsInput,
    CandidateContact,
    CasePolicy,
    ContactPrefectureInput,
    DecideInput,
    ElectionInfo,
    OpenCaseInput,
    OpenSpaceInput,
    RecordEvaluationInput,
    RecordPaymentInput,
    RequestEvaluationInput,
    RequestSpaceInput,
    SendObservationsInput,
    SubmitInput,
)
from domain.expenses import ExpenseCategory, ExpenseLineDraft
from domain.ids import case_workflow_id
from domain.money import ThreatLevel
from domain.stages import Action, Role
from embedded.mailbox import MailServer
from embedded.temporal_server import running_dev_server
from worker.run import build_worker
from workflows import WORKFLOWS

UPDATES_PER_CASE = 12
"""Update-with-start plus the eleven actions of ``case_steps``."""

ELECTION = ElectionInfo(
    election_id="municipales-2026",
    label="Élections municipales 2026",
    first_round=dt.date(2026, 3, 15),
    second_round=dt.date(2026, 3, 22),
)
CNCCFP = Actor(role=Role.CNCCFP, id="cnccfp-bench")
PREFECTURE = Actor(role=Role.PREFECTURE, id="pref-bench", departements=["60"])


def line(index: int) -> ExpenseLineDraft:
    return ExpenseLineDraft(
        category=ExpenseCategory.PREMISES_SECURITY,
        company_name="Gardiennage Picard SARL",
        siren="732829320",
        cnaps_authorisation="AUT-060-2124-07-01-20250906336",
        invoice_reference=f"F-{index}",
        service_start=dt.date(2026, 2, 1),
        service_end=dt.date(2026, 3, 15),
        amount_cents=250_000 * index,
        document_refs=[f"doc-{index}"],
    )


async def timed(latencies: list[float], call: Awaitable[Any]) -> Any:
    started = time.perf_counter()
    result = await call
    latencies.append((time.perf_counter() - started) * 1000)
    return result


async def drive_case(cases: CaseClient, latencies: list[float]) -> str:
    """One case through every stage: evaluation, space, two lines, observations, payment."""
    candidate_id = f"bench{uuid.uuid4().hex[:12]}"
    case = OpenCaseInput(
        election=ELECTION,
        candidate_id=candidate_id,
        candidate=CandidateContact(name="Camille Martin", email=f"{candidate_id}@example.test"),
        departement="60",
        prefecture_email="pref-60@interieur.example.test",
        candidacy_declared_on=dt.date(2025, 10, 1),
        deposit_deadline=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
        policy=CasePolicy(reminder_offsets=[]),
    )
    me = Actor(role=Role.CANDIDATE, id=candidate_id)
    case_id = case_workflow_id(ELECTION.election_id, candidate_id)
    await timed(latencies, cases.open_case(case, RequestEvaluationInput(actor=me)))
    steps: list[tuple[Action, Any]] = [
        (
            Action.RECORD_EVALUATION,
            RecordEvaluationInput(
                actor=PREFECTURE,
                recognised=True,
                level=ThreatLevel.TWO,
                decided_on=dt.date(2026, 3, 1),
                decision_document="doc-decision",
            ),
        ),
        (Action.REQUEST_SPACE, RequestSpaceInput(actor=me)),
        (Action.OPEN_SPACE, OpenSpaceInput(actor=CNCCFP)),
        (Action.ADD_EXPENSE_LINE, AddExpenseLineInput(actor=me, line=line(1))),
        (Action.ADD_EXPENSE_LINE, AddExpenseLineInput(actor=me, line=line(2))),
        (Action.SUBMIT, SubmitInput(actor=me)),
        (Action.SEND_OBSERVATIONS, SendObservationsInput(actor=CNCCFP, observations="Preuve ?")),
        (Action.ANSWER_OBSERVATIONS, AnswerObservationsInput(actor=me, answer="Jointe.")),
        (Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=750_000)),
        (Action.CONTACT_PREFECTURE, ContactPrefectureInput(actor=me)),
        (
            Action.RECORD_PAYMENT,
            RecordPaymentInput(
                actor=PREFECTURE,
                amount_cents=750_000,
                paid_on=dt.datetime.now(PARIS).date(),
                reference="VIR-BENCH",
            ),
        ),
    ]
    if len(steps) + 1 != UPDATES_PER_CASE:
        raise RuntimeError("the baseline must receive as many updates as a case")
    for action, payload in steps:
        await timed(latencies, cases.act(case_id, action, payload))
    await cases.wait_closed(case_id)
    return case_id


async def drive_trivial(client: Client, task_queue: str, latencies: list[float]) -> str:
    workflow_id = f"bench-trivial-{uuid.uuid4().hex[:12]}"
    start = WithStartWorkflowOperation(
        BenchTrivialWorkflow.run,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    await timed(
        latencies,
        client.execute_update_with_start_workflow(
            BenchTrivialWorkflow.touch, False, start_workflow_operation=start
        ),
    )
    handle = client.get_workflow_handle(workflow_id)
    for index in range(1, UPDATES_PER_CASE):
        await timed(
            latencies,
            handle.execute_update(BenchTrivialWorkflow.touch, index == UPDATES_PER_CASE - 1),
        )
    await handle.result()
    return workflow_id


async def run_phase(
    count: int, concurrency: int, one: Callable[[list[float]], Awaitable[str]]
) -> tuple[float, list[float], list[str]]:
    """Run ``count`` scenarios, ``concurrency`` at a time; returns seconds, latencies, ids."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def guarded() -> str:
        async with gate:
            return await one(latencies)

    started = time.perf_counter()
    ids = await asyncio.gather(*(guarded() for _ in range(count)))
    return time.perf_counter() - started, latencies, list(ids)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main(cases_count: int, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="secupol-bench-") as tmp:
        workdir = Path(tmp)
        mail = MailServer(workdir / "mail", port=0)
        mail.start()
        try:
            with running_dev_server(workdir) as address:
                settings = Settings(
                    environment=Environment.TEST,
                    data_dir=workdir,
                    temporal_address=address,
                    smtp_port=mail.port,
                    task_queue="bench-cases",
                    _env_file=None,  # type: ignore[call-arg]
                )
                engine = create_engine(settings)
                await create_tables(engine)
                client = await connect_when_ready(settings)
                worker = build_worker(
                    client,
                    settings,
                    list(build_activities(settings, engine)),
                    workflows=[*WORKFLOWS, BenchTrivialWorkflow],
                )
                cases = CaseClient(client, settings.task_queue)
                async with worker:
                    # Warm up both paths so that neither pays the first connection's cost.
                    await drive_trivial(client, settings.task_queue, [])
                    await drive_case(cases, [])
                    base_s, base_lat, _ = await run_phase(
                        cases_count,
                        concurrency,
                        lambda lat: drive_trivial(client, settings.task_queue, lat),
                    )
                    life_s, life_lat, ids = await run_phase(
                        cases_count, concurrency, lambda lat: drive_case(cases, lat)
                    )
                    sample = ids[: min(20, len(ids))]
                    events = [
                        len((await client.get_workflow_handle(i).fetch_history()).events)
                        for i in sample
                    ]
                await engine.dispose()
            emails = len(mail.store.messages())
        finally:
            mail.stop()

    baseline_rate = cases_count / base_s
    lifecycle_rate = cases_count / life_s
    figures = {
        "cases": cases_count,
        "concurrency": concurrency,
        "baseline_cases_per_s": round(baseline_rate, 2),
        "lifecycle_cases_per_s": round(lifecycle_rate, 2),
        "ratio": round(lifecycle_rate / baseline_rate, 3),
        "update_p50_ms": round(percentile(life_lat, 0.50), 1),
        "update_p95_ms": round(percentile(life_lat, 0.95), 1),
        "update_p99_ms": round(percentile(life_lat, 0.99), 1),
        "baseline_update_p50_ms": round(percentile(base_lat, 0.50), 1),
        "baseline_update_p95_ms": round(percentile(base_lat, 0.95), 1),
        "events_per_case": round(statistics.mean(events), 1),
    }
    print(f"{cases_count} cases, {concurrency} at a time, {UPDATES_PER_CASE} updates each")
    print(
        f"  baseline : {baseline_rate:7.2f} cases/s  "
        f"update p50 {figures['baseline_update_p50_ms']} ms, "
        f"p95 {figures['baseline_update_p95_ms']} ms"
    )
    print(
        f"  lifecycle: {lifecycle_rate:7.2f} cases/s  "
        f"update p50 {figures['update_p50_ms']} ms, p95 {figures['update_p95_ms']} ms, "
        f"p99 {figures['update_p99_ms']} ms"
    )
    print(
        f"  lifecycle/baseline = {figures['ratio']}; {figures['events_per_case']} history "
        f"events per case; {emails} emails delivered"
    )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.concurrency))
