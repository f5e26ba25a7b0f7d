"""The retention purge's activities, on ``core.retention.Retention``.

They talk to the app database, the document store and Temporal itself (deleting a case's
executions): the Temporal client is the worker's own (``activity.client()``), so that the worker
needs no second connection.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.retention import CaseNotClosed, Retention
from core.settings import Settings
from core.storage.stores import ObjectStore
from domain.retention import (
    RETENTION_ACTOR_ID,
    ListDueCasesInput,
    ListDueCasesResult,
    PurgeCaseInput,
    PurgeCaseResult,
    RecordClosuresInput,
    RecordClosuresResult,
)

CASE_NOT_CLOSED = "CaseNotClosed"
RETENTION_NON_RETRYABLE_ERRORS = [CASE_NOT_CLOSED]
"""A case that is not closed stays so during the retries: the next scheduled run looks again."""


class RetentionActivities:
    """Purge activities, holding the database, the document store and the retention delays.

    Args:
        settings: The retention delays.
        engine: The app database.
        store: The documents' object store (the same as the storage's).
    """

    def __init__(self, settings: Settings, engine: AsyncEngine, store: ObjectStore):
        self._engine = engine
        self._store = store
        self._policy = settings.retention_policy()

    def _retention(self) -> Retention:
        return Retention(self._engine, activity.client(), self._store, self._policy)

    @activity.defn
    async def record_closures(self, input: RecordClosuresInput) -> RecordClosuresResult:
        """Record in ``case_closures`` the cases that closed since the last run."""
        return RecordClosuresResult(recorded=await self._retention().record_closures(input.now))

    @activity.defn
    async def list_due_cases(self, input: ListDueCasesInput) -> ListDueCasesResult:
        """The cases whose retention delay ran out at ``input.now``, soonest first."""
        due = await self._retention().closures(input.now, limit=input.limit)
        return ListDueCasesResult(case_ids=[record.case_id for record in due])

    @activity.defn
    async def purge_case(self, input: PurgeCaseInput) -> PurgeCaseResult:
        """Purge one case (idempotent: a retry finishes what an earlier attempt began).

        Raises:
            ApplicationError: ``CaseNotClosed`` (non-retryable).
        """
        try:
            return await self._retention().purge(
                input.case_id, input.now, actor_id=RETENTION_ACTOR_ID
            )
        except CaseNotClosed:
            raise ApplicationError(
                "the case is not closed", type=CASE_NOT_CLOSED, non_retryable=True
            ) from None
