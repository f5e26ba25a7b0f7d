"""Activities of the retention purge: record closed cases, list those due, purge one."""

from activities.retention.purge import RETENTION_NON_RETRYABLE_ERRORS, RetentionActivities

__all__ = ["RETENTION_NON_RETRYABLE_ERRORS", "RetentionActivities"]
