"""The per-case volume limit holds under concurrent uploads, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import documents, migrate
from core.settings import Settings
from core.storage import DocumentStorage, LocalDiskStore
from core.storage.service import case_lock
from domain.documents import DocumentKind
from domain.errors import DomainError, ErrorCode
from tests.core.conftest import POSTGRES_URL, postgresql_schema
from tests.core.samples import pdf_bytes, stream

CASE = "case-municipales-2026-climite"
FILE_BYTES = 200 * 1024
UPLOADS = 8


async def test_concurrent_uploads_never_exceed_the_case_limit(
    app_engine: AsyncEngine, storage_settings: Settings, tmp_path: Path
) -> None:
    limit = storage_settings.max_case_bytes  # 1 MiB: five files of 200 KiB fit, not six
    files = [
        pdf_bytes(f"piece {index}", padding=os.urandom(FILE_BYTES)) for index in range(UPLOADS)
    ]
    fitting = sum(1 for size in range(1, UPLOADS + 1) if size * len(files[0]) <= limit)
    store = LocalDiskStore(tmp_path / "objects")
    async with DocumentStorage(storage_settings, app_engine, store) as storage:
        outcomes = await asyncio.gather(
            *(
                storage.ingest(
                    case_id=CASE,
                    kind=DocumentKind.INVOICE,
                    filename=f"facture-{index}.pdf",
                    uploaded_by="candidat",
                    chunks=stream(data),
                )
                for index, data in enumerate(files)
            ),
            return_exceptions=True,
        )
    refused = [outcome for outcome in outcomes if isinstance(outcome, DomainError)]
    assert all(error.code == ErrorCode.CASE_STORAGE_FULL for error in refused), outcomes
    assert len(outcomes) - len(refused) == fitting
    async with app_engine.connect() as connection:
        total = await connection.scalar(
            select(func.sum(documents.c.size)).where(documents.c.case_id == CASE)
        )
    assert total is not None and total <= limit


@pytest.fixture
async def postgresql_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated app database on PostgreSQL only (SQLite serialises writers by itself)."""
    async with postgresql_schema() as engine:
        await migrate(engine)
        yield engine


@pytest.mark.skipif(not POSTGRES_URL, reason="needs SECUPOL_TEST_POSTGRES_URL")
async def test_on_postgresql_an_upload_waits_for_the_case_lock(
    postgresql_engine: AsyncEngine, storage_settings: Settings, tmp_path: Path
) -> None:
    """Another transaction holding the case (as a concurrent upload does while it records its
    document) makes an upload wait, then count that transaction's bytes."""
    app_engine = postgresql_engine
    store = LocalDiskStore(tmp_path / "objects")
    async with (
        DocumentStorage(storage_settings, app_engine, store) as storage,
        app_engine.connect() as holder,
    ):
        transaction = await holder.begin()
        await holder.execute(case_lock(CASE))
        # The other transaction records a document that leaves no room for another.
        await holder.execute(
            insert(documents).values(
                document_id="doc-concurrent",
                case_id=CASE,
                kind="invoice",
                filename="autre.pdf",
                size=storage_settings.max_case_bytes - 1000,
                sha256="f" * 64,
                content_type="application/pdf",
                object_key="objects/concurrent",
                key_id=storage_settings.document_key_id,
                uploaded_by="candidat",
                uploaded_at=dt.datetime.now(dt.UTC),
            )
        )
        upload = asyncio.create_task(
            storage.ingest(
                case_id=CASE,
                kind=DocumentKind.INVOICE,
                filename="facture.pdf",
                uploaded_by="candidat",
                chunks=stream(pdf_bytes("en attente", padding=os.urandom(FILE_BYTES))),
            )
        )
        await asyncio.sleep(1.0)
        assert not upload.done(), "the upload did not wait for the case's lock"
        await transaction.commit()
        with pytest.raises(DomainError) as refused:
            await upload
    assert refused.value.code == ErrorCode.CASE_STORAGE_FULL
