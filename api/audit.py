"""The audit log: one row per action taken through the API (who, which case, what, outcome).

A row is written *before* the action with the outcome ``pending`` and completed after it, so that
an action cannot be applied without a trace: if the database is down the action is not attempted,
and if the database fails after the action the row stays ``pending`` (an operator reconciles it
with the case's history). No content of the action is logged.

An action whose outcome the request could not wait for (it reached the case, then the wait timed
out or Temporal was lost) also stays ``pending``: ``OutcomeWatcher`` asks for the outcome in the
background and completes the row once it is known. Watches run in the API process: one stopped
before the outcome is known leaves its row ``pending``, which the shutdown log counts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import insert, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import audit_log
from domain.contracts import Actor

log = logging.getLogger(__name__)

PENDING = "pending"
OK = "ok"


async def begin(
    engine: AsyncEngine,
    actor: Actor,
    action: str,
    *,
    case_id: str | None = None,
    request_id: str | None = None,
) -> int:
    """Record an action about to be taken; returns the row to complete."""
    async with engine.begin() as connection:
        result = await connection.execute(
            insert(audit_log)
            .values(
                at=dt.datetime.now(dt.UTC),
                actor_id=actor.id,
                actor_role=actor.role.value,
                case_id=case_id,
                action=action,
                outcome=PENDING,
                request_id=request_id,
            )
            .returning(audit_log.c.entry_id)
        )
        entry_id: int = result.scalar_one()
    return entry_id


async def finish(engine: AsyncEngine, entry_id: int, outcome: str) -> None:
    """Complete a row with ``ok`` or the stable code of the refusal.

    A failure here is logged and swallowed: the action's result stands, and the row stays
    ``pending``.
    """
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(audit_log).where(audit_log.c.entry_id == entry_id).values(outcome=outcome)
            )
    except SQLAlchemyError as error:
        log.error("audit entry %d left pending: %s", entry_id, type(error).__name__)


async def record(
    engine: AsyncEngine, actor: Actor, action: str, outcome: str, *, case_id: str | None = None
) -> None:
    """Record an action already decided (a sign-in, a refused upload)."""
    entry_id = await begin(engine, actor, action, case_id=case_id)
    await finish(engine, entry_id, outcome)


OutcomeFetch = Callable[[], Awaitable[str | None]]
"""Asks once for an action's outcome: ``ok`` or a refusal's code, None while it is unknown."""
OnSettled = Callable[[str], Awaitable[None]]
"""Run once an action's outcome is known (what the request would have done after it)."""


class OutcomeWatcher:
    """Completes in the background the rows of actions whose outcome the request did not get.

    Owned by the application's lifespan: ``aclose`` cancels the watches still running.

    Args:
        engine: The app database.
        retry_interval_s: Pause between two asks while the outcome is unknown.
        give_up_after_s: How long a watch lasts; then its row stays ``pending`` and an error is
            logged, for an operator to reconcile with the case's history.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        retry_interval_s: float = 2.0,
        give_up_after_s: float = 24 * 3600.0,
    ):
        self._engine = engine
        self._retry_interval_s = retry_interval_s
        self._give_up_after_s = give_up_after_s
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def watching(self) -> int:
        """How many rows are still being watched."""
        return len(self._tasks)

    def watch(
        self, entry_id: int, fetch: OutcomeFetch, on_settled: OnSettled | None = None
    ) -> None:
        """Complete row ``entry_id`` with what ``fetch`` returns, once it returns an outcome."""
        task = asyncio.create_task(self._settle(entry_id, fetch, on_settled))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(
        self, entry_id: int, fetch: OutcomeFetch, on_settled: OnSettled | None
    ) -> None:
        deadline = time.monotonic() + self._give_up_after_s
        while True:
            remaining = deadline - time.monotonic()
            outcome: str | None = None
            if remaining > 0:
                try:
                    async with asyncio.timeout(remaining):
                        outcome = await fetch()
                except TimeoutError:
                    outcome = None
                except Exception as error:
                    log.warning(
                        "audit entry %d: outcome not read (%s)", entry_id, type(error).__name__
                    )
            if outcome is not None:
                break
            if time.monotonic() >= deadline:
                log.error("audit entry %d left pending: the outcome is still unknown", entry_id)
                return
            await asyncio.sleep(self._retry_interval_s)
        await finish(self._engine, entry_id, outcome)
        log.info("audit entry %d completed after the request: %s", entry_id, outcome)
        if on_settled is not None:
            try:
                await on_settled(outcome)
            except Exception:
                log.exception("audit entry %d: the follow-up of the outcome failed", entry_id)

    async def aclose(self) -> None:
        """Stop every watch; their rows stay ``pending``."""
        tasks = list(self._tasks)
        if tasks:
            log.warning("%d audit entries left pending at shutdown", len(tasks))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
