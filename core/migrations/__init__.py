"""Alembic migrations of the app database.

``core.db.migrate(engine)`` runs them from code at every process start; the Alembic CLI works too
(``.venv/bin/alembic upgrade head``, with the database of ``SECUPOL_DATABASE_URL``), and ``make
migration MESSAGE="…"`` drafts a new revision from the difference with ``core.db.metadata``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from core.settings import Settings

SCRIPT_LOCATION = Path(__file__).parent


def alembic_config(
    connection: Connection | None = None, settings: Settings | None = None
) -> Config:
    """An Alembic configuration for these migrations, optionally bound to an open connection.

    ``settings`` are given to migrations that need keys (``config.attributes["settings"]``).
    """
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    if settings is not None:
        config.attributes["settings"] = settings
    return config


def run_migrations(
    connection: Connection, revision: str = "head", settings: Settings | None = None
) -> None:
    """Upgrade to ``revision`` on ``connection``; ``base`` downgrades everything away."""
    config = alembic_config(connection, settings)
    if revision == "base":
        command.downgrade(config, "base")
    else:
        command.upgrade(config, revision)
