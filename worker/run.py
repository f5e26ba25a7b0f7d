"""Build and run the case worker."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities import open_activities
from core.db import create_engine, migrate
from core.settings import Settings
from core.temporal import connect_when_ready
from workflows import WORKFLOWS

log = logging.getLogger("secupol.worker")


def build_worker(
    client: Client,
    settings: Settings,
    activities: Sequence[Callable[..., Any]],
    *,
    workflows: Sequence[type] = WORKFLOWS,
) -> Worker:
    """A worker for every workflow and the given activities on the settings' task queue."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=workflows,
        activities=activities,
    )


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then finish the tasks under way and return."""
    engine = create_engine(settings)
    await migrate(engine)
    client = await connect_when_ready(settings)
    try:
        async with (
            open_activities(settings, engine) as activities,
            build_worker(client, settings, activities),
        ):
            log.info(
                "worker polling task queue %s at %s",
                settings.task_queue,
                settings.temporal_address,
            )
            await stop.wait()
            log.info("stopping: finishing the tasks under way")
    finally:
        await engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs each request's URL at INFO, and registry URLs carry SIRENs and CNAPS numbers.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Alembic announces each of its plugins; the "Running upgrade" lines are what matters.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    settings = Settings()

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(settings, stop)

    asyncio.run(_main())
