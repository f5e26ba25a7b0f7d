"""Benchmark: one API action against the same Temporal update sent directly, in one run.

The action is ``add_expense_line``. ``--clients`` clients (50 by default) each own one case at
the stage ``space_open`` and send ``--actions`` lines (20 by default) one after the other:

- direct: ``CaseClient.act(case_id, Action.ADD_EXPENSE_LINE, ...)``, the Temporal update as the
  API itself sends it;
- api: ``POST /cases/{case_id}/expense-lines`` with the candidate's Bearer token, one
  ``httpx.AsyncClient`` (one keep-alive connection) per client, to the real ``create_app()``
  served by uvicorn. On top of the update this adds HTTP, the session lookup, the scope check,
  the two audit-log writes and the serialisation of the case as the API shows it.

Each request is timed with ``time.perf_counter`` from the call to its answer. The two modes act on
two disjoint sets of cases, all prepared the same way, so that line ``n`` of a case lands on a
case of the same size in both modes.

Order: the direct phase runs first, then the API phase, each as one uninterrupted burst. Each
mode's throughput is measured in the steady state of a single burst (alternating short blocks
would make the ramp-up and the tail of every block weigh in). Nothing carries over from the first
phase: both paths are warmed up beforehand on cases of their own, and the registry checks that
every new line starts in the background are drained before the API phase begins. The only drift
left (a Temporal database grown by the direct phase's histories) can only slow the API phase:
the measured overhead errs on the side of too large.

Everything runs in this process on one event loop: a fresh Temporal dev server (a subprocess), an
SMTP server on loopback, a SQLite app database, the worker, uvicorn and the clients. On a 2-core
machine the figures are those of the whole system on one box, and the API figures include the
client side of HTTP as well as the server side.

Prints a human summary, then as its last line a JSON object with ``api`` and ``direct``
(``p50_ms``, ``p95_ms``, ``p99_ms``, ``actions_per_s``), ``ratio_p50``, ``ratio_p95``,
``ratio_p99`` (api / direct) and ``errors``. A non-2xx answer or a refused update is an error; the
bench exits 1 if there was any.

    python -m bench.api_actions --clients 50 --actions 20
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import open_activities
from api.main import create_app
from api.serving import serving
from api.staff import add_election, set_prefecture
from bench.case_lifecycle import percentile
from core.accounts import Accounts
from core.cases import CaseClient
from core.db import create_engine, migrate
from core.settings import Environment, Settings
from core.storage import DocumentStorage, build_storage
from core.temporal import connect_when_ready
from domain.calendar import PARIS
from domain.contracts import (
    Actor,
    AddExpenseLineInput,
    CandidateContact,
    CasePolicy,
    ElectionInfo,
    OpenCaseInput,
    OpenSpaceInput,
    RecordEvaluationInput,
    RequestSpaceInput,
)
from domain.documents import DocumentKind
from domain.expenses import ALL_CERTIFIED, MAX_LINES, ExpenseLineDraft
from domain.ids import case_workflow_id
from domain.money import ThreatLevel
from domain.stages import Action, Role, Stage
from embedded.demo import evaluation_request, upload_sample
from embedded.mailbox import MailServer
from embedded.temporal_server import free_port, running_dev_server
from worker.run import build_worker

DEPARTEMENT = "60"
PREFECTURE = Actor(role=Role.PREFECTURE, id="bench-prefecture-60", departements=[DEPARTEMENT])
CNCCFP = Actor(role=Role.CNCCFP, id="bench-cnccfp")
INVOICES_PER_CASE = 3
WARMUP_ACTIONS = 10
"""Requests of each mode sent before timing, on a case of their own."""
SETUP_CONCURRENCY = 20
ERRORS_SHOWN = 5


@dataclass
class BenchCase:
    """A case at ``space_open``, its candidate, and the invoices its lines may cite."""

    case_id: str
    actor: Actor
    token: str
    invoices: list[str]


@dataclass
class Phase:
    """What one mode measured."""

    mode: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def figures(self) -> dict[str, Any]:
        if not self.latencies:
            return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "actions_per_s": 0.0}
        return {
            "p50_ms": round(percentile(self.latencies, 0.50), 2),
            "p95_ms": round(percentile(self.latencies, 0.95), 2),
            "p99_ms": round(percentile(self.latencies, 0.99), 2),
            "actions_per_s": round(len(self.latencies) / self.seconds, 1),
        }


def line_fields(first_round: dt.date, invoice_reference: str, document_id: str) -> dict[str, Any]:
    """A valid expense line as the API's JSON body (and ``ExpenseLineDraft``) takes it."""
    return {
        "category": "premises_security",
        "company_name": "Gardiennage Picard SARL (fictif)",
        "siren": "732829320",
        "cnaps_authorisation": "AUT-060-2124-07-01-20250906336",
        "invoice_reference": invoice_reference,
        "service_start": (first_round - dt.timedelta(days=30)).isoformat(),
        "service_end": first_round.isoformat(),
        "amount_cents": 840_000,
        "document_refs": [document_id],
        "certification": ALL_CERTIFIED.model_dump(),
    }


def nth_line(case: BenchCase, first_round: dt.date, index: int, prefix: str) -> dict[str, Any]:
    """The ``index``-th line of a case: its own invoice reference, one of the case's invoices."""
    invoice = case.invoices[index % len(case.invoices)]
    return line_fields(first_round, f"F-{prefix}-{index:04d}", invoice)


async def prepare_case(
    cases: CaseClient,
    storage: DocumentStorage,
    accounts: Accounts,
    election: ElectionInfo,
    label: str,
    *,
    policy: CasePolicy | None = None,
    deposit_deadline: dt.datetime | None = None,
    invoices: int = INVOICES_PER_CASE,
    procedure_version: int = 1,
    cnccfp_email: str | None = None,
) -> BenchCase:
    """A candidate account with a session, and its case brought to ``space_open`` directly.

    ``policy`` defaults to one without reminders; ``deposit_deadline`` to the election's legal
    deadline (``bench.deadline_rush`` sets both, to put the rush inside its window, and opens
    its cases at the current procedure version, as the API does).
    """
    account = await accounts.create(
        email=f"{label}@exemple.test", display_name=f"Candidat {label}", role=Role.CANDIDATE
    )
    await accounts.confirm(account.account_id)
    token = await accounts.open_session(account.account_id)
    me = Actor(role=Role.CANDIDATE, id=account.account_id)
    opening = OpenCaseInput(
        election=election,
        candidate_id=account.account_id,
        candidate=CandidateContact(name=account.display_name, email=account.email),
        departement=DEPARTEMENT,
        prefecture_email="pref-60-bench@interieur.example.test",
        candidacy_declared_on=election.first_round - dt.timedelta(days=120),
        policy=policy or CasePolicy(reminder_offsets=[]),
        deposit_deadline=deposit_deadline,
        procedure_version=procedure_version,
        cnccfp_email=cnccfp_email,
    )
    case_id = case_workflow_id(election.election_id, account.account_id)
    await cases.open_case(opening, await evaluation_request(me, storage, case_id))
    decision = await upload_sample(
        storage, case_id, DocumentKind.EVALUATION_DECISION, "decision.pdf"
    )
    await cases.act(
        case_id,
        Action.RECORD_EVALUATION,
        RecordEvaluationInput(
            actor=PREFECTURE,
            recognised=True,
            level=ThreatLevel.ONE,
            decided_on=dt.datetime.now(PARIS).date() - dt.timedelta(days=1),
            decision_document=decision,
        ),
    )
    await cases.act(case_id, Action.REQUEST_SPACE, RequestSpaceInput(actor=me))
    state = await cases.act(case_id, Action.OPEN_SPACE, OpenSpaceInput(actor=CNCCFP))
    if state.stage != Stage.SPACE_OPEN:
        raise RuntimeError(f"{case_id} is at {state.stage.value}, not space_open")
    invoice_ids = [
        await upload_sample(storage, case_id, DocumentKind.INVOICE, f"facture-{n}.pdf")
        for n in range(invoices)
    ]
    return BenchCase(case_id=case_id, actor=me, token=token, invoices=invoice_ids)


async def prepare_cases(
    count: int,
    cases: CaseClient,
    storage: DocumentStorage,
    accounts: Accounts,
    election: ElectionInfo,
    tag: str,
) -> list[BenchCase]:
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(index: int) -> BenchCase:
        async with gate:
            return await prepare_case(cases, storage, accounts, election, f"bench{tag}{index}")

    return list(await asyncio.gather(*(one(index) for index in range(count))))


async def drain(cases: CaseClient, bench_cases: list[BenchCase], timeout: float = 300.0) -> None:
    """Wait until every line of these cases has had its registry checks (background work)."""
    deadline = time.monotonic() + timeout
    for case in bench_cases:
        while True:
            state = await cases.state(case.case_id)
            checked = sum(1 for check in state.line_checks if check.checked_at is not None)
            if checked >= len(state.expense_lines):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the registry checks of {case.case_id} did not finish")
            await asyncio.sleep(0.1)


async def run_phase(
    mode: str,
    bench_cases: list[BenchCase],
    actions: int,
    send: Callable[[int, BenchCase, int], Awaitable[str | None]],
) -> Phase:
    """Every client sends ``actions`` requests in a row, all clients at once.

    ``send(client, case, index)`` returns None on success, else a description of the error.
    """
    phase = Phase(mode)

    async def client(number: int, case: BenchCase) -> None:
        for index in range(actions):
            started = time.perf_counter()
            error = await send(number, case, index)
            elapsed_ms = (time.perf_counter() - started) * 1000
            if error is None:
                phase.latencies.append(elapsed_ms)
            else:
                phase.errors.append(error)

    gc.collect()
    started = time.perf_counter()
    await asyncio.gather(*(client(n, case) for n, case in enumerate(bench_cases)))
    phase.seconds = time.perf_counter() - started
    return phase


def direct_sender(
    cases: CaseClient, first_round: dt.date, prefix: str
) -> Callable[[int, BenchCase, int], Awaitable[str | None]]:
    async def send(_client: int, case: BenchCase, index: int) -> str | None:
        line = ExpenseLineDraft.model_validate(nth_line(case, first_round, index, prefix))
        try:
            await cases.act(
                case.case_id,
                Action.ADD_EXPENSE_LINE,
                AddExpenseLineInput(actor=case.actor, line=line),
            )
        except Exception as error:  # every failure is counted and shown, none stops the bench
            return f"direct {case.case_id}: {type(error).__name__}: {error}"
        return None

    return send


def api_sender(
    https: list[httpx.AsyncClient], first_round: dt.date, prefix: str
) -> Callable[[int, BenchCase, int], Awaitable[str | None]]:
    async def send(client: int, case: BenchCase, index: int) -> str | None:
        try:
            response = await https[client].post(
                f"/cases/{case.case_id}/expense-lines",
                json=nth_line(case, first_round, index, prefix),
            )
        except httpx.HTTPError as error:
            return f"api {case.case_id}: {type(error).__name__}: {error}"
        if not response.is_success:
            return f"api {case.case_id}: HTTP {response.status_code} {response.text[:300]}"
        return None

    return send


async def open_http(base_url: str, bench_cases: list[BenchCase]) -> list[httpx.AsyncClient]:
    """One client per case, its connection opened and its token checked (not timed)."""
    https = [
        httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {case.token}"}, timeout=120.0
        )
        for case in bench_cases
    ]
    for http in https:
        response = await http.get("/auth/me")
        if response.status_code != 200:
            raise RuntimeError(f"GET /auth/me answered {response.status_code}: {response.text}")
    return https


async def seed(engine: AsyncEngine, tag: str) -> ElectionInfo:
    """The election the cases belong to, and the prefecture of the département."""
    first_round = dt.datetime.now(PARIS).date() - dt.timedelta(days=10)
    election = ElectionInfo(
        election_id=f"bench-{tag}",
        label="Banc d'essai",
        first_round=first_round,
        second_round=first_round + dt.timedelta(days=7),
    )
    await add_election(
        engine,
        election_id=election.election_id,
        election_type="municipales",
        label=election.label,
        first_round=election.first_round,
        second_round=election.second_round,
    )
    await set_prefecture(engine, DEPARTEMENT, "pref-60-bench@interieur.example.test")
    return election


async def measure(
    settings: Settings,
    engine: AsyncEngine,
    cases: CaseClient,
    storage: DocumentStorage,
    clients: int,
    actions: int,
) -> tuple[Phase, Phase, float]:
    """Set up, warm up, then the direct phase and the API phase; returns them and setup time."""
    tag = uuid.uuid4().hex[:8]
    setup_started = time.perf_counter()
    election = await seed(engine, tag)
    accounts = Accounts(engine, settings)
    prepared = await prepare_cases(2 * clients + 2, cases, storage, accounts, election, tag)
    warm_direct, warm_api = prepared[:2]
    direct_cases = prepared[2 : 2 + clients]
    api_cases = prepared[2 + clients :]
    setup_s = time.perf_counter() - setup_started
    first_round = election.first_round

    https: list[httpx.AsyncClient] = []
    async with serving(create_app(settings), settings.api_port) as base_url:
        try:
            https = await open_http(base_url, [warm_api, *api_cases])
            warm_http, api_https = https[0], https[1:]
            # Warm-up of both paths, on cases of their own (never timed).
            warm = [
                await direct_sender(cases, first_round, "W")(0, warm_direct, index)
                for index in range(WARMUP_ACTIONS)
            ] + [
                await api_sender([warm_http], first_round, "W")(0, warm_api, index)
                for index in range(WARMUP_ACTIONS)
            ]
            failed = [error for error in warm if error is not None]
            if failed:
                raise RuntimeError(f"warm-up failed: {failed[0]}")
            await drain(cases, [warm_direct, warm_api])

            direct = await run_phase(
                "direct", direct_cases, actions, direct_sender(cases, first_round, "B")
            )
            await drain(cases, direct_cases)
            api = await run_phase(
                "api", api_cases, actions, api_sender(api_https, first_round, "B")
            )
            await drain(cases, api_cases)
        finally:
            for http in https:
                await http.aclose()
    return direct, api, setup_s


def report(clients: int, actions: int, direct: Phase, api: Phase, setup_s: float) -> dict[str, Any]:
    """Print the summary, then the JSON line; returns the JSON's content."""
    figures: dict[str, Any] = {
        "clients": clients,
        "actions_per_client": actions,
        "api": api.figures(),
        "direct": direct.figures(),
    }
    for share in ("p50", "p95", "p99"):
        api_ms = figures["api"][f"{share}_ms"]
        direct_ms = figures["direct"][f"{share}_ms"]
        figures[f"ratio_{share}"] = round(api_ms / direct_ms, 3) if api_ms and direct_ms else None
    api_p50, direct_p50 = figures["api"]["p50_ms"], figures["direct"]["p50_ms"]
    overhead = round(api_p50 - direct_p50, 2) if api_p50 and direct_p50 else None
    figures["api_overhead_p50_ms"] = overhead
    figures["errors"] = len(direct.errors) + len(api.errors)

    print(
        f"add_expense_line: {clients} clients x {actions} actions per mode, each client on its "
        f"own case (setup of {2 * clients + 2} cases took {setup_s:.1f} s)"
    )
    for phase in (direct, api):
        shown = figures[phase.mode]
        print(
            f"  {phase.mode:<6}: {len(phase.latencies)} ok, {len(phase.errors)} errors in "
            f"{phase.seconds:.1f} s = {shown['actions_per_s']} actions/s; "
            f"p50 {shown['p50_ms']} ms, p95 {shown['p95_ms']} ms, p99 {shown['p99_ms']} ms"
        )
    print(
        f"  API overhead at p50: {overhead} ms; api/direct p50 {figures['ratio_p50']}, "
        f"p95 {figures['ratio_p95']}, p99 {figures['ratio_p99']}"
    )
    for error in (direct.errors + api.errors)[:ERRORS_SHOWN]:
        print(f"  error: {error}")
    print(json.dumps(figures))
    return figures


async def main(clients: int, actions: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="secupol-bench-api-") as tmp:
        workdir = Path(tmp)
        mail = MailServer(workdir / "mail", port=0)
        mail.start()
        try:
            with running_dev_server(workdir) as address:
                port = free_port()
                settings = Settings(
                    environment=Environment.TEST,
                    data_dir=workdir,
                    temporal_address=address,
                    smtp_port=mail.port,
                    api_port=port,
                    public_url=f"http://127.0.0.1:{port}",
                    task_queue=f"bench-api-{uuid.uuid4().hex[:8]}",
                    _env_file=None,  # type: ignore[call-arg]
                )
                engine = create_engine(settings)
                try:
                    await migrate(engine)
                    client = await connect_when_ready(settings)
                    cases = CaseClient(client, settings.task_queue)
                    async with (
                        build_storage(settings, engine) as storage,
                        open_activities(settings, engine) as activities,
                        build_worker(client, settings, activities),
                    ):
                        direct, api, setup_s = await measure(
                            settings, engine, cases, storage, clients, actions
                        )
                finally:
                    await engine.dispose()
        finally:
            mail.stop()
    return report(clients, actions, direct, api, setup_s)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients per mode")
    parser.add_argument("--actions", type=int, default=20, help="requests per client per mode")
    arguments = parser.parse_args()
    if arguments.clients < 1 or not 1 <= arguments.actions <= MAX_LINES:
        parser.error(f"--clients must be at least 1 and --actions between 1 and {MAX_LINES}")
    result = asyncio.run(main(arguments.clients, arguments.actions))
    raise SystemExit(1 if result["errors"] else 0)
