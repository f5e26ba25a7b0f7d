"""Activities, grouped by the external system they talk to (email, registries).

The worker registers what ``build_activities`` returns; nothing else builds activity objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.documents import DocumentActivities
from activities.email import EmailActivities, EmailRenderer
from activities.registries import RegistryActivities
from core.settings import Settings
from core.storage import build_storage

__all__ = ["build_activities"]


def build_activities(settings: Settings, engine: AsyncEngine) -> list[Callable[..., Any]]:
    """Build every activity with its dependencies, ready for ``Worker(activities=...)``.

    Args:
        settings: The process settings (SMTP relay, addresses, registries).
        engine: The app database engine, shared by the activities that keep records.

    Returns:
        The bound activity methods; each carries its ``@activity.defn`` name.

    Raises:
        EmailTemplateError: an email template file is missing.
        RegistryFileError: a registry referential file is missing or malformed.
        ValueError: a registry's HTTP adapter is chosen without its URL or key.
    """
    storage = build_storage(settings, engine)
    email = EmailActivities(settings, engine, EmailRenderer(), storage)
    documents = DocumentActivities(storage)
    # The registries' HTTP clients live as long as the worker process: nothing closes them
    # before it exits, which releases their connections.
    registries = RegistryActivities.from_settings(settings)
    return [
        email.send_email,
        documents.seal_dossier,
        registries.check_cnaps_authorisation,
        registries.check_sirene,
    ]
