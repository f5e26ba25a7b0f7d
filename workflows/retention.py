"""``RetentionPurgeWorkflow``: one run of the retention purge, started by a Temporal Schedule.

It records the cases closed since the last run, lists those whose retention delay ran out, and
purges them one by one. Each purge is retried for a bounded time; one that still fails is
reported in the result (and the worker's log) and left for the next run, so that no single case
holds the rest. The run carries only case ids and counts: no personal data enters its history.
"""

from __future__ import annotations

import datetime as dt

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.retention import (
        RETENTION_WORKFLOW_TYPE,
        ListDueCasesInput,
        ListDueCasesResult,
        PurgeCaseInput,
        PurgeCaseResult,
        RecordClosuresInput,
        RecordClosuresResult,
        RetentionPurgeInput,
        RetentionPurgeResult,
    )

SCAN_TIMEOUT = dt.timedelta(minutes=5)
PURGE_TIMEOUT = dt.timedelta(minutes=5)
PURGE_GIVE_UP = dt.timedelta(hours=1)
"""A case's purge is retried this long, then left to the next run."""
RETRY = RetryPolicy(
    initial_interval=dt.timedelta(seconds=2),
    maximum_interval=dt.timedelta(minutes=2),
    maximum_attempts=10,
    non_retryable_error_types=["CaseNotClosed"],
)


@workflow.defn(name=RETENTION_WORKFLOW_TYPE)
class RetentionPurgeWorkflow:
    """Purge the personal data of the closed cases whose retention delay ran out."""

    @workflow.run
    async def run(self, input: RetentionPurgeInput) -> RetentionPurgeResult:
        now = workflow.now()
        recorded: RecordClosuresResult = await workflow.execute_activity(
            "record_closures",
            RecordClosuresInput(now=now),
            result_type=RecordClosuresResult,
            start_to_close_timeout=SCAN_TIMEOUT,
            schedule_to_close_timeout=PURGE_GIVE_UP,
            retry_policy=RETRY,
        )
        due: ListDueCasesResult = await workflow.execute_activity(
            "list_due_cases",
            ListDueCasesInput(now=now, limit=input.batch_size),
            result_type=ListDueCasesResult,
            start_to_close_timeout=SCAN_TIMEOUT,
            schedule_to_close_timeout=PURGE_GIVE_UP,
            retry_policy=RETRY,
        )
        result = RetentionPurgeResult(recorded=recorded.recorded)
        for case_id in due.case_ids:
            try:
                await workflow.execute_activity(
                    "purge_case",
                    PurgeCaseInput(case_id=case_id, now=workflow.now()),
                    result_type=PurgeCaseResult,
                    start_to_close_timeout=PURGE_TIMEOUT,
                    schedule_to_close_timeout=PURGE_GIVE_UP,
                    retry_policy=RETRY,
                    summary=case_id,
                )
            except ActivityError:
                workflow.logger.error("purge of %s failed; the next run tries again", case_id)
                result.failed.append(case_id)
            else:
                result.purged.append(case_id)
        return result
