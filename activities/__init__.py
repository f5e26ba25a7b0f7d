"""Activities, grouped by the external system they talk to (email for now).

The worker registers what ``build_activities`` returns; nothing else builds activity objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.email import EmailActivities, EmailRenderer
from core.settings import Settings

__all__ = ["build_activities"]


def build_activities(settings: Settings, engine: AsyncEngine) -> list[Callable[..., Any]]:
    """Build every activity with its dependencies, ready for ``Worker(activities=...)``.

    Args:
        settings: The process settings (SMTP relay, addresses).
        engine: The app database engine, shared by the activities that keep records.

    Returns:
        The bound activity methods; each carries its ``@activity.defn`` name.

    Raises:
        EmailTemplateError: an email template file is missing.
    """
    email = EmailActivities(settings, engine, EmailRenderer())
    return [email.send_email]
