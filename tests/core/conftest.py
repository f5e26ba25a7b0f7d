"""Real components for the storage tests: a SQLite file and a documents directory per test, and a
real S3-compatible server (moto) on a free loopback port, started once per module that uses it.

These fixtures build their own settings (no Temporal server or SMTP server is needed to store a
document) and per-test databases, so that each test counts only its own rows and objects.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aioboto3
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.db import create_engine, documents, migrate
from core.settings import Environment, Settings, StorageBackend
from core.storage import DocumentStorage, LocalDiskStore, build_storage

KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.b64encode(b"B" * 32).decode()
S3_ACCESS_KEY = "secupol-test"
S3_SECRET_KEY = "secupol-test-secret"
S3_REGION = "eu-west-3"


def free_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def storage_settings(tmp_path: Path) -> Settings:
    """Settings of one test: its own directory, two keys (``key-a`` encrypts), small limits."""
    return Settings(
        environment=Environment.TEST,
        data_dir=tmp_path,
        documents_dir=tmp_path / "documents",
        document_keys={"key-a": SecretStr(KEY_A), "key-b": SecretStr(KEY_B)},
        document_key_id="key-a",
        max_document_bytes=256 * 1024,
        max_case_bytes=1024 * 1024,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def storage_engine(storage_settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A fresh SQLite database with every table, ``documents`` included."""
    engine = create_engine(storage_settings)
    await migrate(engine)
    yield engine
    await engine.dispose()


def s3_settings(settings: Settings, endpoint: str) -> Settings:
    """``settings`` switched to the S3 backend, on a bucket of its own."""
    return settings.model_copy(
        update={
            "storage_backend": StorageBackend.S3,
            "s3_endpoint_url": endpoint,
            "s3_bucket": f"secupol-test-{uuid.uuid4().hex[:16]}",
            "s3_region": S3_REGION,
            "s3_access_key_id": S3_ACCESS_KEY,
            "s3_secret_access_key": SecretStr(S3_SECRET_KEY),
        }
    )


@dataclass
class Backend:
    """A storage under test, and what lies behind it, read without going through it."""

    name: str
    settings: Settings
    engine: AsyncEngine
    storage: DocumentStorage

    async def row_count(self) -> int:
        async with self.engine.connect() as connection:
            count = await connection.scalar(select(func.count()).select_from(documents))
        return int(count or 0)

    async def object_keys(self, document_id: str) -> str:
        async with self.engine.connect() as connection:
            key = await connection.scalar(
                select(documents.c.object_key).where(documents.c.document_id == document_id)
            )
        assert isinstance(key, str)
        return key

    async def leftovers(self) -> set[str]:
        """Everything stored: every file under the directory (partial files included), or every
        object and unfinished multipart upload of the bucket."""
        if self.name == "local":
            root = self.settings.resolved_documents_dir
            if not root.exists():
                return set()
            return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}
        session = aioboto3.Session()
        async with session.client(
            "s3",
            endpoint_url=self.settings.s3_endpoint_url,
            region_name=S3_REGION,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
        ) as s3:
            found: set[str] = set()
            listing = await s3.list_objects_v2(Bucket=self.settings.s3_bucket)
            found.update(item["Key"] for item in listing.get("Contents", []))
            uploads = await s3.list_multipart_uploads(Bucket=self.settings.s3_bucket)
            found.update(f"upload:{item['Key']}" for item in uploads.get("Uploads", []))
            return found

    async def raw(self, key: str) -> bytes:
        """The stored (encrypted) bytes of an object."""
        return b"".join([piece async for piece in self.storage.store.get(key)])

    async def overwrite(self, key: str, data: bytes) -> None:
        """Replace a stored object behind the storage's back, as an attacker on the store would."""

        async def once() -> AsyncIterator[bytes]:
            yield data

        await self.storage.store.put(key, once())


async def make_backend(
    name: str, settings: Settings, engine: AsyncEngine, moto_endpoint: str | None = None
) -> Backend:
    if name == "local":
        storage = DocumentStorage(settings, engine, LocalDiskStore(settings.resolved_documents_dir))
        return Backend(name, settings, engine, storage)
    assert moto_endpoint is not None
    settings = s3_settings(settings, moto_endpoint)
    return Backend(name, settings, engine, build_storage(settings, engine, create_bucket=True))


@pytest.fixture
async def local(storage_settings: Settings, storage_engine: AsyncEngine) -> AsyncIterator[Backend]:
    """Storage on the local disk."""
    backend = await make_backend("local", storage_settings, storage_engine)
    async with backend.storage:
        yield backend


@pytest.fixture(params=["local", "s3"])
async def backend(
    request: pytest.FixtureRequest, storage_settings: Settings, storage_engine: AsyncEngine
) -> AsyncIterator[Backend]:
    """Storage on the local disk, then on the moto S3 server."""
    endpoint = request.getfixturevalue("moto_endpoint") if request.param == "s3" else None
    made = await make_backend(request.param, storage_settings, storage_engine, endpoint)
    async with made.storage:
        # The bucket exists before a test snapshots it, as it would in production.
        await made.storage.store.exists("objects/00/none")
        yield made


# --- App database on SQLite and on PostgreSQL ----------------------------------------------------

POSTGRES_URL = os.environ.get("SECUPOL_TEST_POSTGRES_URL", "")
"""``make test`` sets it to the local server; when set, an unreachable server fails the tests."""
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@contextlib.asynccontextmanager
async def postgresql_schema() -> AsyncIterator[AsyncEngine]:
    """An engine on a schema of its own in the test PostgreSQL, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_async_engine(
        POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}}
    )
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture(params=BACKENDS)
async def bare_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}")
        yield engine
        await engine.dispose()
        return
    async with postgresql_schema() as engine:
        yield engine


@pytest.fixture
async def app_engine(bare_engine: AsyncEngine) -> AsyncEngine:
    """A migrated app database, on each backend in turn."""
    await migrate(bare_engine)
    return bare_engine
