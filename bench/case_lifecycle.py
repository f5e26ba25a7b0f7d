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

from activities import open_activities
from bench.trivial import BenchTrivialWorkflow
from core.cases import CaseClient
from core.db import create_engine, migrate
from core.settings import Environment, Settings
from core.storage import DocumentStorage, build_storage
from core.temporal import connect_when_ready
from domain.contracts import (
    CasePolicy,
)
from domain.ids import case_workflow_id
from embedded.demo import case_steps, demo_case, evaluation_request
from embedded.mailbox import MailServer
from embedded.temporal_server import running_dev_server
from worker.run import build_worker
from workflows import WORKFLOWS

UPDATES_PER_CASE = 11
"""Update-with-start plus the ten actions of ``embedded.demo.case_steps``."""


async def timed(latencies: list[float], call: Awaitable[Any]) -> Any:
    started = time.perf_counter()
    result = await call
    latencies.append((time.perf_counter() - started) * 1000)
    return result


async def drive_case(cases: CaseClient, storage: DocumentStorage, latencies: list[float]) -> str:
    """One case through every stage, the same script as ``make demo`` (uploads not timed)."""
    case, me = demo_case(CasePolicy(reminder_offsets=[]))
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    request = await evaluation_request(me, storage, case_id)
    await timed(latencies, cases.open_case(case, request))
    steps = await case_steps(me, storage, case_id)
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
                await migrate(engine)
                client = await connect_when_ready(settings)
                cases = CaseClient(client, settings.task_queue)
                storage = build_storage(settings, engine)
                async with (
                    open_activities(settings, engine) as activities,
                    build_worker(
                        client,
                        settings,
                        activities,
                        workflows=[*WORKFLOWS, BenchTrivialWorkflow],
                    ),
                ):
                    # Warm up both paths so that neither pays the first connection's cost.
                    await drive_trivial(client, settings.task_queue, [])
                    await drive_case(cases, storage, [])
                    base_s, base_lat, base_ids = await run_phase(
                        cases_count,
                        concurrency,
                        lambda lat: drive_trivial(client, settings.task_queue, lat),
                    )
                    life_s, life_lat, ids = await run_phase(
                        cases_count, concurrency, lambda lat: drive_case(cases, storage, lat)
                    )
                    events = [
                        len((await client.get_workflow_handle(i).fetch_history()).events)
                        for i in ids[:20]
                    ]
                    base_events = [
                        len((await client.get_workflow_handle(i).fetch_history()).events)
                        for i in base_ids[:20]
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
        "baseline_events_per_case": round(statistics.mean(base_events), 1),
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
        f"  lifecycle/baseline = {figures['ratio']}; history events per case "
        f"{figures['events_per_case']} (baseline {figures['baseline_events_per_case']}); "
        f"{emails} emails delivered"
    )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.concurrency))
