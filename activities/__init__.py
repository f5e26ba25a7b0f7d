"""Activities, grouped by the external system they talk to (email, registries).

The worker registers what ``open_activities`` yields; nothing else builds activity objects.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.documents import DocumentActivities
from activities.email import EmailActivities, EmailRenderer
from activities.email.elus import ElusEmailActivities
from activities.registries import RegistryActivities
from activities.retention import RetentionActivities
from core.settings import Settings
from core.storage import build_storage

__all__ = ["open_activities"]


@contextlib.asynccontextmanager
async def open_activities(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[list[Callable[..., Any]]]:
    """Build every activity with its dependencies, and close those dependencies on exit.

    Args:
        settings: The process settings (SMTP relay, storage, registries).
        engine: The app database engine, shared by the activities that keep records.

    Yields:
        The bound activity methods, ready for ``Worker(activities=...)``; each carries its
        ``@activity.defn`` name.

    Raises:
        EmailTemplateError: an email template file is missing.
        RegistryFileError: a registry referential file is missing or malformed.
        ValueError: a registry's HTTP adapter is chosen without its URL or key.
    """
    storage = build_storage(settings, engine)
    registries = RegistryActivities.from_settings(settings)
    try:
        email = EmailActivities(settings, engine, EmailRenderer(), storage)
        elus_email = ElusEmailActivities(settings, engine)
        documents = DocumentActivities(storage)
        retention = RetentionActivities(settings, engine, storage.store)
        yield [
            email.send_email,
            elus_email.send_elus_email,
            documents.seal_dossier,
            registries.check_cnaps_authorisation,
            registries.check_sirene,
            retention.record_closures,
            retention.list_due_cases,
            retention.purge_case,
        ]
    finally:
        # S3 sessions and registry HTTP clients hold connections until closed.
        await registries.aclose()
        await storage.aclose()
