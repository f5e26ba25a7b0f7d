"""Benchmark: many open cases waiting on their timers, and what they cost the worker.

``--cases`` cases (20,000 by default) are opened ``--concurrency`` at a time through the gateway,
as the API opens them (current procedure version, the settings' timer policy, the legal deposit
deadline about two months ahead, the two proofs uploaded first); each then waits in
``evaluation_requested`` on its timers (the prefecture's reminders, the deposit deadline). Once
the worker is idle, the bench reads:

- the worker's resident memory (``VmRSS``) and its peak (``VmHWM``), with the cache settings the
  worker was given (``--max-cached-workflows``, default: ``Settings``' default), and the number
  of cases in its cache (the SDK's ``temporal_sticky_cache_size``);
- the dev server's resident memory;
- the time to open them (cases per second) and the open call's p50/p99;
- the history events of an idle case (mean over a sample);
- the latency of a query on ``--queries`` random idle cases: most are out of the cache when
  there are more cases than it holds, so this is the cost of an eviction (a replay).

Each process runs on its own (``bench.stack``): dev server, worker, mailbox, and this one. The
last line is a JSON object with ``cases``, ``worker_rss_mib`` and ``events_per_case``.

    python -m bench.idle_cases --cases 20000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.api_actions import DEPARTEMENT, seed
from bench.stack import BenchStack, load_average, memory_mib, percentile, run
from core.settings import Settings
from domain.contracts import (
    CURRENT_PROCEDURE_VERSION,
    Actor,
    CandidateContact,
    ElectionInfo,
    OpenCaseInput,
)
from domain.ids import case_workflow_id
from domain.stages import Role, Stage
from embedded.demo import evaluation_request

SETTLE_TIMEOUT_S = 600.0
EVENT_SAMPLE = 20
SIZING = (
    "max_cached_workflows",
    "max_concurrent_workflow_tasks",
    "max_concurrent_activities",
    "max_concurrent_local_activities",
)


async def open_one(
    stack: BenchStack, election: ElectionInfo, settings: Settings, label: str
) -> tuple[str, float]:
    """Open one case as the API does; returns its id and the open call's milliseconds."""
    candidate_id = f"idle{label}"
    me = Actor(role=Role.CANDIDATE, id=candidate_id)
    case_id = case_workflow_id(election.election_id, candidate_id)
    opening = OpenCaseInput(
        election=election,
        candidate_id=candidate_id,
        candidate=CandidateContact(name=f"Candidat {label}", email=f"{label}@exemple.test"),
        departement=DEPARTEMENT,
        prefecture_email="pref-60-bench@interieur.example.test",
        cnccfp_email=settings.cnccfp_email,
        candidacy_declared_on=election.first_round - dt.timedelta(days=120),
        policy=settings.case_policy(),
        procedure_version=CURRENT_PROCEDURE_VERSION,
    )
    request = await evaluation_request(me, stack.storage, case_id)
    started = time.perf_counter()
    state = await stack.cases.open_case(opening, request)
    if state.stage != Stage.EVALUATION_REQUESTED:
        raise RuntimeError(f"{case_id} opened at {state.stage.value}")
    return case_id, (time.perf_counter() - started) * 1000


def mail_count(stack: BenchStack) -> int:
    return sum(1 for _ in (stack.settings.mail_dir / "new").iterdir())


async def settle(stack: BenchStack) -> float:
    """Wait until the task queues are empty and no email arrived for a while; returns seconds."""
    started = time.monotonic()
    quiet, last = 0, -1
    while time.monotonic() - started < SETTLE_TIMEOUT_S:
        backlog = await stack.backlog()
        sent = mail_count(stack)
        quiet = quiet + 1 if not any(backlog.values()) and sent == last else 0
        last = sent
        if quiet >= 3:
            break
        await asyncio.sleep(2)
    return time.monotonic() - started


async def main(arguments: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if arguments.database_url:
        overrides["database_url"] = arguments.database_url
    for name in SIZING:
        value = getattr(arguments, name)
        if value is not None:
            overrides[f"worker_{name}"] = value
    with tempfile.TemporaryDirectory(prefix="secupol-idle-") as tmp:
        async with BenchStack(Path(tmp), overrides=overrides, postgres=arguments.postgres) as stack:
            settings = stack.settings
            tag = uuid.uuid4().hex[:8]
            election = await seed(stack.engine, tag)
            gate = asyncio.Semaphore(arguments.concurrency)
            latencies: list[float] = []
            load_before = load_average()
            usage_before = stack.usage()

            async def one(index: int) -> str:
                async with gate:
                    case_id, ms = await open_one(stack, election, settings, f"{tag}{index}")
                    latencies.append(ms)
                    return case_id

            started = time.monotonic()
            case_ids = await asyncio.gather(*(one(index) for index in range(arguments.cases)))
            open_s = time.monotonic() - started
            print(
                f"opened {len(case_ids)} cases in {open_s:.0f} s; load {load_average()}",
                flush=True,
            )
            settle_s = await settle(stack)
            emails_per_case = mail_count(stack) / len(case_ids)
            usage = stack.usage().since(usage_before)
            worker_rss, worker_peak = memory_mib(stack.worker.pid)
            server_rss, server_peak = memory_mib(stack.server.pid)
            gauges = await stack.worker_gauges()
            sample = random.Random(14).sample(case_ids, min(EVENT_SAMPLE, len(case_ids)))
            events = [
                len((await stack.cases.handle(case_id).fetch_history()).events)
                for case_id in sample
            ]
            query_ms = []
            for case_id in random.Random(15).sample(
                case_ids, min(arguments.queries, len(case_ids))
            ):
                query_started = time.perf_counter()
                await stack.cases.state(case_id)
                query_ms.append((time.perf_counter() - query_started) * 1000)
            worker_after_queries, _ = memory_mib(stack.worker.pid)
            load_after = load_average()

    def ms(values: list[float], share: float) -> float | None:
        found = percentile(values, share)
        return None if found is None else round(found, 1)

    figures: dict[str, Any] = {
        "cases": len(case_ids),
        "worker_rss_mib": round(worker_rss, 1),
        "worker_peak_rss_mib": round(worker_peak, 1),
        "worker_rss_after_queries_mib": round(worker_after_queries, 1),
        "events_per_case": round(statistics.mean(events), 1),
        "cached_cases": gauges["cached"],
        "cache_evictions": gauges["evictions"],
        "max_cached_workflows": settings.worker_max_cached_workflows,
        "open_s": round(open_s, 1),
        "opens_per_s": round(len(case_ids) / open_s, 1),
        "open_p50_ms": ms(latencies, 0.50),
        "open_p99_ms": ms(latencies, 0.99),
        "settle_s": round(settle_s, 1),
        "idle_query_p50_ms": ms(query_ms, 0.50),
        "idle_query_p99_ms": ms(query_ms, 0.99),
        "server_rss_mib": round(server_rss, 1),
        "server_peak_rss_mib": round(server_peak, 1),
        "server_cpu_s": usage.server_cpu_s,
        "worker_cpu_s": usage.worker_cpu_s,
        "emails_per_case": round(emails_per_case, 2),
        "load_before": load_before,
        "load_after": load_after,
    }
    print(
        f"{figures['cases']} idle cases ({figures['opens_per_s']} opened per second, open p50 "
        f"{figures['open_p50_ms']} ms, p99 {figures['open_p99_ms']} ms); load {load_before} -> "
        f"{load_after}"
    )
    print(
        f"  worker RSS {figures['worker_rss_mib']} MiB (peak {figures['worker_peak_rss_mib']}, "
        f"after {len(query_ms)} queries {figures['worker_rss_after_queries_mib']}), "
        f"{figures['cached_cases']} cases cached (max {figures['max_cached_workflows']}); "
        f"server RSS {figures['server_rss_mib']} MiB"
    )
    print(
        f"  {figures['events_per_case']} history events per idle case; query on an idle case "
        f"p50 {figures['idle_query_p50_ms']} ms, p99 {figures['idle_query_p99_ms']} ms; CPU s "
        f"server {usage.server_cpu_s}, worker {usage.worker_cpu_s}"
    )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--queries", type=int, default=50, help="queries on random idle cases")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file")
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="the app database: a fresh one on this PostgreSQL server (postgresql://user@host)",
    )
    for option in SIZING:
        parser.add_argument(
            f"--{option.replace('_', '-')}",
            type=int,
            default=None,
            help="the worker's setting (default: Settings' default)",
        )
    parsed = parser.parse_args()
    if parsed.cases < 1:
        parser.error("--cases must be at least 1")
    run(main(parsed))
