"""``python -m worker check`` and the search attributes a worker needs before it starts."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

from google.protobuf.duration_pb2 import Duration
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client

from core.settings import Settings, WorkerRole
from core.temporal import connect_when_ready
from domain.visibility import SEARCH_ATTRIBUTE_TYPES
from embedded.mailbox import MailServer
from embedded.temporal_server import (
    free_port,
    register_new_search_attributes,
    running_dev_server,
)
from tests.helpers import assert_eventually
from worker.preflight import missing_search_attributes, preflight, register_search_attributes
from worker.run import MissingSearchAttributes, run_worker

EVERY_CHECK_PASSES = [("temporal", True), ("database", True), ("smtp", True), ("storage", True)]


async def test_every_check_passes_on_a_sound_stack(
    client: Client, settings: Settings, db_engine: AsyncEngine
) -> None:
    # (``client`` waits for the session's server to answer.)
    results = await preflight(settings)
    assert [(result.name, result.ok) for result in results] == EVERY_CHECK_PASSES, results


async def test_each_failure_is_named_with_what_to_do(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    broken = settings.model_copy(
        update={"smtp_port": free_port(), "data_dir": tmp_path, "database_url": None}
    )
    results = {result.name: result for result in await preflight(broken)}
    assert results["temporal"].ok
    assert not results["smtp"].ok and "unreachable" in results["smtp"].detail
    # A database nobody migrated.
    assert not results["database"].ok and "alembic upgrade head" in results["database"].detail


async def test_a_workflows_worker_is_checked_against_temporal_only(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    # The same broken SMTP and database: a worker that never opens them passes.
    broken = settings.model_copy(
        update={
            "smtp_port": free_port(),
            "data_dir": tmp_path,
            "database_url": None,
            "worker_role": WorkerRole.WORKFLOWS,
        }
    )
    results = await preflight(broken)
    assert [(result.name, result.ok) for result in results] == EVERY_CHECK_PASSES, results
    assert {result.detail for result in results[1:]} == {"not needed by a workflows worker"}
    # The Temporal check itself still runs: a server nobody listens on fails it.
    nowhere = broken.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    assert not (await preflight(nowhere))[0].ok


async def test_a_namespace_without_search_attributes_stops_the_worker_until_registered(
    client: Client, settings: Settings
) -> None:
    namespace = f"ns-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace,
            workflow_execution_retention_period=Duration(seconds=24 * 3600),
        )
    )
    local = settings.model_copy(update={"temporal_namespace": namespace})

    async def registered_namespace() -> list[str]:
        missing = await missing_search_attributes(client, namespace)
        assert missing
        return missing

    missing = await assert_eventually(registered_namespace)
    assert len(missing) == len(SEARCH_ATTRIBUTE_TYPES) == 9
    for wanted in ("SecupolStage (Keyword)", "SecupolDecisionDue (Datetime)"):
        assert wanted in missing
    assert "SecupolRecognised (Bool)" in missing
    stop = asyncio.Event()
    try:
        await run_worker(local, stop)
    except MissingSearchAttributes as error:
        assert "register-search-attributes" in str(error)
    else:
        raise AssertionError("the worker started without its search attributes")

    assert await register_search_attributes(client, namespace) == sorted(SEARCH_ATTRIBUTE_TYPES)

    async def complete() -> None:
        assert await missing_search_attributes(client, namespace) == []

    await assert_eventually(complete)
    assert await register_search_attributes(client, namespace) == []


def test_the_check_command_prints_one_line_per_check(
    client: Client, settings: Settings, mail_server: MailServer, db_engine: AsyncEngine
) -> None:
    environment = {
        **os.environ,
        "SECUPOL_TEMPORAL_ADDRESS": settings.temporal_address,
        "SECUPOL_SMTP_PORT": str(mail_server.port),
        "SECUPOL_DATA_DIR": str(settings.data_dir),
    }
    environment.pop("SECUPOL_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "worker", "check"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["ok", "temporal"],
        ["ok", "database"],
        ["ok", "smtp"],
        ["ok", "storage"],
    ]


def test_the_embedded_server_registers_attributes_added_since_its_database_was_made(
    settings: Settings, tmp_path: Path
) -> None:
    """``make up`` on a data directory from before SecupolDecisionDue and SecupolRecognised."""
    db_file = tmp_path / "temporal.sqlite"
    older = {
        name: kind
        for name, kind in SEARCH_ATTRIBUTE_TYPES.items()
        if name not in {"SecupolDecisionDue", "SecupolRecognised"}
    }

    async def missing_at(address: str) -> list[str]:
        client = await connect_when_ready(settings.model_copy(update={"temporal_address": address}))
        return await missing_search_attributes(client, settings.temporal_namespace)

    with running_dev_server(tmp_path, db_file=db_file, search_attributes=older) as address:
        missing = asyncio.run(missing_at(address))
    # (``start-dev --search-attribute`` registers nothing on an existing database, whence the
    # step that ``python -m embedded.temporal_server`` takes first.)
    assert missing == ["SecupolDecisionDue (Datetime)", "SecupolRecognised (Bool)"]

    added = register_new_search_attributes(settings, db_file)

    assert added == ["SecupolDecisionDue", "SecupolRecognised"]
    with running_dev_server(tmp_path, db_file=db_file) as address:
        assert asyncio.run(missing_at(address)) == []
    # Up to date: no short-lived server any more.
    logs = set(tmp_path.glob("temporal-*.log"))
    assert register_new_search_attributes(settings, db_file) == []
    assert set(tmp_path.glob("temporal-*.log")) == logs


def _journal_mode(db_file: Path) -> str:
    with sqlite3.connect(db_file) as connection:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])


def test_a_data_directory_from_the_rollback_journal_keeps_its_state_under_the_write_ahead_log(
    settings: Settings, tmp_path: Path
) -> None:
    """``make up`` on a data directory made before ``SQLITE_PRAGMAS``: the server's file moves to
    the write-ahead log at its first start, with what it held."""
    db_file = tmp_path / "temporal.sqlite"
    namespace = f"ns-{uuid.uuid4().hex[:8]}"

    async def register(address: str) -> None:
        client = await connect_when_ready(settings.model_copy(update={"temporal_address": address}))
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
            )
        )

    async def registered(address: str) -> str:
        client = await connect_when_ready(settings.model_copy(update={"temporal_address": address}))
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
        return described.namespace_info.name

    rollback = ("journal_mode=delete", "synchronous=full")
    with running_dev_server(tmp_path, db_file=db_file, sqlite_pragmas=rollback) as address:
        asyncio.run(register(address))
    assert _journal_mode(db_file) == "delete"

    with running_dev_server(tmp_path, db_file=db_file) as address:
        assert asyncio.run(registered(address)) == namespace
    assert _journal_mode(db_file) == "wal"
