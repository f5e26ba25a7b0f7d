"""The app database: engine factory and tables.

SQLite (aiosqlite) by default, PostgreSQL (asyncpg) by setting ``SECUPOL_DATABASE_URL``. Tables
are created at start until migrations (Alembic) arrive with the API.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.settings import Settings

metadata = MetaData()

email_outbox = Table(
    "email_outbox",
    metadata,
    Column("idempotency_key", String(200), primary_key=True),
    Column("template", String(64), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("last_error", Text),
)
"""The idempotency record of every email: a key marked ``sent`` is never sent again."""


def create_engine(settings: Settings) -> AsyncEngine:
    """Build the async engine for the configured database."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # hide_parameters: an integrity error must not carry a file name or an address to logs.
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, hide_parameters=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the worker's activities read while another writes; the busy timeout waits for a
    # writer instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


async def create_tables(engine: AsyncEngine) -> None:
    """Create missing tables (idempotent)."""
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)


documents = Table(
    "documents",
    metadata,
    Column("document_id", String(40), primary_key=True),
    Column("case_id", String(120), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("object_key", String(200), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("uploaded_by", String(120), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    # The database, not a check-then-insert, is what refuses the same content twice in one case:
    # two concurrent uploads of one file cannot both win.
    UniqueConstraint("case_id", "sha256", name="uq_documents_case_sha256"),
)
"""Metadata of every stored document; the bytes live encrypted in ``core.storage``.

``object_key`` names the encrypted object (content-addressed, possibly shared by several cases);
``key_id`` is the document key that encrypted it.
"""
