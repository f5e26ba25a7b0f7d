"""The whole stack as separate processes, for the benches that measure one process at a time.

``deadline_rush`` and ``idle_cases`` need the worker's own CPU seconds and memory, the dev
server's, and load that does not share an interpreter with what it measures. ``BenchStack``
starts, each in its own process, as production runs them:

- the Temporal dev server on a SQLite file, with its Prometheus metrics on ``metrics_port``
  (``tests/faults/stack.DevServer``);
- the SMTP mailbox (``python -m embedded.mailbox serve``), read back through ``MailStore``;
- the worker (``python -m worker``), with the ``SECUPOL_*`` variables of ``settings``
  (``tests/faults/stack.WorkerProcess``): the sizing settings reach it that way;
- optionally the API (``python -m api``).

The bench process itself holds a Temporal client, the app database engine and the document
storage, to prepare cases and read the results.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from core.cases import CaseClient
from core.db import create_engine, migrate
from core.settings import Environment, Settings, WorkerRole
from core.storage import DocumentStorage, build_storage
from core.temporal import connect_when_ready
from domain.contracts import CaseState, OpenCaseInput, RequestEvaluationInput
from domain.stages import Action
from embedded.mailbox import MailStore
from embedded.temporal_server import SQLITE_PRAGMAS, free_port
from tests.faults.stack import ROOT, DevServer, WorkerProcess, process_env

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STARTUP_TIMEOUT_S = 90.0
SETUP_ATTEMPTS = 10
TRANSIENT = {
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,
    # A workflow task that timed out on an overloaded worker: the update is refused until the
    # next task runs (``WorkflowNotReadyFailure``).
    RPCStatusCode.FAILED_PRECONDITION,
}


class PatientCases(CaseClient):
    """``CaseClient`` for a bench's setup on a loaded machine: an action whose acceptance the
    server did not confirm in time is sent again under the same update id (so it applies once),
    instead of failing the whole setup."""

    async def act(
        self, case_id: str, action: Action, input: BaseModel, *, request_id: str | None = None
    ) -> CaseState:
        update_id = request_id or f"bench-{action.value}-{uuid.uuid4().hex}"
        for attempt in range(1, SETUP_ATTEMPTS + 1):
            try:
                return await super().act(case_id, action, input, request_id=update_id)
            except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as error:
                if attempt == SETUP_ATTEMPTS or not _transient(error):
                    raise
                await asyncio.sleep(attempt)
        raise AssertionError("unreachable")

    async def open_case(
        self,
        input: OpenCaseInput,
        request: RequestEvaluationInput,
        *,
        request_id: str | None = None,
    ) -> CaseState:
        for attempt in range(1, SETUP_ATTEMPTS + 1):
            try:
                # The opening's update id is derived from the case id: a retry is idempotent.
                return await super().open_case(input, request, request_id=request_id)
            except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as error:
                if attempt == SETUP_ATTEMPTS or not _transient(error):
                    raise
                await asyncio.sleep(attempt)
        raise AssertionError("unreachable")


def _transient(error: Exception) -> bool:
    if isinstance(error, WorkflowUpdateRPCTimeoutOrCancelledError):
        return True
    return isinstance(error, RPCError) and error.status in TRANSIENT


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a live process has used (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of proc(5) (utime, stime), counted from the state (field 3).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mib(pid: int) -> tuple[float, float]:
    """Resident memory now and at its peak (``VmRSS``, ``VmHWM``), in MiB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def load_average() -> str:
    """The machine's 1, 5 and 15-minute load (the benches share it with other work)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(main: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(main)``, where SIGTERM and SIGINT cancel ``main``: the stack's processes are
    stopped on the way out instead of being left behind."""

    async def cancellable() -> Any:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()

        def stop() -> None:
            task.cancel()
            # A client call the cancellation does not reach must not keep the process alive.
            loop.call_later(60, os._exit, 1)

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop)
        return await task

    return asyncio.run(cancellable())


class ModuleProcess:
    """``python -m <module> <args>`` with the ``SECUPOL_*`` variables of ``settings``."""

    def __init__(
        self, module: str, settings: Settings, workdir: Path, args: Sequence[str] = ()
    ) -> None:
        self.module = module
        self.settings = settings
        self.workdir = workdir
        self.args = list(args)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.module} not running"
        return self._process.pid

    def start(self) -> None:
        name = self.module.replace(".", "-")
        cwd = self.workdir / f"{name}-cwd"  # no .env file of the checkout is read
        cwd.mkdir(exist_ok=True)
        env = process_env(self.settings)
        env["PYTHONPATH"] = str(ROOT)
        with (self.workdir / f"{name}.log").open("a") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self, timeout: float = 60) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Usage:
    """CPU seconds of the server and the worker between two readings."""

    server_cpu_s: float
    worker_cpu_s: float
    api_cpu_s: float | None

    def since(self, earlier: Usage) -> Usage:
        return Usage(
            round(self.server_cpu_s - earlier.server_cpu_s, 1),
            round(self.worker_cpu_s - earlier.worker_cpu_s, 1),
            None
            if self.api_cpu_s is None or earlier.api_cpu_s is None
            else round(self.api_cpu_s - earlier.api_cpu_s, 1),
        )


@dataclass
class BenchStack:
    """Dev server, mailbox, worker and (``api=True``) API, each its own process.

    Use as ``async with BenchStack(workdir, ...) as stack``; ``overrides`` are ``Settings``
    fields given to every process (the worker's sizing, the database URL).
    """

    workdir: Path
    api: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    postgres: str | None = None
    """A PostgreSQL server URL (``postgresql://user@host:port``): the app database is a fresh
    database there, dropped at the end, instead of a SQLite file (which three processes writing
    at once on a loaded machine can hold locked longer than its busy timeout)."""
    server_pragmas: Sequence[str] = SQLITE_PRAGMAS
    """How the dev server keeps its SQLite file (``embedded.temporal_server.SQLITE_PRAGMAS``)."""
    server_config: Sequence[str] = ()
    """Dynamic configuration of the dev server, ``KEY=VALUE`` (JSON values), for experiments."""
    worker_split: bool = False
    """Two worker processes instead of one: the cases' workflow tasks in one, their activities in
    the other (``worker_role``). ``usage`` and the worker's metrics then add up both."""
    server: DevServer = field(init=False)
    metrics_port: int = field(init=False)
    settings: Settings = field(init=False)
    mailbox: ModuleProcess = field(init=False)
    worker: WorkerProcess = field(init=False)
    activity_worker: WorkerProcess | None = field(init=False, default=None)
    api_process: ModuleProcess | None = field(init=False, default=None)
    client: Client = field(init=False)
    cases: PatientCases = field(init=False)
    engine: AsyncEngine = field(init=False)
    storage: DocumentStorage = field(init=False)
    mail: MailStore = field(init=False)

    async def __aenter__(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.postgres:
            self.overrides["database_url"] = await create_database(self.postgres)
        self.metrics_port = free_port()
        self.server = DevServer(
            self.workdir,
            extra_args=[
                "--metrics-port",
                str(self.metrics_port),
                *(arg for pair in self.server_config for arg in ("--dynamic-config-value", pair)),
            ],
            sqlite_pragmas=self.server_pragmas,
        )
        api_port = free_port()
        values: dict[str, Any] = {
            "environment": Environment.TEST,
            "data_dir": self.workdir,
            "temporal_address": self.server.address,
            "smtp_host": "127.0.0.1",
            "smtp_port": free_port(),
            "api_port": api_port,
            "public_url": f"http://127.0.0.1:{api_port}",
            "task_queue": f"bench-{uuid.uuid4().hex[:8]}",
            "worker_metrics_address": f"127.0.0.1:{free_port()}",
            "log_level": "WARNING",
            "retention_schedule_enabled": False,
            **self.overrides,
        }
        self.settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        self.server.start()
        self.mailbox = ModuleProcess("embedded.mailbox", self.settings, self.workdir, ["serve"])
        self.mailbox.start()
        self.mail = MailStore(self.settings.mail_dir)
        self.engine = create_engine(self.settings)
        try:
            await migrate(self.engine)
            self.client = await connect_when_ready(self.settings)
            self.cases = PatientCases(self.client, self.settings.task_queue)
            self.storage = build_storage(self.settings, self.engine)
            worker_settings = self.settings
            if self.worker_split:
                worker_settings = self.settings.model_copy(
                    update={"worker_role": WorkerRole.WORKFLOWS}
                )
                activities = self.settings.model_copy(
                    update={
                        "worker_role": WorkerRole.ACTIVITIES,
                        "worker_metrics_address": f"127.0.0.1:{free_port()}",
                    }
                )
                (self.workdir / "activities").mkdir(exist_ok=True)
                self.activity_worker = WorkerProcess(activities, self.workdir / "activities")
                self.activity_worker.start()
            self.worker = WorkerProcess(worker_settings, self.workdir)
            self.worker.start()
            await self._wait_for_pollers()
            if self.api:
                self.api_process = ModuleProcess("api", self.settings, self.workdir)
                self.api_process.start()
                await self._wait_for_api()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop every process, each even if stopping another failed."""
        # A failed start leaves the later fields unset.
        workers = [getattr(self, "worker", None), self.activity_worker]
        try:
            if self.api_process is not None:
                self.api_process.stop()
            for worker in workers:
                if worker is not None and worker.running:
                    try:
                        worker.terminate()
                    except subprocess.TimeoutExpired:
                        worker.kill()
            await self.engine.dispose()
        finally:
            self.mailbox.stop()
            self.server.stop()
            if self.postgres:
                await drop_database(self.postgres, self.settings.resolved_database_url)

    @property
    def base_url(self) -> str:
        return self.settings.public_url

    async def _wait_for_pollers(self) -> None:
        kinds = [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW]
        if self.activity_worker is not None:
            kinds.append(TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            for worker in self.workers:
                if not worker.running:
                    raise RuntimeError(f"a worker exited: see {worker.workdir / 'worker.log'}")
            polled = [
                (
                    await self.client.workflow_service.describe_task_queue(
                        DescribeTaskQueueRequest(
                            namespace=self.client.namespace,
                            task_queue=TaskQueue(name=self.settings.task_queue),
                            task_queue_type=kind,
                        )
                    )
                ).pollers
                for kind in kinds
            ]
            if all(polled):
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("the worker did not poll its task queue in time")

    async def _wait_for_api(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            while time.monotonic() < deadline:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the API did not answer: see {self.workdir / 'api.log'}")

    @property
    def workers(self) -> list[WorkerProcess]:
        """The worker process, or the workflow and the activity worker (``worker_split``)."""
        return [self.worker, *([self.activity_worker] if self.activity_worker else [])]

    def usage(self) -> Usage:
        return Usage(
            cpu_seconds(self.server.pid),
            sum(cpu_seconds(worker.pid) for worker in self.workers),
            cpu_seconds(self.api_process.pid) if self.api_process is not None else None,
        )

    async def backlog(self) -> dict[str, int]:
        """Tasks waiting on the case task queue: workflow and activity (``approximate``)."""
        backlog = {}
        for name, kind in (
            ("workflow", TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
            ("activity", TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
        ):
            response = await self.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.client.namespace,
                    task_queue=TaskQueue(name=self.settings.task_queue),
                    task_queue_type=kind,
                    report_stats=True,
                )
            )
            backlog[name] = int(response.stats.approximate_backlog_count)
        return backlog

    async def server_metric(self, name: str) -> float:
        """The sum of a counter or gauge over all its labels, from the server's ``/metrics``."""
        return metric_sum(await self.server_page(), name)

    async def server_page(self) -> str:
        """The server's Prometheus page."""
        async with httpx.AsyncClient(timeout=10) as http:
            return (await http.get(f"http://127.0.0.1:{self.metrics_port}/metrics")).text

    async def worker_page(self) -> str:
        """The worker's Prometheus page (the SDK's metrics, durations in milliseconds); with
        ``worker_split``, both workers' pages one after the other, so that sums add them up."""
        pages = []
        async with httpx.AsyncClient(timeout=10) as http:
            for worker in self.workers:
                address = worker.settings.worker_metrics_address
                pages.append((await http.get(f"http://{address}/metrics")).text)
        return "\n".join(pages)

    async def worker_gauges(self) -> dict[str, int]:
        """The worker's task slots in use, cached cases and forced evictions (``WORKER_GAUGES``)."""
        text = await self.worker_page()
        return {
            key: int(metric_sum(text, name, **labels))
            for key, (name, labels) in WORKER_GAUGES.items()
        }

    async def worker_metric(self, name: str, **labels: str) -> float:
        """The sum of one of the worker's SDK metrics whose labels include ``labels``."""
        return metric_sum(await self.worker_page(), name, **labels)


WORKER_GAUGES = {
    "workflow_slots": ("temporal_worker_task_slots_used", {"worker_type": "WorkflowWorker"}),
    "activity_slots": ("temporal_worker_task_slots_used", {"worker_type": "ActivityWorker"}),
    "local_activity_slots": (
        "temporal_worker_task_slots_used",
        {"worker_type": "LocalActivityWorker"},
    ),
    "cached": ("temporal_sticky_cache_size", {}),
    "evictions": ("temporal_sticky_cache_total_forced_eviction", {}),
}
"""What ``BenchStack.worker_gauges`` reads: slots in use, cases cached, forced evictions."""


async def create_database(server_url: str) -> str:
    """A new empty database on the PostgreSQL server; returns its SQLAlchemy async URL."""
    name = f"secupol_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(f"{server_url.rstrip('/')}/postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return f"{server_url.rstrip('/').replace('postgresql://', 'postgresql+asyncpg://')}/{name}"


async def drop_database(server_url: str, database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(f"{server_url.rstrip('/')}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def metric_by_label(text: str, name: str, label: str) -> dict[str, float]:
    """The samples named ``name`` (or ``name_total``) summed per value of ``label``."""
    totals: dict[str, float] = {}
    for sample in _samples(text, name):
        key = sample.labels.get(label, "")
        totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def _samples(text: str, name: str) -> Iterator[Sample]:
    """The samples named ``name`` (or ``name_total``) on a Prometheus page."""
    # The server's page is large: only the lines of this metric are parsed.
    lines = [line for line in text.splitlines() if line.startswith(name)]
    for family in text_string_to_metric_families("\n".join(lines) + "\n"):
        for sample in family.samples:
            if sample.name in {name, f"{name}_total"}:
                yield sample


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` (or ``name_total``) matching ``labels``."""
    return float(
        sum(
            sample.value
            for sample in _samples(text, name)
            if all(sample.labels.get(key) == value for key, value in labels.items())
        )
    )
