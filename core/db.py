"""The app database: engine factory, tables, and migrations.

SQLite (aiosqlite) by default, PostgreSQL (asyncpg) by setting ``SECUPOL_DATABASE_URL``. The
schema is made by Alembic migrations (``core/migrations``), run by ``migrate`` at the start of
every process that uses the database; these ``Table`` objects are what the code queries and what
``alembic revision --autogenerate`` compares against.

What lives here is what is not a case's progress (that is in Temporal): accounts and their
hashed tokens, roles and département scopes, elections, document metadata, the email outbox, the
audit log, and the messages between candidates and reviewers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.settings import Settings

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
"""Named constraints: migrations on PostgreSQL and SQLite refer to them by the same names."""

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


async def migrate(
    engine: AsyncEngine, revision: str = "head", settings: Settings | None = None
) -> None:
    """Bring the database to ``revision`` with the Alembic migrations (idempotent).

    Args:
        engine: The app database.
        revision: A revision id, ``head`` (the default) or ``base`` (everything removed).
        settings: The process's settings, for migrations that need keys (encrypting existing
            rows); those of the environment when omitted.
    """
    from core.migrations import run_migrations  # Alembic is loaded only by who migrates

    async with engine.begin() as connection:
        await connection.run_sync(run_migrations, revision, settings)


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
    # The uploader's role (a Role value, "system" or "unknown"), shown with the document; the
    # default serves the previous release, which inserts rows without it during a deploy.
    Column("uploader_role", String(20), nullable=False, server_default="unknown"),
    # The database, not a check-then-insert, is what refuses the same content twice in one case:
    # two concurrent uploads of one file cannot both win.
    UniqueConstraint("case_id", "sha256", name="uq_documents_case_sha256"),
)
"""Metadata of every stored document; the bytes live encrypted in ``core.storage``.

``object_key`` names the encrypted object (content-addressed, possibly shared by several cases);
``key_id`` is the document key that encrypted it.
"""


accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(64), primary_key=True),
    # Stored lower-cased: one account per address.
    Column("email", String(254), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
    # Set at the first sign-in from an emailed link, and when the owner sets their name: until
    # both are, the account names no case (anyone may create an account for any address).
    Column("confirmed_at", DateTime(timezone=True)),
    Column("name_confirmed_at", DateTime(timezone=True)),
)
"""People who sign in: candidates, mandated third parties, prefecture staff, CNCCFP reviewers,
admins and operators. A candidate's ``account_id`` is their ``candidate_id`` in case ids."""

account_departements = Table(
    "account_departements",
    metadata,
    Column(
        "account_id",
        String(64),
        ForeignKey("accounts.account_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("departement", String(3), primary_key=True),
)
"""The départements a prefecture agent serves."""

case_mandates = Table(
    "case_mandates",
    metadata,
    Column("case_id", String(120), primary_key=True),
    Column(
        "account_id",
        String(64),
        ForeignKey("accounts.account_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("mandate_document_id", String(40), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)
"""Which case a mandated third party may act on (one mandate, one case)."""

sign_in_links = Table(
    "sign_in_links",
    metadata,
    # SHA-256 of the one-time token: the token itself is only ever in the email.
    Column("token_hash", String(64), primary_key=True),
    Column(
        "account_id",
        String(64),
        ForeignKey("accounts.account_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "account_id",
        String(64),
        ForeignKey("accounts.account_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)
"""Session tokens (hashed at rest, expiring, revocable); staff tokens made by the admin command."""

elections = Table(
    "elections",
    metadata,
    Column("election_id", String(64), primary_key=True),
    Column("election_type", String(32), nullable=False),
    Column("label", String(200), nullable=False),
    Column("first_round", Date, nullable=False),
    Column("second_round", Date),
    # Whether the scheme applies to this election (a per-type setting, DOMAIN.md).
    Column("covered", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""Elections are data: an admin adds them, never code."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor_id", String(64), nullable=False),
    Column("actor_role", String(20), nullable=False),
    Column("case_id", String(120), index=True),
    Column("action", String(64), nullable=False),
    # "ok", or the stable error code of the refusal.
    Column("outcome", String(64), nullable=False),
    Column("request_id", String(64)),
)
"""Every action taken through the API: who, what, which case, outcome. No content."""

case_messages = Table(
    "case_messages",
    metadata,
    Column("message_id", String(40), primary_key=True),
    Column("case_id", String(120), nullable=False, index=True),
    Column("author_id", String(64), nullable=False),
    Column("author_role", String(20), nullable=False),
    # AES-GCM under a key derived from the document key ``key_id`` (``core.messages``): the
    # body is never stored in clear.
    Column("ciphertext", LargeBinary, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""Messages exchanged on a case between the candidate side and the CNCCFP, encrypted at rest."""

prefectures = Table(
    "prefectures",
    metadata,
    Column("departement", String(3), primary_key=True),
    # The service address the workflow writes to (evaluation requests, payments).
    Column("email", String(254), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
"""The prefecture service of each département that has joined: where a new case's requests go."""

invoice_claims = Table(
    "invoice_claims",
    metadata,
    Column("case_id", String(120), primary_key=True),
    Column("line_id", String(200), primary_key=True),
    # domain.expenses.invoice_key: the company's SIREN and the invoice reference, normalised.
    Column("invoice_key", String(220), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""Which invoice each expense line claims, across cases: the same invoice claimed in two cases
is flagged to the CNCCFP (rule 8). One row per (case, line); no amount, no company name."""

codec_sessions = Table(
    "codec_sessions",
    metadata,
    Column("session_id", String(32), primary_key=True),
    # SHA-256 of the secret (with its own label): the secret is only ever in the cookie.
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column(
        "account_id",
        String(64),
        ForeignKey("accounts.account_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)
"""Sessions of the Temporal Web UI's decoding (``core.codec_sessions``): short, ``/codec/`` only."""


case_closures = Table(
    "case_closures",
    metadata,
    # The case's or élus' procedure's workflow id (opaque: election and candidate ids, or a
    # random reference; no name).
    Column("case_id", String(120), primary_key=True),
    # domain.retention.ClosureOutcome.
    Column("outcome", String(20), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("purge_due_at", DateTime(timezone=True), nullable=False, index=True),
    Column("purged_at", DateTime(timezone=True)),
    # An élus' procedure's requester (the official's or candidate's account), from its
    # SecupolRequester; None for a case, and once purged.
    Column("requester_id", String(64), index=True),
)
"""Every closed case the retention job has seen, and whether its personal data is purged yet.

Rows are kept after the purge (no personal data in them): they are the proof that it happened,
and what stops a case from being recorded twice. See ``core.retention`` for where they come from.
"""

collectivites = Table(
    "collectivites",
    metadata,
    Column("collectivite_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("departement", String(3), nullable=False),
    # The service address the élus' functional-protection requests are sent to.
    Column("email", String(254), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
"""The collectivités (communes, départements, régions) the élus' requests are addressed to."""

account_collectivites = Table(
    "account_collectivites",
    metadata,
    Column(
        "account_id",
        String(64),
        ForeignKey("accounts.account_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "collectivite_id",
        String(64),
        ForeignKey("collectivites.collectivite_id", ondelete="CASCADE"),
        primary_key=True,
    ),
)
"""The collectivités a collectivité staff account serves."""
