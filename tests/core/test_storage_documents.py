"""DocumentStorage on real components: files on disk or objects in a real S3 server (moto on
loopback), a real SQLite database, real PDF, JPEG and PNG files."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator

import pytest
from botocore.exceptions import EndpointConnectionError
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.db import documents
from core.settings import Settings
from core.storage import (
    DocumentIntegrityError,
    DocumentKeyUnavailable,
    DocumentStorage,
    InvalidObjectKey,
    LocalDiskStore,
    ObjectNotFound,
    S3Store,
)
from domain.documents import ContentType, DocumentKind
from domain.errors import DomainError, ErrorCode
from tests.core.conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, Backend, free_port
from tests.core.samples import jpeg_bytes, pdf_bytes, png_bytes, stream

CASE = "case-municipales-2026-c1"
OTHER_CASE = "case-municipales-2026-c2"
UPLOADER = "acct-candidate-1"


async def ingest(
    storage: DocumentStorage,
    data: bytes,
    *,
    case_id: str = CASE,
    kind: DocumentKind = DocumentKind.INVOICE,
    filename: str = "facture.pdf",
    sizes: tuple[int, ...] = (65_536,),
) -> str:
    info = await storage.ingest(
        case_id=case_id,
        kind=kind,
        filename=filename,
        uploaded_by=UPLOADER,
        chunks=stream(data, sizes),
    )
    return info.document_id


async def test_round_trip_of_real_files(backend: Backend) -> None:
    storage = backend.storage
    files = [
        (pdf_bytes("Facture SAS Garde 2026-031"), "Facture mars.pdf", ContentType.PDF),
        (jpeg_bytes(), "photo-devis.jpg", ContentType.JPEG),
        (png_bytes(), "../../rib.png", ContentType.PNG),
    ]
    ids = []
    for data, filename, content_type in files:
        info = await storage.ingest(
            case_id=CASE,
            kind=DocumentKind.INVOICE,
            filename=filename,
            uploaded_by=UPLOADER,
            chunks=stream(data, (7, 1000)),
        )
        ids.append(info.document_id)
        assert info.content_type == content_type
        assert info.size == len(data)
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        assert info.document_id.startswith("doc") and len(info.document_id) == 35
        assert info.uploaded_at.tzinfo is not None
        assert await storage.get(info.document_id) == info
        assert await storage.read_bytes(info.document_id) == data
        streamed = b"".join([piece async for piece in await storage.open(info.document_id)])
        assert streamed == data
    assert (await storage.get(ids[2])).filename == "rib.png"
    listed = await storage.list_for_case(CASE)
    assert [info.document_id for info in listed] == ids
    assert await storage.list_for_case(OTHER_CASE) == []
    # Only the three content-addressed objects remain: the temporary ones are gone.
    left = await backend.leftovers()
    assert len(left) == 3 and all(key.startswith("objects/") for key in left)


async def test_documents_are_encrypted_at_rest(backend: Backend) -> None:
    marker = "Protection rapprochee 12 rue des Lilas"
    data = pdf_bytes(marker)
    document_id = await ingest(backend.storage, data)
    raw = await backend.raw(await backend.object_keys(document_id))
    assert marker.encode() not in raw
    assert b"%PDF" not in raw
    assert raw.startswith(b"SPDOC\x01\x05key-a")
    assert len(raw) > len(data)


async def test_key_rotation(local: Backend) -> None:
    old_id = await ingest(local.storage, pdf_bytes("before rotation"))
    rotated = local.settings.model_copy(update={"document_key_id": "key-b"})
    async with DocumentStorage(rotated, local.engine, local.storage.store) as storage:
        assert await storage.read_bytes(old_id) == pdf_bytes("before rotation")
        new_id = await ingest(storage, pdf_bytes("after rotation"))
        assert (await local.raw(await local.object_keys(new_id))).startswith(b"SPDOC\x01\x05key-b")
        async with local.engine.connect() as connection:
            rows = await connection.execute(select(documents.c.document_id, documents.c.key_id))
            key_ids = {document_id: key_id for document_id, key_id in rows}
        assert key_ids == {old_id: "key-a", new_id: "key-b"}

    retired = rotated.model_copy(
        update={"document_keys": {"key-b": rotated.document_keys["key-b"]}}
    )
    async with DocumentStorage(retired, local.engine, local.storage.store) as storage:
        assert await storage.read_bytes(new_id) == pdf_bytes("after rotation")
        with pytest.raises(DocumentKeyUnavailable) as unavailable:
            await storage.read_bytes(old_id)
        assert unavailable.value.key_id == "key-a"


async def test_an_altered_byte_is_detected(backend: Backend) -> None:
    document_id = await ingest(backend.storage, pdf_bytes("x", padding=os.urandom(150_000)))
    key = await backend.object_keys(document_id)
    raw = bytearray(await backend.raw(key))
    raw[len(raw) // 2] ^= 0x20
    await backend.overwrite(key, bytes(raw))
    with pytest.raises(DocumentIntegrityError):
        await backend.storage.read_bytes(document_id)


async def test_an_object_put_in_place_of_another_releases_nothing(local: Backend) -> None:
    mine = await ingest(local.storage, pdf_bytes("my invoice"))
    theirs = await ingest(local.storage, pdf_bytes("their invoice"), case_id=OTHER_CASE)
    await local.overwrite(
        await local.object_keys(mine), await local.raw(await local.object_keys(theirs))
    )
    released: list[bytes] = []
    with pytest.raises(DocumentIntegrityError):
        async for piece in await local.storage.open(mine):
            released.append(piece)
    assert released == []


async def test_a_missing_object_is_an_error_not_an_empty_document(local: Backend) -> None:
    document_id = await ingest(local.storage, png_bytes())
    await local.storage.store.delete(await local.object_keys(document_id))
    with pytest.raises(ObjectNotFound):
        await local.storage.read_bytes(document_id)


async def test_unknown_documents_are_not_found(local: Backend) -> None:
    for document_id in ["doc" + "0" * 32, "../../etc/passwd", "", "DOC" + "A" * 32]:
        with pytest.raises(DomainError) as missing:
            await local.storage.get(document_id)
        assert missing.value.code == ErrorCode.DOCUMENT_NOT_FOUND
        with pytest.raises(DomainError):
            await local.storage.open(document_id)  # at once, before any iteration


LIMIT = 256 * 1024  # storage_settings.max_document_bytes


@pytest.mark.parametrize(
    ("name", "data", "kind", "filename", "code"),
    [
        ("empty", b"", DocumentKind.INVOICE, "vide.pdf", ErrorCode.DOCUMENT_EMPTY),
        (
            "text renamed .pdf",
            b"Ceci n'est pas un PDF, seulement du texte.\n" * 20,
            DocumentKind.INVOICE,
            "facture.pdf",
            ErrorCode.DOCUMENT_TYPE_NOT_ALLOWED,
        ),
        (
            "one byte over the limit",
            b"%PDF-1.7\n" + b"\x00" * (LIMIT - 9 + 1),
            DocumentKind.INVOICE,
            "grande.pdf",
            ErrorCode.DOCUMENT_TOO_LARGE,
        ),
        (
            "a receipt uploaded",
            pdf_bytes("fake receipt"),
            DocumentKind.DEPOSIT_RECEIPT,
            "recepisse.pdf",
            ErrorCode.INVALID_INPUT,
        ),
        (
            "a name that sanitises to nothing",
            pdf_bytes("x"),
            DocumentKind.INVOICE,
            "../../..",
            ErrorCode.INVALID_FILENAME,
        ),
    ],
)
async def test_refusals_leave_nothing_behind(
    backend: Backend, name: str, data: bytes, kind: DocumentKind, filename: str, code: ErrorCode
) -> None:
    await ingest(backend.storage, png_bytes(), case_id=OTHER_CASE)  # something already there
    before = (await backend.leftovers(), await backend.row_count())
    with pytest.raises(DomainError) as refused:
        await ingest(backend.storage, data, kind=kind, filename=filename, sizes=(1, 4096, 70_001))
    assert refused.value.code == code, name
    assert (await backend.leftovers(), await backend.row_count()) == before


async def test_exactly_at_the_limit_is_accepted(local: Backend) -> None:
    data = b"%PDF-1.7\n" + b"\x00" * (LIMIT - 9)
    assert len(data) == LIMIT
    document_id = await ingest(local.storage, data)
    assert (await local.storage.get(document_id)).size == LIMIT


async def test_reading_stops_as_soon_as_the_limit_is_passed(local: Backend) -> None:
    served = 0
    closed = False

    async def endless() -> AsyncIterator[bytes]:
        nonlocal served, closed
        try:
            yield b"%PDF-1.7\n"
            while True:
                served += 10_000
                yield b"\x00" * 10_000
        finally:
            closed = True

    with pytest.raises(DomainError) as refused:
        await local.storage.ingest(
            case_id=CASE,
            kind=DocumentKind.INVOICE,
            filename="sans-fin.pdf",
            uploaded_by=UPLOADER,
            chunks=endless(),
        )
    assert refused.value.code == ErrorCode.DOCUMENT_TOO_LARGE
    assert served <= LIMIT + 10_000
    assert closed
    assert await local.leftovers() == set()


async def test_duplicate_in_a_case_refused_but_shared_with_another_case(backend: Backend) -> None:
    data = pdf_bytes("the same invoice")
    first = await ingest(backend.storage, data)
    before = (await backend.leftovers(), await backend.row_count())
    with pytest.raises(DomainError) as refused:
        await ingest(backend.storage, data, filename="encore.pdf", kind=DocumentKind.QUOTE)
    assert refused.value.code == ErrorCode.DOCUMENT_DUPLICATE
    assert (await backend.leftovers(), await backend.row_count()) == before

    second = await ingest(backend.storage, data, case_id=OTHER_CASE)
    assert second != first
    assert await backend.object_keys(first) == await backend.object_keys(second)
    assert await backend.leftovers() == before[0]  # one object for both
    assert await backend.storage.read_bytes(second) == data


async def test_concurrent_uploads_of_one_file_in_one_case_record_one(local: Backend) -> None:
    data = pdf_bytes("sent twice at once", padding=os.urandom(100_000))
    outcomes = await asyncio.gather(
        *(ingest(local.storage, data, sizes=(4099,)) for _ in range(3)), return_exceptions=True
    )
    recorded = [outcome for outcome in outcomes if isinstance(outcome, str)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, DomainError)]
    assert len(recorded) == 1 and len(refused) == 2, outcomes
    assert {error.code for error in refused} == {ErrorCode.DOCUMENT_DUPLICATE}
    assert await local.row_count() == 1
    assert len(await local.leftovers()) == 1
    assert await local.storage.read_bytes(recorded[0]) == data


async def test_case_total_limit(backend: Backend) -> None:
    settings = backend.settings.model_copy(
        update={"max_document_bytes": 40_000, "max_case_bytes": 100_000}
    )
    async with DocumentStorage(settings, backend.engine, backend.storage.store) as storage:
        first = pdf_bytes("one", padding=os.urandom(38_000))
        second = pdf_bytes("two", padding=os.urandom(38_000))
        await ingest(storage, first)
        await ingest(storage, second)
        remaining = 100_000 - len(first) - len(second)
        before = (await backend.leftovers(), await backend.row_count())
        too_much = pdf_bytes("three", padding=os.urandom(remaining))
        with pytest.raises(DomainError) as refused:
            await ingest(storage, too_much)
        assert refused.value.code == ErrorCode.CASE_STORAGE_FULL
        assert (await backend.leftovers(), await backend.row_count()) == before
        # Another case has its own allowance, and this one takes what exactly fits.
        await ingest(storage, too_much, case_id=OTHER_CASE)
        fits = b"%PDF-1.7\n" + os.urandom(remaining - 9)
        await ingest(storage, fits)
        assert sum(info.size for info in await storage.list_for_case(CASE)) == 100_000


async def test_put_generated_is_idempotent_and_encrypted(backend: Backend) -> None:
    manifest = json.dumps({"format": "secupol-dossier-manifest/1", "case_id": CASE}).encode()

    async def put(data: bytes, kind: DocumentKind = DocumentKind.DOSSIER_MANIFEST) -> str:
        info = await backend.storage.put_generated(
            case_id=CASE,
            kind=kind,
            filename="manifeste-du-dossier.json",
            data=data,
            content_type="application/json",
            created_by="secupol",
        )
        assert info.content_type == "application/json"  # no upload type check
        return info.document_id

    first = await put(manifest)
    assert await put(manifest) == first
    assert await backend.row_count() == 1
    assert len(await backend.leftovers()) == 1
    assert await backend.storage.read_bytes(first) == manifest
    raw = await backend.raw(await backend.object_keys(first))
    assert b"secupol-dossier-manifest" not in raw

    different = await put(manifest + b"\n")
    assert different != first
    with pytest.raises(DomainError) as refused:
        await put(manifest, kind=DocumentKind.DEPOSIT_RECEIPT)
    assert refused.value.code == ErrorCode.DOCUMENT_DUPLICATE


async def test_generated_documents_are_not_held_to_upload_limits(local: Backend) -> None:
    receipt = pdf_bytes("receipt", padding=os.urandom(2 * LIMIT))
    info = await local.storage.put_generated(
        case_id=CASE,
        kind=DocumentKind.DEPOSIT_RECEIPT,
        filename="recepisse-de-depot.pdf",
        data=receipt,
        content_type="application/pdf",
        created_by="secupol",
    )
    assert await local.storage.read_bytes(info.document_id) == receipt


async def test_concurrent_retries_of_a_generated_document_give_one(local: Backend) -> None:
    data = pdf_bytes("receipt")
    infos = await asyncio.gather(
        *(
            local.storage.put_generated(
                case_id=CASE,
                kind=DocumentKind.DEPOSIT_RECEIPT,
                filename="recepisse-de-depot.pdf",
                data=data,
                content_type="application/pdf",
                created_by="secupol",
            )
            for _ in range(3)
        )
    )
    assert len({info.document_id for info in infos}) == 1
    assert await local.row_count() == 1
    assert len(await local.leftovers()) == 1


async def test_streaming_a_multi_mebibyte_upload_in_odd_pieces(local: Backend) -> None:
    settings = local.settings.model_copy(
        update={"max_document_bytes": 8 * 1024 * 1024, "max_case_bytes": 16 * 1024 * 1024}
    )
    data = pdf_bytes("large", padding=os.urandom(6 * 1024 * 1024 + 12_345))
    async with DocumentStorage(settings, local.engine, local.storage.store) as storage:
        document_id = await ingest(storage, data, sizes=(1, 3, 65_535, 65_537, 100_003, 7))
        digest = hashlib.sha256()
        pieces = 0
        async for piece in await storage.open(document_id):
            digest.update(piece)
            pieces += 1
            assert len(piece) <= 64 * 1024
        assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
        assert pieces > 90  # it came back as a stream, not as one block


async def test_local_store_refuses_keys_outside_its_pattern(storage_settings: Settings) -> None:
    store = LocalDiskStore(storage_settings.resolved_documents_dir)
    for key in [
        "../escape",
        "/etc/passwd",
        "objects/../../x",
        "Objects/A",
        "a/b/c/d/e",
        "a//b",
        "",
    ]:
        with pytest.raises(InvalidObjectKey):
            await store.exists(key)


async def test_uploads_racing_for_the_last_bytes_of_a_case(local: Backend) -> None:
    settings = local.settings.model_copy(
        update={"max_document_bytes": 40_000, "max_case_bytes": 60_000}
    )
    second_started = asyncio.Event()

    async def first_chunks() -> AsyncIterator[bytes]:
        data = pdf_bytes("first", padding=os.urandom(30_000))
        yield data[:100]
        # Both uploads have measured the case's free space before either is recorded.
        await second_started.wait()
        yield data[100:]

    async def second_chunks() -> AsyncIterator[bytes]:
        second_started.set()
        yield pdf_bytes("second", padding=os.urandom(30_000))

    async with DocumentStorage(settings, local.engine, local.storage.store) as storage:
        outcomes = await asyncio.gather(
            *(
                storage.ingest(
                    case_id=CASE,
                    kind=DocumentKind.INVOICE,
                    filename="facture.pdf",
                    uploaded_by=UPLOADER,
                    chunks=chunks,
                )
                for chunks in (first_chunks(), second_chunks())
            ),
            return_exceptions=True,
        )
    refused = [outcome for outcome in outcomes if isinstance(outcome, DomainError)]
    assert [error.code for error in refused] == [ErrorCode.CASE_STORAGE_FULL], outcomes
    assert await local.row_count() == 1
    assert len(await local.leftovers()) == 1  # the refused upload's object is gone too


@pytest.mark.parametrize(
    "change",
    [
        {"sha256": "0" * 64},
        {"size": 100},
        {"size": 100_000},
    ],
)
async def test_content_is_checked_against_its_row(
    local: Backend, change: dict[str, object]
) -> None:
    document_id = await ingest(local.storage, pdf_bytes("checked", padding=os.urandom(70_000)))
    async with local.engine.begin() as connection:
        await connection.execute(
            documents.update().where(documents.c.document_id == document_id).values(change)
        )
    with pytest.raises(DocumentIntegrityError):
        await local.storage.read_bytes(document_id)


async def test_store_lists_its_objects(backend: Backend) -> None:
    first = await ingest(backend.storage, png_bytes())
    second = await ingest(backend.storage, jpeg_bytes(), filename="photo.jpg")
    listed = {key async for key in backend.storage.store.keys("objects/")}
    assert listed == {await backend.object_keys(first), await backend.object_keys(second)}
    assert {key async for key in backend.storage.store.keys("tmp/")} == set()


async def test_a_database_failure_after_the_object_is_written_leaves_nothing(
    local: Backend,
) -> None:
    await ingest(local.storage, png_bytes())
    before = (await local.leftovers(), await local.row_count())
    database = local.settings.data_dir / "secupol.sqlite3"
    # The same database opened read-only: every read works, the insert fails, as when the
    # database goes away between the upload and its recording.
    read_only = create_async_engine(f"sqlite+aiosqlite:///file:{database}?mode=ro&uri=true")
    try:
        async with DocumentStorage(local.settings, read_only, local.storage.store) as storage:
            with pytest.raises(OperationalError):
                await ingest(storage, pdf_bytes("never recorded"))
            with pytest.raises(OperationalError):
                await storage.put_generated(
                    case_id=CASE,
                    kind=DocumentKind.DOSSIER_MANIFEST,
                    filename="manifeste-du-dossier.json",
                    data=b'{"never": "recorded"}',
                    content_type="application/json",
                    created_by="secupol",
                )
    finally:
        await read_only.dispose()
    assert (await local.leftovers(), await local.row_count()) == before


async def test_an_unreachable_store_fails_the_upload_and_records_nothing(
    storage_settings: Settings, storage_engine: AsyncEngine
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    store = S3Store(
        bucket="secupol-nowhere",
        region=S3_REGION,
        endpoint_url=endpoint,
        access_key_id=S3_ACCESS_KEY,
        secret_access_key=S3_SECRET_KEY,
        max_attempts=1,
    )
    async with DocumentStorage(storage_settings, storage_engine, store) as storage:
        with pytest.raises(EndpointConnectionError):
            await ingest(storage, pdf_bytes("nowhere to go"))
    async with storage_engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(documents)) == 0
