"""Benchmark: the deposit deadline rush, open loop, through the HTTP API.

Every case of an election shares one deposit deadline, so deposits, reminders and time bars all
fall due together. This bench builds that moment on one machine:

1. Setup (not timed): ``--deposits`` cases of one election, each with a candidate account and a
   session, opened, evaluated, with a space open and ``--lines`` expense lines, driven through
   the gateway as ``bench.api_actions`` does. Every case has the same deposit deadline and the
   same reminders, put inside the window: the deadline at ``--deadline-at`` of the window (0.9),
   the three reminders at 20 %, 45 % and 70 % of it (the compressed D-14, D-3 and D-1), the
   receipt grace at 5 % of it (``--grace`` sets it in seconds: a short window needs a grace
   longer than the time a deposit takes to reach its case); ``--spread`` delays each case's
   reminders by an offset of its own within that share of the window (the policy's
   ``reminder_spread``; 0 by default, every case's in the same second). Because the deadline is
   fixed when a case opens, it is set from ``--setup-rate`` (cases per second); the bench waits
   for the window if the setup was quicker; if it was slower, the window starts late and the
   deadline falls that much earlier in it (``setup_overrun_s``); past 80 % of the time to the
   deadline the bench stops.
2. The window (``--window`` seconds): one deposit per case (``POST /cases/{id}/submission``
   with the candidate's token), the cases in random order, at the times of a Poisson process
   that brings ``--deposits`` in the window (uniform times, sorted), each sent at its time
   whatever the answers before it (open loop). Deposits after the deadline are refused by law
   (``deposit_deadline_passed`` or ``case_time_barred``); the time bar takes those cases.
3. Drain: until every accepted deposit has its acknowledgement in the mailbox and every case is
   ``submitted`` or ``time_barred`` (at most ``--drain-timeout`` seconds).

Each part runs in its own process (``bench.stack``): dev server, worker, API, SMTP mailbox, and
this load generator. Reported: deposits accepted, refused (by HTTP status and code), lost
(answered 2xx but not ``submitted`` in the end), acknowledgement emails (``deposit_acknowledged``
read back from the mailbox: missing, duplicated), reminder and time-bar emails, the deposit
request's p50/p95/p99, the workflow and activity task backlog every ``--sample-every`` seconds
(task queue describe), and the CPU seconds of the server, the worker and the API in the window
and the drain, the server's persistence calls (mean latency, the costliest operations) and the
worker's task latencies (waiting in the queue, running). ``--server-journal rollback`` starts the
dev server with SQLite's default journal instead of the stack's write-ahead log, and
``--server-config KEY=VALUE`` sets its dynamic config, to compare. The last line is a JSON object.

    python -m bench.deadline_rush --deposits 5000 --window 600
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import email.policy
import json
import random
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import httpx

from bench.api_actions import BenchCase, line_fields, prepare_case, seed
from bench.stack import BenchStack, load_average, metric_by_label, percentile, run
from core.accounts import Accounts
from core.cases import STAGE_KEY
from core.settings import Settings
from domain.contracts import CURRENT_PROCEDURE_VERSION, AddExpenseLineInput, CasePolicy
from domain.expenses import ExpenseLineDraft
from domain.stages import Action, Stage
from embedded.temporal_server import SQLITE_PRAGMAS

REMINDERS_AT = (0.20, 0.45, 0.70)
"""When the three deposit reminders fall due, as shares of the window."""
GRACE_SHARE = 0.05
"""The receipt grace (the time bar waits that long after the deadline), as a share of it."""
ACK_TEMPLATE = "deposit_acknowledged"
REMINDER_TEMPLATE = "deposit_reminder"
TIME_BAR_TEMPLATE = "time_barred"
SERVER_JOURNALS = {"wal": SQLITE_PRAGMAS, "rollback": ("journal_mode=delete", "synchronous=full")}
"""``--server-journal``: the dev server's SQLite file as the stack keeps it (a write-ahead log),
or with SQLite's default rollback journal (before ``SQLITE_PRAGMAS``), both synced at commit."""
LEGAL_REFUSALS = {"deposit_deadline_passed", "case_closed", "wrong_stage"}
"""Codes a deposit sent after the deadline may get: the law's answer, not the system failing.
The same codes for a deposit sent before the deadline are errors."""


@dataclass
class Deposit:
    case: BenchCase
    due_s: float
    sent_s: float = 0.0
    status: int | None = None
    code: str | None = None
    latency_ms: float | None = None


@dataclass
class Sample:
    at_s: float
    workflow_backlog: int
    activity_backlog: int
    in_flight: int
    answered: int
    server_cpu_s: float
    worker_cpu_s: float
    worker: dict[str, int] = field(default_factory=dict)
    """The worker's slots in use, cached cases and evictions (``bench.stack.WORKER_GAUGES``)."""


@dataclass
class Plan:
    """The times of the rush, as monotonic seconds of this process and wall-clock datetimes."""

    window_start: float
    window_s: float
    deadline_at: float
    deadline: dt.datetime
    policy: CasePolicy = field(default_factory=CasePolicy)
    overrun_s: float = 0.0
    """How late the setup finished: the window started that much later than planned."""

    @classmethod
    def make(
        cls,
        window_s: float,
        deadline_share: float,
        setup_s: float,
        spread_share: float = 0.0,
        grace_s: float | None = None,
    ) -> Plan:
        now_wall = dt.datetime.now(dt.UTC)
        window_start = time.monotonic() + setup_s
        deadline = now_wall + dt.timedelta(seconds=setup_s + deadline_share * window_s)
        policy = CasePolicy(
            reminder_offsets=[
                dt.timedelta(seconds=(deadline_share - share) * window_s) for share in REMINDERS_AT
            ],
            receipt_grace=dt.timedelta(
                seconds=GRACE_SHARE * window_s if grace_s is None else grace_s
            ),
            reminder_spread=dt.timedelta(seconds=spread_share * window_s),
        )
        return cls(window_start, window_s, deadline_share * window_s, deadline, policy)


async def prepare(
    stack: BenchStack, count: int, lines: int, concurrency: int, plan: Plan
) -> list[BenchCase]:
    """``count`` cases at ``space_open`` with ``lines`` lines each, all on ``plan``'s deadline."""
    tag = uuid.uuid4().hex[:8]
    election = await seed(stack.engine, tag)
    accounts = Accounts(stack.engine, stack.settings)
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> BenchCase:
        async with gate:
            case = await prepare_case(
                stack.cases,
                stack.storage,
                accounts,
                election,
                f"rush{tag}{index}",
                policy=plan.policy,
                deposit_deadline=plan.deadline,
                invoices=lines,
                procedure_version=CURRENT_PROCEDURE_VERSION,
                cnccfp_email=stack.settings.cnccfp_email,
            )
            for number, invoice in enumerate(case.invoices):
                fields = line_fields(election.first_round, f"F-{index}-{number}", invoice)
                await stack.cases.act(
                    case.case_id,
                    Action.ADD_EXPENSE_LINE,
                    AddExpenseLineInput(
                        actor=case.actor, line=ExpenseLineDraft.model_validate(fields)
                    ),
                )
            done.append(case.case_id)
            if len(done) % max(1, count // 10) == 0:
                print(f"  setup: {len(done)} cases, load {load_average()}", flush=True)
            return case

    done: list[str] = []
    return list(await asyncio.gather(*(one(index) for index in range(count))))


async def send_deposit(http: httpx.AsyncClient, deposit: Deposit, origin: float) -> None:
    await asyncio.sleep(max(0.0, origin + deposit.due_s - time.monotonic()))
    deposit.sent_s = time.monotonic() - origin
    started = time.perf_counter()
    try:
        response = await http.post(
            f"/cases/{deposit.case.case_id}/submission",
            json={"rounds_attended": 1},
            headers={"Authorization": f"Bearer {deposit.case.token}"},
        )
    except httpx.HTTPError as error:
        deposit.status, deposit.code = 0, type(error).__name__
        return
    deposit.latency_ms = (time.perf_counter() - started) * 1000
    deposit.status = response.status_code
    if not response.is_success:
        try:
            deposit.code = str(response.json().get("code"))
        except ValueError:
            deposit.code = "not_json"


async def sample_until(
    stack: BenchStack, deposits: list[Deposit], origin: float, every: float, stop: asyncio.Event
) -> list[Sample]:
    samples = []
    while not stop.is_set():
        backlog = await stack.backlog()
        usage = stack.usage()
        answered = sum(1 for d in deposits if d.status is not None)
        started = sum(1 for d in deposits if d.sent_s)
        samples.append(
            Sample(
                round(time.monotonic() - origin, 1),
                backlog["workflow"],
                backlog["activity"],
                started - answered,
                answered,
                usage.server_cpu_s,
                usage.worker_cpu_s,
                await stack.worker_gauges(),
            )
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
    return samples


LATENCIES = {
    "persistence": ("server", "persistence_latency", "operation"),
    "workflow_task": ("worker", "temporal_workflow_task_schedule_to_start_latency", ""),
    "workflow_task_execution": ("worker", "temporal_workflow_task_execution_latency", ""),
    "activity_task": ("worker", "temporal_activity_schedule_to_start_latency", ""),
}
"""Histograms read before the window and after the drain: where a task's time goes. The
server's persistence (its database calls, in seconds, per operation); the worker's workflow
and activity tasks waiting in the queue (schedule to start) and run (milliseconds)."""


async def latency_snapshot(stack: BenchStack) -> dict[str, dict[str, tuple[float, float]]]:
    """Per histogram of ``LATENCIES``, per label value: (sum, count), cumulative."""
    pages = {"server": await stack.server_page(), "worker": await stack.worker_page()}
    snapshot = {}
    for key, (source, name, label) in LATENCIES.items():
        sums = metric_by_label(pages[source], f"{name}_sum", label or "_")
        counts = metric_by_label(pages[source], f"{name}_count", label or "_")
        snapshot[key] = {value: (sums[value], counts.get(value, 0.0)) for value in sums}
    return snapshot


def latency_figures(
    before: dict[str, dict[str, tuple[float, float]]],
    after: dict[str, dict[str, tuple[float, float]]],
) -> dict[str, Any]:
    """Means over the window and the drain, in ms; the server's costliest persistence calls."""

    def delta(key: str) -> dict[str, tuple[float, float]]:
        return {
            value: (
                total - before[key].get(value, (0.0, 0.0))[0],
                count - before[key].get(value, (0.0, 0.0))[1],
            )
            for value, (total, count) in after[key].items()
        }

    def mean(pairs: list[tuple[float, float]], scale: float) -> float | None:
        total = sum(p[0] for p in pairs)
        count = sum(p[1] for p in pairs)
        return round(total / count * scale, 1) if count else None

    persistence = delta("persistence")
    costliest = sorted(persistence.items(), key=lambda item: -item[1][0])[:6]
    return {
        "persistence_ms_mean": mean(list(persistence.values()), 1000),
        "persistence_busy_s": round(sum(p[0] for p in persistence.values()), 1),
        "persistence_costliest": [
            [
                operation,
                int(count),
                round(total / count * 1000, 2) if count else None,
                round(total, 1),
            ]
            for operation, (total, count) in costliest
        ],
        "workflow_task_wait_ms_mean": mean(list(delta("workflow_task").values()), 1),
        "workflow_task_run_ms_mean": mean(list(delta("workflow_task_execution").values()), 1),
        "activity_task_wait_ms_mean": mean(list(delta("activity_task").values()), 1),
    }


def count_emails(stack: BenchStack, addresses: dict[str, str]) -> dict[str, Counter[str]]:
    """Per template, the messages received per case (by distinct Message-ID), and copies.

    Only the headers are read, straight from the mailbox's Maildir files.
    """
    per_template: dict[str, Counter[str]] = {}
    seen: Counter[str] = Counter()
    parser = BytesHeaderParser(policy=email.policy.default)
    for folder in ("new", "cur"):
        for path in (stack.settings.mail_dir / folder).iterdir():
            with path.open("rb") as file:
                headers = parser.parse(file)
            template = str(headers["X-Secupol-Template"])
            case_id = addresses.get(str(headers["To"]).strip().casefold())
            message_id = str(headers["Message-ID"])
            seen[message_id] += 1
            if case_id is None or seen[message_id] > 1:
                continue
            per_template.setdefault(template, Counter())[case_id] += 1
    per_template["_copies"] = Counter({k: v - 1 for k, v in seen.items() if v > 1})
    return per_template


async def final_stages(stack: BenchStack, case_ids: list[str]) -> dict[str, str]:
    gate = asyncio.Semaphore(50)

    async def one(case_id: str) -> tuple[str, str]:
        async with gate:
            description = await stack.cases.handle(case_id).describe()
            return case_id, str(description.typed_search_attributes.get(STAGE_KEY))

    return dict(await asyncio.gather(*(one(case_id) for case_id in case_ids)))


OWED = {Stage.SUBMITTED: ACK_TEMPLATE, Stage.TIME_BARRED: TIME_BAR_TEMPLATE}
"""The email a case owes in each final stage of the rush."""


def all_owed_sent(stages: dict[str, str], emails: dict[str, Counter[str]], cases: int) -> bool:
    """Every one of the ``cases`` is in a final stage and its email is in the mailbox."""
    return len(stages) == cases and all(
        stage in OWED and emails.get(OWED[stage], Counter())[case_id]
        for case_id, stage in stages.items()
    )


async def drain(
    stack: BenchStack, deposits: list[Deposit], addresses: dict[str, str], timeout: float
) -> tuple[float, dict[str, str], dict[str, Counter[str]]]:
    """Wait for the final stages, then for the email each case owes: the acknowledgement of a
    submitted case, the time-bar email of a time-barred one. Returns seconds, stages, emails.

    The emails are read after the stages, in each round: a case that reached its final stage
    while the stages were read has its email counted in the next round, not missed.
    """
    started = time.monotonic()
    stages: dict[str, str] = {}
    while True:
        waiting = [d.case.case_id for d in deposits if stages.get(d.case.case_id) not in OWED]
        stages |= await final_stages(stack, waiting)
        emails = count_emails(stack, addresses)
        if time.monotonic() - started > timeout or all_owed_sent(stages, emails, len(deposits)):
            return time.monotonic() - started, stages, emails
        await asyncio.sleep(10)


async def main(arguments: argparse.Namespace) -> dict[str, Any]:
    count, window = arguments.deposits, arguments.window
    overrides: dict[str, Any] = {}
    if arguments.database_url:
        overrides["database_url"] = arguments.database_url
    for name in (
        "max_cached_workflows",
        "max_concurrent_workflow_tasks",
        "max_concurrent_activities",
        "max_concurrent_local_activities",
    ):
        value = getattr(arguments, name)
        if value is not None:
            overrides[f"worker_{name}"] = value
    with tempfile.TemporaryDirectory(prefix="secupol-rush-") as tmp:
        async with BenchStack(
            Path(tmp),
            api=True,
            overrides=overrides,
            postgres=arguments.postgres,
            server_pragmas=SERVER_JOURNALS[arguments.server_journal],
            server_config=arguments.server_config,
            worker_split=arguments.worker_split,
        ) as stack:
            setup_budget = count / arguments.setup_rate + 5
            plan = Plan.make(
                window, arguments.deadline_at, setup_budget, arguments.spread, arguments.grace
            )
            setup_started = time.monotonic()
            cases = await prepare(stack, count, arguments.lines, arguments.setup_concurrency, plan)
            setup_s = time.monotonic() - setup_started
            # Three seconds to read the counters before the first deposit.
            overrun = time.monotonic() + 3 - plan.window_start
            if overrun > 0.8 * plan.deadline_at:
                raise SystemExit(
                    f"setup took {setup_s:.0f} s, {overrun:.0f} s past the window's start: "
                    f"run again with --setup-rate below {count / setup_s:.2f}"
                )
            if overrun > 0:
                # The deadline and the reminders stay where the cases have them: the window
                # starts late, so they fall that much earlier in it (reported).
                plan.window_start += overrun
                plan.deadline_at -= overrun
                plan.overrun_s = overrun
            print(
                f"setup: {count} cases in {setup_s:.0f} s ({count / setup_s:.2f}/s); window "
                f"starts in {plan.window_start - time.monotonic():.0f} s (overrun "
                f"{max(0.0, overrun):.0f} s); load {load_average()}",
                flush=True,
            )
            rng = random.Random(arguments.seed)
            order = list(cases)
            rng.shuffle(order)
            times = sorted(rng.uniform(0, window) for _ in order)
            deposits = [Deposit(case, due) for case, due in zip(order, times, strict=True)]
            addresses = await candidate_addresses(stack, deposits)
            await asyncio.sleep(max(0.0, plan.window_start - 2 - time.monotonic()))
            origin = plan.window_start
            load_before = load_average()
            persistence_before = await stack.server_metric("persistence_requests")
            latencies_before = await latency_snapshot(stack)
            usage_before = stack.usage()
            await asyncio.sleep(max(0.0, plan.window_start - time.monotonic()))
            stop = asyncio.Event()
            sampler = asyncio.create_task(
                sample_until(stack, deposits, origin, arguments.sample_every, stop)
            )
            limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
            async with httpx.AsyncClient(
                base_url=stack.base_url, timeout=arguments.request_timeout, limits=limits
            ) as http:
                await asyncio.gather(*(send_deposit(http, d, origin) for d in deposits))
            sent_all_s = time.monotonic() - origin
            usage_window = stack.usage().since(usage_before)
            drain_s, stages, emails = await drain(
                stack, deposits, addresses, arguments.drain_timeout
            )
            stop.set()
            samples = await sampler
            usage_total = stack.usage().since(usage_before)
            persistence = await stack.server_metric("persistence_requests") - persistence_before
            timings = latency_figures(latencies_before, await latency_snapshot(stack))
            load_after = load_average()
    return report(
        arguments,
        deposits,
        stages,
        emails,
        samples,
        setup_s,
        sent_all_s,
        drain_s,
        usage_window,
        usage_total,
        persistence,
        timings,
        load_before,
        load_after,
        plan,
        stack.settings,
    )


async def candidate_addresses(stack: BenchStack, deposits: list[Deposit]) -> dict[str, str]:
    """Each candidate's address (casefolded) to their case id."""
    accounts = Accounts(stack.engine, stack.settings)
    addresses = {}
    for deposit in deposits:
        account = await accounts.get(deposit.case.actor.id)
        assert account is not None
        addresses[account.email.casefold()] = deposit.case.case_id
    return addresses


def ack_figures(expected: set[str], received: Counter[str]) -> tuple[int, int, int]:
    """Delivered once, missing, duplicated (extra distinct messages) among ``expected`` cases."""
    once = sum(1 for case_id in expected if received[case_id] == 1)
    missing = sum(1 for case_id in expected if received[case_id] == 0)
    duplicated = sum(max(0, n - 1) for n in received.values())
    duplicated += sum(n for case_id, n in received.items() if case_id not in expected)
    return once, missing, duplicated


def report(
    arguments: argparse.Namespace,
    deposits: list[Deposit],
    stages: dict[str, str],
    emails: dict[str, Counter[str]],
    samples: list[Sample],
    setup_s: float,
    sent_all_s: float,
    drain_s: float,
    usage_window: Any,
    usage_total: Any,
    persistence: float,
    timings: dict[str, Any],
    load_before: str,
    load_after: str,
    plan: Plan,
    settings: Settings,
) -> dict[str, Any]:
    """Print the summary, then the JSON line; returns the JSON's content."""
    accepted = [d for d in deposits if d.status is not None and 200 <= d.status < 300]
    refused = [d for d in deposits if d not in accepted]
    tolerance = 0.5  # the API stamps its own clock: a request in flight at the deadline
    legal = [
        d for d in refused if d.code in LEGAL_REFUSALS and d.sent_s >= plan.deadline_at - tolerance
    ]
    errors = [d for d in refused if d not in legal]
    codes = Counter(f"{d.status} {d.code}" for d in refused)
    lost = [d for d in accepted if stages.get(d.case.case_id) != Stage.SUBMITTED]
    submitted = {case_id for case_id, stage in stages.items() if stage == Stage.SUBMITTED}
    time_barred = {case_id for case_id, stage in stages.items() if stage == Stage.TIME_BARRED}
    ghosts = [d for d in refused if d.case.case_id in submitted]
    acks_once, acks_missing, acks_duplicated = ack_figures(
        submitted, emails.get(ACK_TEMPLATE, Counter())
    )
    bars_once, bars_missing, bars_duplicated = ack_figures(
        time_barred, emails.get(TIME_BAR_TEMPLATE, Counter())
    )
    reminders = sum(emails.get(REMINDER_TEMPLATE, Counter()).values())
    copies = sum(emails.get("_copies", Counter()).values())
    latencies = [d.latency_ms for d in accepted if d.latency_ms is not None]
    all_latencies = [d.latency_ms for d in deposits if d.latency_ms is not None]
    lateness = [max(0.0, d.sent_s - d.due_s) * 1000 for d in deposits if d.sent_s]

    def ms(values: list[float], share: float) -> float | None:
        found = percentile(values, share)
        return None if found is None else round(found, 1)

    figures: dict[str, Any] = {
        "deposits": len(deposits),
        "window_s": arguments.window,
        "lines_per_case": arguments.lines,
        "deadline_at_s": round(plan.deadline_at, 1),
        "grace_s": plan.policy.receipt_grace.total_seconds(),
        "reminder_spread_s": round(arguments.spread * arguments.window, 1),
        "accepted": len(accepted),
        "refused": len(refused),
        "legal_refusals": len(legal),
        "errors": len(errors),
        "refused_by_code": dict(sorted(codes.items())),
        "lost": len(lost),
        "refused_but_submitted": len(ghosts),
        "submitted": len(submitted),
        "time_barred": len(time_barred),
        "acks_delivered_once": acks_once,
        "missing_emails": acks_missing + bars_missing,
        "duplicate_emails": acks_duplicated + bars_duplicated + copies,
        "missing_acks": acks_missing,
        "duplicate_acks": acks_duplicated,
        "time_bar_emails_once": bars_once,
        "reminder_emails": reminders,
        "identical_copies": copies,
        "deposit_p50_ms": ms(latencies, 0.50),
        "deposit_p95_ms": ms(latencies, 0.95),
        "deposit_p99_ms": ms(latencies, 0.99),
        "deposit_max_ms": ms(latencies, 1.0),
        "all_answers_p99_ms": ms(all_latencies, 0.99),
        "send_lateness_p99_ms": ms(lateness, 0.99),
        "last_answer_s": round(sent_all_s, 1),
        "drain_s": round(drain_s, 1),
        "setup_s": round(setup_s, 1),
        "setup_overrun_s": round(plan.overrun_s, 1),
        "workflow_backlog_max": max((s.workflow_backlog for s in samples), default=None),
        "activity_backlog_max": max((s.activity_backlog for s in samples), default=None),
        "in_flight_max": max((s.in_flight for s in samples), default=None),
        "workflow_slots_max": max((s.worker["workflow_slots"] for s in samples), default=None),
        "activity_slots_max": max((s.worker["activity_slots"] for s in samples), default=None),
        "local_activity_slots_max": max(
            (s.worker["local_activity_slots"] for s in samples), default=None
        ),
        "cache_evictions": samples[-1].worker["evictions"] - samples[0].worker["evictions"]
        if samples
        else None,
        "max_cached_workflows": settings.worker_max_cached_workflows,
        "max_concurrent_workflow_tasks": settings.worker_max_concurrent_workflow_tasks,
        "max_concurrent_activities": settings.worker_max_concurrent_activities,
        "server_cpu_s": usage_total.server_cpu_s,
        "worker_cpu_s": usage_total.worker_cpu_s,
        "api_cpu_s": usage_total.api_cpu_s,
        "server_cpu_s_window": usage_window.server_cpu_s,
        "worker_cpu_s_window": usage_window.worker_cpu_s,
        "persistence_requests_per_deposit": round(persistence / max(1, len(deposits)), 1),
        "server_journal": arguments.server_journal,
        "worker_split": arguments.worker_split,
        "server_config": arguments.server_config,
        **timings,
        "load_before": load_before,
        "load_after": load_after,
        "backlog": [
            [
                s.at_s,
                s.workflow_backlog,
                s.activity_backlog,
                s.in_flight,
                s.worker["workflow_slots"],
                s.worker["activity_slots"],
                s.worker["cached"],
            ]
            for s in samples
        ],
    }
    print(
        f"{len(deposits)} deposits over {arguments.window:g} s (deadline at "
        f"{plan.deadline_at:.0f} s, grace {plan.policy.receipt_grace.total_seconds():.0f} s), "
        f"{arguments.lines} lines per case; setup {setup_s:.0f} s; load {load_before} -> "
        f"{load_after}"
    )
    print(
        f"{'t (s)':>7} {'wf backlog':>10} {'act backlog':>11} {'in flight':>9} "
        f"{'answered':>8} {'server cpu':>10} {'worker cpu':>10} {'wf slots':>8} "
        f"{'act slots':>9} {'cached':>6}"
    )
    for s in samples:
        print(
            f"{s.at_s:7.0f} {s.workflow_backlog:10d} {s.activity_backlog:11d} "
            f"{s.in_flight:9d} {s.answered:8d} {s.server_cpu_s:10.1f} {s.worker_cpu_s:10.1f} "
            f"{s.worker['workflow_slots']:8d} {s.worker['activity_slots']:9d} "
            f"{s.worker['cached']:6d}"
        )
    print(
        f"  accepted {len(accepted)}, refused {len(refused)} ({len(legal)} after the deadline, "
        f"{len(errors)} errors): {dict(codes)}"
    )
    print(
        f"  lost {len(lost)}; final stages: {len(submitted)} submitted, {len(time_barred)} "
        f"time-barred; refused but submitted {len(ghosts)}"
    )
    print(
        f"  acknowledgements: {acks_once} once, {acks_missing} missing, {acks_duplicated} "
        f"duplicated; time-bar emails {bars_once} once, {bars_missing} missing; reminders "
        f"{reminders}; identical copies {copies}"
    )
    print(
        f"  deposit p50 {figures['deposit_p50_ms']} ms, p95 {figures['deposit_p95_ms']} ms, "
        f"p99 {figures['deposit_p99_ms']} ms, max {figures['deposit_max_ms']} ms; sends late "
        f"p99 {figures['send_lateness_p99_ms']} ms; last answer at {sent_all_s:.0f} s, drained "
        f"{drain_s:.0f} s later"
    )
    print(
        f"  CPU s (window + drain): server {usage_total.server_cpu_s}, worker "
        f"{usage_total.worker_cpu_s}, api {usage_total.api_cpu_s}; server persistence "
        f"requests per deposit {figures['persistence_requests_per_deposit']}"
    )
    print(
        f"  server persistence: {timings['persistence_busy_s']} s busy, mean "
        f"{timings['persistence_ms_mean']} ms ({arguments.server_journal} journal); costliest "
        f"{timings['persistence_costliest'][:3]}; workflow tasks waited "
        f"{timings['workflow_task_wait_ms_mean']} ms, ran "
        f"{timings['workflow_task_run_ms_mean']} ms; activities waited "
        f"{timings['activity_task_wait_ms_mean']} ms (means)"
    )
    for deposit in errors[:5]:
        print(
            f"  error: {deposit.case.case_id} sent at {deposit.sent_s:.1f} s: "
            f"{deposit.status} {deposit.code}"
        )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deposits", type=int, default=5000, help="cases, one deposit each")
    parser.add_argument("--window", type=float, default=600.0, help="seconds of arrivals")
    parser.add_argument("--lines", type=int, default=2, help="expense lines per case")
    parser.add_argument(
        "--deadline-at", type=float, default=0.9, help="the deadline, as a share of the window"
    )
    parser.add_argument(
        "--setup-rate",
        type=float,
        default=4.0,
        help="cases per second the setup is expected to reach (it fixes the deadline)",
    )
    parser.add_argument("--setup-concurrency", type=int, default=20)
    parser.add_argument(
        "--spread",
        type=float,
        default=0.0,
        help="each case's reminders later by an offset of its own, within this share of the "
        "window (the policy's reminder_spread; 0: every case's in the same second)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=None,
        help="the receipt grace in seconds: the time bar waits that long after the deadline "
        "(default: 5 %% of the window)",
    )
    parser.add_argument(
        "--server-journal",
        choices=sorted(SERVER_JOURNALS),
        default="wal",
        help="how the dev server keeps its SQLite file (default: as the stack does, wal)",
    )
    parser.add_argument(
        "--server-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dynamic config value of the dev server (repeat it), e.g. "
        "matching.numTaskqueueReadPartitions=1",
    )
    parser.add_argument(
        "--worker-split",
        action="store_true",
        help="two worker processes, one for workflow tasks and one for activities "
        "(SECUPOL_WORKER_ROLE), instead of one running both",
    )
    parser.add_argument("--sample-every", type=float, default=None, help="default: window / 60")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file")
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="the app database: a fresh one on this PostgreSQL server (postgresql://user@host)",
    )
    for option in (
        "max-cached-workflows",
        "max-concurrent-workflow-tasks",
        "max-concurrent-activities",
        "max-concurrent-local-activities",
    ):
        parser.add_argument(
            f"--{option}",
            type=int,
            default=None,
            help="the worker's setting (default: Settings' default)",
        )
    parsed = parser.parse_args()
    if parsed.sample_every is None:
        parsed.sample_every = max(1.0, parsed.window / 60)
    if parsed.deposits < 1 or parsed.window <= 0 or not 0 < parsed.deadline_at <= 1:
        parser.error("--deposits ≥ 1, --window > 0, 0 < --deadline-at ≤ 1")
    result = run(main(parsed))
    raise SystemExit(1 if result["errors"] or result["lost"] else 0)
