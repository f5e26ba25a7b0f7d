"""Build and run the case worker."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Callable, Sequence
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities import open_activities
from core.db import create_engine, migrate
from core.logs import configure_logging
from core.retention import ensure_schedule
from core.settings import Settings, WorkerRole
from core.telemetry import runtime_for
from core.temporal import connect_when_ready
from worker.preflight import missing_search_attributes
from workflows import WORKFLOWS

log = logging.getLogger("secupol.worker")


class MissingSearchAttributes(Exception):
    """The namespace lacks search attributes the cases and their lists depend on."""

    def __init__(self, namespace: str, missing: list[str]):
        self.namespace = namespace
        self.missing = missing
        super().__init__(
            f"namespace {namespace} lacks the search attributes {', '.join(missing)}; register "
            "them with `python -m worker register-search-attributes` (make up does it for the "
            "embedded server), then start the worker again"
        )


ACTIVITY_POLLERS_CHECK_S = 60.0
"""How often a ``workflows`` worker checks that some worker polls the activities."""

_POLLED = {
    WorkerRole.ALL: "workflow and activity tasks",
    WorkerRole.WORKFLOWS: "workflow tasks only",
    WorkerRole.ACTIVITIES: "activity tasks only",
}


async def _watch_activity_pollers(client: Client, settings: Settings) -> None:
    """Log an error at each check while no worker polls the task queue's activities: a
    ``workflows`` worker alone schedules emails and seals that nothing runs (the server forgets
    a poller some minutes after its last poll, so a stopped activity worker shows late)."""
    while True:
        await asyncio.sleep(ACTIVITY_POLLERS_CHECK_S)
        try:
            description = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=settings.task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
                )
            )
        except RPCError as error:
            log.warning("could not read the pollers of the task queue: %s", error.status.name)
            continue
        if not description.pollers:
            log.error(
                "no worker polls the activities of task queue %s: the cases' emails, seals and "
                "registry lookups wait; start a worker with SECUPOL_WORKER_ROLE=activities or all",
                settings.task_queue,
            )


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def build_worker(
    client: Client,
    settings: Settings,
    activities: Sequence[Callable[..., Any]],
    *,
    workflows: Sequence[type] = WORKFLOWS,
) -> Worker:
    """A worker for the given workflows and activities on the settings' task queue, as its
    ``worker_role`` says: a ``workflows`` worker registers no activity, an ``activities`` worker
    no workflow, so each polls only its own kind of task.

    On shutdown it stops polling, then lets the activities under way run for up to
    ``worker_shutdown_grace_s`` before cancelling them: an email in the middle of its SMTP
    session is finished and marked sent instead of being cut after the relay may have taken it.
    """
    role = settings.worker_role
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[] if role is WorkerRole.ACTIVITIES else workflows,
        activities=[] if role is WorkerRole.WORKFLOWS else activities,
        graceful_shutdown_timeout=dt.timedelta(seconds=settings.worker_shutdown_grace_s),
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_local_activities=settings.worker_max_concurrent_local_activities,
    )


async def run_worker(
    settings: Settings, stop: asyncio.Event, *, runtime: Runtime | None = None
) -> None:
    """Run until ``stop`` is set, then finish the tasks under way and return.

    A ``workflows`` worker (``worker_role``) opens neither the app database nor the activities'
    dependencies: its tasks only talk to Temporal.

    Raises:
        MissingSearchAttributes: the namespace lacks secupol's search attributes.
    """
    role = settings.worker_role
    async with contextlib.AsyncExitStack() as resources:
        engine = None
        if role is not WorkerRole.WORKFLOWS:
            engine = create_engine(settings)
            resources.push_async_callback(engine.dispose)
            await migrate(engine, settings=settings)
        client = await connect_when_ready(settings, runtime=runtime)
        missing = await missing_search_attributes(client, settings.temporal_namespace)
        if missing:
            raise MissingSearchAttributes(settings.temporal_namespace, missing)
        try:
            await ensure_schedule(client, settings)
        except RPCError as error:
            # Cases come first: a worker that cannot manage the purge's Schedule (a namespace
            # without the permission) still runs them; the purge waits for a fix.
            log.error("could not create or update the retention schedule: %s", error.status.name)
        activities: Sequence[Callable[..., Any]] = []
        if engine is not None:
            activities = await resources.enter_async_context(open_activities(settings, engine))
        if role is WorkerRole.WORKFLOWS:
            watcher = asyncio.create_task(_watch_activity_pollers(client, settings))
            resources.push_async_callback(_cancelled, watcher)
        async with build_worker(client, settings, activities):
            log.info(
                "worker polling task queue %s at %s for %s",
                settings.task_queue,
                settings.temporal_address,
                _POLLED[role],
            )
            await stop.wait()
            log.info(
                "stopping: finishing the tasks under way (up to %.0f s)",
                settings.worker_shutdown_grace_s,
            )


def main() -> None:
    settings = Settings()
    configure_logging(settings, "worker")
    # Once per process, before any client: it binds the metrics port.
    runtime = runtime_for(settings)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(settings, stop, runtime=runtime)

    try:
        asyncio.run(_main())
    except MissingSearchAttributes as error:
        log.error("%s", error)
        raise SystemExit(2) from None
