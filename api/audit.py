"""The audit log: one row per action taken through the API (who, which case, what, outcome).

A row is written *before* the action with the outcome ``pending`` and completed after it, so that
an action cannot be applied without a trace: if the database is down the action is not attempted,
and if the database fails after the action the row stays ``pending`` (an operator reconciles it
with the case's history). No content of the action is logged.
"""

from __future__ import annotations

import datetime as dt
import logging

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
