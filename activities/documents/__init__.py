"""Activities on documents: sealing the dossier at submission and its PDF receipt."""

from activities.documents.sealing import (
    SEAL_NON_RETRYABLE_ERRORS,
    DocumentActivities,
    manifest_bytes,
)

__all__ = ["SEAL_NON_RETRYABLE_ERRORS", "DocumentActivities", "manifest_bytes"]
