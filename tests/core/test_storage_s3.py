"""The S3 store on a real S3-compatible server (moto on loopback): multipart uploads as the
stream arrives, and an upload refused midway leaves no object and no unfinished upload."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from core.storage import DocumentStorage, ObjectNotFound, S3Store
from core.storage.stores import S3_MIN_PART_SIZE
from domain.documents import DocumentKind
from domain.errors import DomainError, ErrorCode
from tests.core.conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, Backend, s3_settings
from tests.core.samples import pdf_bytes, stream

MIB = 1024 * 1024


@pytest.fixture
async def multipart(
    storage_settings: Settings, storage_engine: AsyncEngine, moto_endpoint: str
) -> AsyncIterator[Backend]:
    """S3 storage with the smallest parts S3 allows, and room for 12 MiB documents."""
    settings = s3_settings(storage_settings, moto_endpoint).model_copy(
        update={"max_document_bytes": 12 * MIB, "max_case_bytes": 64 * MIB}
    )
    store = S3Store(
        bucket=settings.s3_bucket,
        region=S3_REGION,
        endpoint_url=moto_endpoint,
        access_key_id=S3_ACCESS_KEY,
        secret_access_key=S3_SECRET_KEY,
        create_bucket=True,
        part_size=S3_MIN_PART_SIZE,
    )
    async with DocumentStorage(settings, storage_engine, store) as storage:
        await store.exists("objects/00/none")  # creates the bucket
        yield Backend("s3", settings, storage_engine, storage)


async def test_multipart_round_trip(multipart: Backend) -> None:
    data = pdf_bytes("large", padding=os.urandom(11 * MIB + 333))
    info = await multipart.storage.ingest(
        case_id="case-s3",
        kind=DocumentKind.EXPENSE_STATEMENT,
        filename="etat-des-depenses.pdf",
        uploaded_by="acct-1",
        chunks=stream(data, (65_521, 1_000_003)),
    )
    digest = hashlib.sha256()
    async for piece in await multipart.storage.open(info.document_id):
        digest.update(piece)
    assert digest.hexdigest() == info.sha256 == hashlib.sha256(data).hexdigest()
    left = await multipart.leftovers()
    assert len(left) == 1 and next(iter(left)).startswith("objects/")


async def test_refused_after_parts_were_sent_leaves_nothing(multipart: Backend) -> None:
    before = await multipart.leftovers()
    data = b"%PDF-1.7\n" + os.urandom(12 * MIB)  # 9 bytes over, after two parts went up
    with pytest.raises(DomainError) as refused:
        await multipart.storage.ingest(
            case_id="case-s3",
            kind=DocumentKind.INVOICE,
            filename="trop-grande.pdf",
            uploaded_by="acct-1",
            chunks=stream(data, (1_000_000,)),
        )
    assert refused.value.code == ErrorCode.DOCUMENT_TOO_LARGE
    assert await multipart.leftovers() == before
    assert await multipart.row_count() == 0


async def test_missing_objects(multipart: Backend) -> None:
    store = multipart.storage.store
    assert not await store.exists("objects/00/missing")
    await store.delete("objects/00/missing")  # idempotent
    with pytest.raises(ObjectNotFound):
        async for _ in store.get("objects/00/missing"):
            pass


def test_parts_below_the_s3_minimum_are_refused() -> None:
    with pytest.raises(ValueError):
        S3Store(bucket="secupol-x", region=S3_REGION, part_size=S3_MIN_PART_SIZE - 1)
