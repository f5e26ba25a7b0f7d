"""Pre-flight of a worker's environment, and the search attributes of a namespace.

``python -m worker check`` runs every check and prints one line each; it exits 1 if one fails.
The worker itself refuses to start (exit 2) when the namespace lacks secupol's search attributes,
since every list and every operator filter depends on them; ``python -m worker
register-search-attributes`` adds them (a cluster's namespace is not set up by ``make up``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiosmtplib
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from core.db import create_engine
from core.migrations import alembic_config
from core.settings import Settings, WorkerRole
from core.storage import build_store
from core.temporal import connect
from domain.visibility import SEARCH_ATTRIBUTE_TYPES

CHECK_TIMEOUT_S = 10.0

_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


async def missing_search_attributes(client: Client, namespace: str) -> list[str]:
    """secupol's search attributes the namespace lacks, or has with another type.

    Returns:
        ``Name (Type)`` of each one to register; empty when all are there.
    """
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    present = dict(response.custom_attributes)
    return [
        f"{name} ({kind})"
        for name, kind in SEARCH_ATTRIBUTE_TYPES.items()
        if present.get(name) != _TYPES[kind]
    ]


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add the search attributes the namespace lacks; returns the names added."""
    present = dict(
        (
            await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=namespace)
            )
        ).custom_attributes
    )
    wanted = {
        name: _TYPES[kind] for name, kind in SEARCH_ATTRIBUTE_TYPES.items() if name not in present
    }
    if wanted:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=wanted)
        )
    return sorted(wanted)


@dataclass(frozen=True)
class CheckResult:
    """One line of ``python -m worker check``."""

    name: str
    ok: bool
    detail: str


async def _temporal(settings: Settings) -> str:
    client = await connect(settings)
    missing = await missing_search_attributes(client, settings.temporal_namespace)
    if missing:
        raise PreflightFailure(
            f"namespace {settings.temporal_namespace} lacks {', '.join(missing)}: run "
            "`python -m worker register-search-attributes`"
        )
    namespace = settings.temporal_namespace
    return f"{settings.temporal_address}, namespace {namespace}, search attributes ok"


def _revisions(connection: Connection) -> tuple[str | None, str | None]:
    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return current, head


async def _database(settings: Settings) -> str:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            current, head = await connection.run_sync(_revisions)
    finally:
        await engine.dispose()
    if current != head:
        raise PreflightFailure(
            f"schema at revision {current}, code expects {head}: run `alembic upgrade head`"
        )
    return f"{engine.url.get_backend_name()}, schema at revision {head}"


async def _smtp(settings: Settings) -> str:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    smtp = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_use_tls,
        start_tls=settings.smtp_starttls,
        timeout=CHECK_TIMEOUT_S,
    )
    await smtp.connect()
    try:
        if settings.smtp_username and password:
            await smtp.login(settings.smtp_username, password)
        await smtp.noop()
    finally:
        await smtp.quit()
    return f"{settings.smtp_host}:{settings.smtp_port} answers"


async def _storage(settings: Settings) -> str:
    store = build_store(settings)
    key = f"tmp/preflight-{uuid.uuid4().hex}"

    async def probe() -> AsyncIterator[bytes]:
        yield b"secupol preflight"

    try:
        await store.put(key, probe())
        read = b"".join([chunk async for chunk in store.get(key)])
        await store.delete(key)
    finally:
        await store.aclose()
    if read != b"secupol preflight":
        raise PreflightFailure("the probe object read back differs")
    return f"{settings.storage_backend.value} backend writes, reads and deletes"


class PreflightFailure(Exception):
    """A check found something to fix (its message says what)."""


CHECKS: list[tuple[str, Callable[[Settings], Awaitable[str]]]] = [
    ("temporal", _temporal),
    ("database", _database),
    ("smtp", _smtp),
    ("storage", _storage),
]


async def preflight(settings: Settings) -> list[CheckResult]:
    """Run every check (each bounded by ``CHECK_TIMEOUT_S``); never raises.

    A ``workflows`` worker (``worker_role``) talks to Temporal only: the other checks are
    reported as not needed rather than run against services it never opens.
    """
    results = []
    for name, check in CHECKS:
        if settings.worker_role is WorkerRole.WORKFLOWS and name != "temporal":
            results.append(CheckResult(name, True, "not needed by a workflows worker"))
            continue
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                detail = await check(settings)
            results.append(CheckResult(name, True, detail))
        except PreflightFailure as failure:
            results.append(CheckResult(name, False, str(failure)))
        except Exception as error:  # a pre-flight reports every failure, whatever its kind
            results.append(
                CheckResult(name, False, f"unreachable or failing ({type(error).__name__})")
            )
    return results
