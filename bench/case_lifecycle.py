"""Benchmark: whole cases against a trivial-workflow baseline, each phase on a fresh dev server.

A phase runs N scenarios, ``--concurrency`` at a time, on its own dev server (with its Prometheus
metrics) and its own worker process (the real activities, a real SMTP server on loopback, a
SQLite database):

- baseline: trivial workflows, each started by Update-with-Start and sent as many updates as a
  case receives;
- case: real cases under the default policy (reminders on), the shape of a standard case: the
  evaluation, a mandated third party (who gets copies), the space, two expense lines, the
  deposit (sealed, receipt emailed), one round of observations and its answer, the decision,
  the contact with the prefecture, the payment; every email delivered.

The documents the cases cite are generated and stored before the clock starts. A run is one
phase of each, in alternating order (baseline first on odd runs, the case first on even ones);
the figures are the median of ``--runs`` runs (3 by default). Beside throughput and update
latency, each phase reports the CPU seconds per case of the dev server and of the worker
process (from ``/proc``), the server's persistence requests per case (its
``persistence_requests`` metric), and the history events and bytes per case.

Prints a human summary, then as its last line a JSON object (``ratio`` is the median of the
per-run ratios of case to baseline throughput).

    python -m bench.case_lifecycle --cases 100 --concurrency 20 --runs 3

The load, the worker and the server share the machine: the figures measure the whole system on
one box.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from bench.trivial import BenchTrivialWorkflow
from core.cases import CaseClient
from core.db import create_engine, migrate
from core.settings import Environment, Settings
from core.storage import DocumentStorage, build_storage
from core.temporal import connect_when_ready
from domain.calendar import PARIS
from domain.contracts import (
    CURRENT_PROCEDURE_VERSION,
    Actor,
    AddExpenseLineInput,
    AnswerObservationsInput,
    CandidateContact,
    ContactPrefectureInput,
    DecideInput,
    MandateThirdPartyInput,
    OpenCaseInput,
    OpenSpaceInput,
    RecordEvaluationInput,
    RecordPaymentInput,
    RequestEvaluationInput,
    RequestSpaceInput,
    SendObservationsInput,
    SubmitInput,
)
from domain.documents import DocumentKind
from domain.expenses import ALL_CERTIFIED, ExpenseCategory, ExpenseLineDraft
from domain.ids import case_workflow_id
from domain.money import ThreatLevel
from domain.stages import Action, Role
from embedded.demo import DEMO_ELECTION, upload_sample
from embedded.mailbox import MailServer
from embedded.temporal_server import dev_server_command, free_port

UPDATES_PER_CASE = 13
"""Update-with-start plus the twelve actions of ``case_script``."""

TASK_QUEUE = "bench-cases"
PERSISTENCE_METRIC = "persistence_requests"
PREFECTURE = Actor(role=Role.PREFECTURE, id="bench-prefecture-60", departements=["60"])
CNCCFP = Actor(role=Role.CNCCFP, id="bench-rapporteur")


# --- The script of one case (documents stored before the clock starts) ---------------------


@dataclass
class PreparedCase:
    case_id: str
    opening: OpenCaseInput
    request: RequestEvaluationInput
    steps: list[tuple[Action, BaseModel]]


def _line(invoice_ref: str, document: str, amount_cents: int, day: int) -> ExpenseLineDraft:
    return ExpenseLineDraft(
        category=ExpenseCategory.PREMISES_SECURITY,
        company_name="Gardiennage Picard SARL (fictif)",
        siren="732829320",
        cnaps_authorisation="AUT-060-2124-07-01-20250906336",
        invoice_reference=invoice_ref,
        service_start=dt.date(2026, 2, day),
        service_end=dt.date(2026, 3, 15),
        amount_cents=amount_cents,
        document_refs=[document],
        certification=ALL_CERTIFIED,
    )


async def prepare_case(storage: DocumentStorage, settings: Settings) -> PreparedCase:
    """A new case and every action of its standard shape, its documents stored."""
    candidate_id = f"bench{uuid.uuid4().hex[:12]}"
    case_id = case_workflow_id(DEMO_ELECTION.election_id, candidate_id)
    me = Actor(role=Role.CANDIDATE, id=candidate_id)
    opening = OpenCaseInput(
        election=DEMO_ELECTION,
        candidate_id=candidate_id,
        candidate=CandidateContact(name="Camille Exemple", email=f"{candidate_id}@exemple.test"),
        departement="60",
        prefecture_email="pref-oise-bench@exemple.test",
        candidacy_declared_on=dt.date(2026, 1, 10),
        deposit_deadline=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
        policy=settings.case_policy(),
        cnccfp_email="cnccfp-bench@exemple.test",
        procedure_version=CURRENT_PROCEDURE_VERSION,
    )

    async def doc(kind: DocumentKind, name: str) -> str:
        return await upload_sample(storage, case_id, kind, name)

    complaint = await doc(DocumentKind.COMPLAINT_REPORT, "plainte.pdf")
    proof = await doc(DocumentKind.CANDIDACY_PROOF, "declaration.pdf")
    decision = await doc(DocumentKind.EVALUATION_DECISION, "decision-prefet.pdf")
    mandate = await doc(DocumentKind.MANDATE, "mandat.pdf")
    first_invoice = await doc(DocumentKind.INVOICE, "facture-1.pdf")
    second_invoice = await doc(DocumentKind.INVOICE, "facture-2.pdf")
    answer = await doc(DocumentKind.INVOICE, "bon-de-commande.pdf")
    request = RequestEvaluationInput(
        actor=me, complaint_document_refs=[complaint], candidacy_proof_ref=proof
    )
    steps: list[tuple[Action, BaseModel]] = [
        (
            Action.RECORD_EVALUATION,
            RecordEvaluationInput(
                actor=PREFECTURE,
                recognised=True,
                level=ThreatLevel.ONE,
                decided_on=dt.date(2026, 2, 20),
                decision_document=decision,
            ),
        ),
        (
            Action.MANDATE_THIRD_PARTY,
            MandateThirdPartyInput(
                actor=me,
                third_party_id=f"tiers{candidate_id}",
                name="Dominique Tiers",
                email=f"tiers-{candidate_id}@exemple.test",
                mandate_document=mandate,
            ),
        ),
        (Action.REQUEST_SPACE, RequestSpaceInput(actor=me)),
        (Action.OPEN_SPACE, OpenSpaceInput(actor=CNCCFP)),
        (
            Action.ADD_EXPENSE_LINE,
            AddExpenseLineInput(actor=me, line=_line("F-2026-031", first_invoice, 840_000, 2)),
        ),
        (
            Action.ADD_EXPENSE_LINE,
            AddExpenseLineInput(actor=me, line=_line("F-2026-047", second_invoice, 310_000, 9)),
        ),
        (Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1)),
        (
            Action.SEND_OBSERVATIONS,
            SendObservationsInput(
                actor=CNCCFP, observations="Merci de joindre le bon de commande."
            ),
        ),
        (
            Action.ANSWER_OBSERVATIONS,
            AnswerObservationsInput(
                actor=me, answer="Bon de commande joint.", document_refs=[answer]
            ),
        ),
        (Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=1_150_000)),
        (Action.CONTACT_PREFECTURE, ContactPrefectureInput(actor=me)),
        (
            Action.RECORD_PAYMENT,
            RecordPaymentInput(
                actor=PREFECTURE,
                amount_cents=1_150_000,
                paid_on=dt.datetime.now(PARIS).date(),
                reference="VIR-BENCH-0001",
            ),
        ),
    ]
    if len(steps) + 1 != UPDATES_PER_CASE:
        raise RuntimeError("the baseline must receive as many updates as a case")
    return PreparedCase(case_id, opening, request, steps)


async def timed(latencies: list[float], call: Awaitable[Any]) -> Any:
    started = time.perf_counter()
    result = await call
    latencies.append((time.perf_counter() - started) * 1000)
    return result


async def drive_case(cases: CaseClient, case: PreparedCase, latencies: list[float]) -> str:
    await timed(latencies, cases.open_case(case.opening, case.request))
    for action, payload in case.steps:
        await timed(latencies, cases.act(case.case_id, action, payload))
    await cases.wait_closed(case.case_id)
    return case.case_id


async def drive_trivial(client: Client, latencies: list[float]) -> str:
    workflow_id = f"bench-trivial-{uuid.uuid4().hex[:12]}"
    start = WithStartWorkflowOperation(
        BenchTrivialWorkflow.run,
        id=workflow_id,
        task_queue=TASK_QUEUE,
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


# --- Processes: a dev server with metrics, a worker process --------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a live process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def persistence_requests(metrics_port: int) -> float:
    """The server's persistence requests so far, every operation summed."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    total = 0.0
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name == PERSISTENCE_METRIC:
            total += float(line.rsplit(" ", 1)[1])
    return total


@contextlib.contextmanager
def dev_server(workdir: Path) -> Iterator[tuple[str, int, int]]:
    """A fresh headless dev server: yields its address, metrics port and pid."""
    port, metrics_port = free_port(), free_port()
    command = dev_server_command(
        host="127.0.0.1",
        port=port,
        ui_port=None,
        db_file=workdir / f"temporal-{port}.sqlite",
        extra_args=["--metrics-port", str(metrics_port)],
    )
    with (workdir / f"temporal-{port}.log").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield f"127.0.0.1:{port}", metrics_port, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.asynccontextmanager
async def worker_process(settings: Settings, client: Client) -> AsyncIterator[int]:
    """This module run as a worker (``--worker``) for ``settings``; yields its pid once it polls."""
    command = [
        sys.executable,
        "-m",
        "bench.case_lifecycle",
        "--worker",
        "--address",
        settings.temporal_address,
        "--data-dir",
        str(settings.data_dir),
        "--smtp-port",
        str(settings.smtp_port),
    ]
    with (settings.data_dir / "worker.log").open("w") as log:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                response = await client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=client.namespace,
                        task_queue=TaskQueue(name=TASK_QUEUE),
                        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
                    )
                )
                if response.pollers:
                    break
                if process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the worker did not start: see {log.name}")
                await asyncio.sleep(0.2)
            yield process.pid
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()


def phase_settings(workdir: Path, address: str, smtp_port: int) -> Settings:
    return Settings(
        environment=Environment.TEST,
        data_dir=workdir,
        temporal_address=address,
        smtp_port=smtp_port,
        task_queue=TASK_QUEUE,
        _env_file=None,  # type: ignore[call-arg]
    )


def run_worker_here(address: str, data_dir: Path, smtp_port: int) -> None:
    """The worker process of a phase: every workflow of the project plus the baseline's."""
    from activities import open_activities
    from worker.run import build_worker
    from workflows import WORKFLOWS

    settings = phase_settings(data_dir, address, smtp_port)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        engine = create_engine(settings)
        client = await connect_when_ready(settings)
        async with (
            open_activities(settings, engine) as activities,
            build_worker(
                client, settings, activities, workflows=[*WORKFLOWS, BenchTrivialWorkflow]
            ),
        ):
            await stop.wait()
        await engine.dispose()

    asyncio.run(serve())


# --- One phase ------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def gather_limited(
    count: int, concurrency: int, one: Callable[[int, list[float]], Awaitable[str]]
) -> tuple[float, list[float], list[str], list[str]]:
    """Run ``count`` scenarios, ``concurrency`` at a time; returns seconds, latencies, the ids
    of the scenarios that went through, and the errors of the others (a scenario whose action
    failed is left where it stopped: it is counted, not waited for)."""
    latencies: list[float] = []
    errors: list[str] = []
    gate = asyncio.Semaphore(concurrency)

    async def guarded(index: int) -> str | None:
        async with gate:
            try:
                return await one(index, latencies)
            except Exception as error:  # every failure is a figure of the bench
                errors.append(type(error).__name__)
                return None

    started = time.perf_counter()
    ids = await asyncio.gather(*(guarded(index) for index in range(count)))
    done = [workflow_id for workflow_id in ids if workflow_id is not None]
    return time.perf_counter() - started, latencies, done, errors


async def run_phase(kind: str, count: int, concurrency: int, root: Path) -> dict[str, float]:
    """One phase on a fresh server, worker, mailbox and database; its figures."""
    workdir = root / f"{kind}-{uuid.uuid4().hex[:6]}"
    workdir.mkdir()
    mail = MailServer(workdir / "mail", port=0)
    mail.start()
    try:
        with dev_server(workdir) as (address, metrics_port, server_pid):
            settings = phase_settings(workdir, address, mail.port)
            engine = create_engine(settings)
            await migrate(engine)
            client = await connect_when_ready(settings)
            cases = CaseClient(client, TASK_QUEUE)
            storage = build_storage(settings, engine)
            prepared = []
            if kind == "case":
                prepared = [await prepare_case(storage, settings) for _ in range(count + 1)]
            async with worker_process(settings, client) as worker_pid:
                # Warm up, so that no phase pays the first connections and imports.
                if kind == "case":
                    await drive_case(cases, prepared.pop(), [])
                else:
                    await drive_trivial(client, [])
                server_cpu, worker_cpu = cpu_seconds(server_pid), cpu_seconds(worker_pid)
                requests = persistence_requests(metrics_port)

                async def one(index: int, latencies: list[float]) -> str:
                    if kind == "case":
                        return await drive_case(cases, prepared[index], latencies)
                    return await drive_trivial(client, latencies)

                seconds, latencies, ids, errors = await gather_limited(count, concurrency, one)
                server_cpu = cpu_seconds(server_pid) - server_cpu
                worker_cpu = cpu_seconds(worker_pid) - worker_cpu
                requests = persistence_requests(metrics_port) - requests
                histories = [
                    await client.get_workflow_handle(workflow_id).fetch_history()
                    for workflow_id in ids[:20]
                ]
            await engine.dispose()
        emails = len(mail.store.messages())
    finally:
        mail.stop()
    events = [len(history.events) for history in histories]
    sizes = [sum(event.ByteSize() for event in history.events) for history in histories]
    return {
        "cases_per_s": len(ids) / seconds,
        "errors": float(len(errors)),
        "update_p50_ms": percentile(latencies, 0.50),
        "update_p95_ms": percentile(latencies, 0.95),
        "update_p99_ms": percentile(latencies, 0.99),
        "events_per_case": statistics.mean(events),
        "history_kib_per_case": statistics.mean(sizes) / 1024,
        "server_cpu_s_per_case": server_cpu / count,
        "worker_cpu_s_per_case": worker_cpu / count,
        "persistence_requests_per_case": requests / count,
        "emails_per_case": emails / (count + 1) if kind == "case" else 0.0,
    }


async def main(cases_count: int, concurrency: int, runs: int) -> dict[str, Any]:
    results: dict[str, list[dict[str, float]]] = {"baseline": [], "case": []}
    ratios = []
    with tempfile.TemporaryDirectory(prefix="secupol-bench-") as tmp:
        for run in range(runs):
            order = ["baseline", "case"] if run % 2 == 0 else ["case", "baseline"]
            for kind in order:
                results[kind].append(await run_phase(kind, cases_count, concurrency, Path(tmp)))
            ratios.append(
                results["case"][-1]["cases_per_s"] / results["baseline"][-1]["cases_per_s"]
            )
            sys.stdout.write(
                f"run {run + 1}: baseline {results['baseline'][-1]['cases_per_s']:.2f} cases/s, "
                f"case {results['case'][-1]['cases_per_s']:.2f} cases/s, ratio {ratios[-1]:.3f}\n"
            )

    def median(kind: str, key: str) -> float:
        return round(statistics.median(run[key] for run in results[kind]), 3)

    case, base = results["case"], results["baseline"]
    figures: dict[str, Any] = {
        "cases": cases_count,
        "concurrency": concurrency,
        "runs": runs,
        "baseline_cases_per_s": median("baseline", "cases_per_s"),
        "lifecycle_cases_per_s": median("case", "cases_per_s"),
        "ratio": round(statistics.median(ratios), 3),
        "ratios": [round(ratio, 3) for ratio in ratios],
    }
    for key in case[0]:
        if key != "cases_per_s":
            figures[key] = median("case", key)
    for key in base[0]:
        if key not in ("cases_per_s", "emails_per_case"):
            figures[f"baseline_{key}"] = median("baseline", key)
    sys.stdout.write(
        f"{cases_count} cases per phase, {concurrency} at a time, {UPDATES_PER_CASE} updates "
        f"each, median of {runs} runs\n"
    )
    for label, prefix in (("baseline", "baseline_"), ("case", "")):
        rate = figures["baseline_cases_per_s" if prefix else "lifecycle_cases_per_s"]
        sys.stdout.write(
            f"  {label:8}: {rate:6.2f} cases/s, update p50/p95/p99 "
            f"{figures[prefix + 'update_p50_ms']:.0f}/{figures[prefix + 'update_p95_ms']:.0f}/"
            f"{figures[prefix + 'update_p99_ms']:.0f} ms, "
            f"{figures[prefix + 'events_per_case']:.0f} events "
            f"({figures[prefix + 'history_kib_per_case']:.1f} KiB), server CPU "
            f"{figures[prefix + 'server_cpu_s_per_case'] * 1000:.0f} ms, worker CPU "
            f"{figures[prefix + 'worker_cpu_s_per_case'] * 1000:.0f} ms, "
            f"{figures[prefix + 'persistence_requests_per_case']:.0f} persistence requests "
            "per case\n"
        )
    sys.stdout.write(f"  case/baseline = {figures['ratio']} (runs: {figures['ratios']})\n")
    sys.stdout.write(json.dumps(figures) + "\n")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--smtp-port", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        run_worker_here(arguments.address, arguments.data_dir, arguments.smtp_port)
    else:
        asyncio.run(main(arguments.cases, arguments.concurrency, arguments.runs))
