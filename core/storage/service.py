"""``DocumentStorage``: uploads checked and encrypted on the way in, verified on the way out.

An upload is streamed once: counted (and stopped as soon as it is too large), hashed, typed from
its first bytes and encrypted into a temporary object ``tmp/<random>``. Once it is accepted, it is
re-encrypted into its content-addressed object ``objects/<aa>/<address>`` (the address is derived
from the plaintext's SHA-256, see ``core.storage.crypto``), whose every chunk is bound to that
key; an object already stored there is kept, which is how one file given in two cases is stored
once. Then its row is inserted, in one statement that also checks the case's total, and the
temporary object is deleted.

Whatever refuses or fails on the way leaves nothing behind: no temporary object, no row, and no
object that no row references.

Concurrency: two uploads of the same bytes in one case cannot both be recorded (the database's
unique constraint on ``(case_id, sha256)`` decides). An object created by an upload that then
fails is deleted only if no row references it, and an upload that found an object already there
checks after recording its row that the object is still there, and writes it again if not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import documents
from core.settings import Settings
from core.storage.crypto import KeyRing
from core.storage.errors import DocumentIntegrityError
from core.storage.inspection import UploadMeter, sanitise_filename
from core.storage.stores import ObjectStore, build_store
from domain.documents import (
    GENERATED_KINDS,
    SYSTEM_UPLOADER,
    UNKNOWN_UPLOADER,
    DocumentInfo,
    DocumentKind,
)
from domain.errors import DomainError, ErrorCode

logger = logging.getLogger(__name__)

_DOCUMENT_ID = re.compile(r"doc[0-9a-f]{32}")
_REFERENCE_LENGTH = 120
"""Size of the ``case_id`` and ``uploaded_by`` columns."""
_CONTENT_TYPE_LENGTH = 100


def _new_document_id() -> str:
    return f"doc{uuid.uuid4().hex}"


def _temporary_key() -> str:
    return f"tmp/{uuid.uuid4().hex}"


def _object_key(address: str) -> str:
    # Two hex characters of fan-out keep directory listings short on the local disk.
    return f"objects/{address[:2]}/{address}"


def _check_reference(value: str, field: str) -> None:
    if not value or len(value) > _REFERENCE_LENGTH:
        raise DomainError(ErrorCode.INVALID_INPUT, field=field)


@dataclass(frozen=True)
class _StoredDocument:
    info: DocumentInfo
    object_key: str
    key_id: str


async def _once(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data


async def _close_source(chunks: AsyncIterator[bytes]) -> None:
    # Stopping early (a refused upload) must still release the caller's stream, for example the
    # HTTP request body, instead of leaving it to the garbage collector.
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()


def _as_utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _stored_from_row(row: Any) -> _StoredDocument:
    info = DocumentInfo(
        document_id=row.document_id,
        case_id=row.case_id,
        kind=DocumentKind(row.kind),
        filename=row.filename,
        size=row.size,
        sha256=row.sha256,
        content_type=row.content_type,
        uploaded_by=row.uploaded_by,
        uploaded_at=_as_utc(row.uploaded_at),
        uploader_role=row.uploader_role,
    )
    return _StoredDocument(info=info, object_key=row.object_key, key_id=row.key_id)


class DocumentStorage:
    """Documents of cases: encrypted objects in a store, metadata in the ``documents`` table.

    Args:
        settings: Limits (``max_document_bytes``, ``max_case_bytes``) and document keys.
        engine: The app database, where the ``documents`` table lives.
        store: Where encrypted objects go; by default the one ``settings.storage_backend`` names.
    """

    def __init__(self, settings: Settings, engine: AsyncEngine, store: ObjectStore | None = None):
        self._settings = settings
        self._engine = engine
        self._keys = KeyRing.from_settings(settings)
        self.store: ObjectStore = store if store is not None else build_store(settings)

    async def aclose(self) -> None:
        """Release the store's connections (the engine belongs to the caller)."""
        await self.store.aclose()

    async def __aenter__(self) -> DocumentStorage:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # Writing

    async def ingest(
        self,
        *,
        case_id: str,
        kind: DocumentKind,
        filename: str,
        uploaded_by: str,
        chunks: AsyncIterator[bytes],
        uploader_role: str = UNKNOWN_UPLOADER,
    ) -> DocumentInfo:
        """Check, encrypt and record an upload, streamed from ``chunks``.

        The type comes from the first bytes (PDF, JPEG or PNG), never from the name. Reading stops
        as soon as the upload exceeds ``max_document_bytes`` or what remains of
        ``max_case_bytes`` for the case. ``chunks`` is closed on return, whatever happens.

        Args:
            case_id: The case the document belongs to.
            kind: What the document is; kinds that secupol produces are refused.
            filename: The name the client gave, kept (sanitised) for display only.
            uploaded_by: Who uploads it (an opaque account id).
            chunks: The content, in pieces of any size.
            uploader_role: The uploader's role (a ``Role`` value), shown with the document.

        Returns:
            The recorded document.

        Raises:
            DomainError: ``DOCUMENT_EMPTY``, ``DOCUMENT_TOO_LARGE``, ``DOCUMENT_TYPE_NOT_ALLOWED``,
                ``DOCUMENT_DUPLICATE`` (the same content is already in this case),
                ``CASE_STORAGE_FULL``, ``INVALID_FILENAME``, or ``INVALID_INPUT`` (a generated
                kind, an empty or overlong ``case_id``/``uploaded_by``).
            Exception: The store or the database failed (their own errors: ``OSError``, botocore,
                SQLAlchemy); nothing is left behind.
        """
        try:
            return await self._ingest(
                case_id, DocumentKind(kind), filename, uploaded_by, chunks, uploader_role
            )
        finally:
            await _close_source(chunks)

    async def _ingest(
        self,
        case_id: str,
        kind: DocumentKind,
        filename: str,
        uploaded_by: str,
        chunks: AsyncIterator[bytes],
        uploader_role: str,
    ) -> DocumentInfo:
        _check_reference(case_id, "case_id")
        _check_reference(uploaded_by, "uploaded_by")
        if kind in GENERATED_KINDS:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                field="kind",
                message="Cette pièce est produite par Sécu'Pol : elle ne peut pas être déposée.",
            )
        name = sanitise_filename(filename)
        remaining = max(0, self._settings.max_case_bytes - await self._case_bytes(case_id))
        if self._settings.max_document_bytes <= remaining:
            meter = UploadMeter(self._settings.max_document_bytes, ErrorCode.DOCUMENT_TOO_LARGE)
        else:
            meter = UploadMeter(remaining, ErrorCode.CASE_STORAGE_FULL)
        head, content_type = await meter.read_head(chunks)
        temporary_key = _temporary_key()
        try:
            async with (
                aclosing(meter.rest(head, chunks)) as metered,
                aclosing(self._keys.encrypt(temporary_key, metered)) as sealed,
            ):
                await self.store.put(temporary_key, sealed)
            sha256 = meter.digest.hexdigest()
            if await self._find(case_id, sha256) is not None:
                raise DomainError(ErrorCode.DOCUMENT_DUPLICATE)
            size = meter.size
            return await self._record(
                case_id=case_id,
                kind=kind,
                filename=name,
                sha256=sha256,
                size=size,
                content_type=content_type.value,
                author=uploaded_by,
                author_role=uploader_role,
                plaintext=lambda: self._verified(temporary_key, sha256, size),
                within_case_limit=True,
            )
        finally:
            await self._delete_quietly(temporary_key)

    async def put_generated(
        self,
        *,
        case_id: str,
        kind: DocumentKind,
        filename: str,
        data: bytes,
        content_type: str,
        created_by: str,
    ) -> DocumentInfo:
        """Store a document secupol produced (dossier manifest, deposit receipt), encrypted.

        Idempotent: the same bytes of the same kind in the same case return the document already
        recorded, so a retried activity stores one document. The type is the caller's word, and
        neither size limit applies: a deposit must not fail because its receipt does not fit.

        Args:
            case_id: The case the document belongs to.
            kind: What the document is.
            filename: Its display name (sanitised like any other).
            data: The content.
            content_type: Its media type, for example ``application/json``.
            created_by: The system author recorded as uploader.

        Returns:
            The recorded document (the existing one when it was already stored).

        Raises:
            DomainError: ``DOCUMENT_EMPTY``; ``DOCUMENT_DUPLICATE`` if the same bytes are recorded
                in the case under another kind; ``INVALID_FILENAME``; ``INVALID_INPUT``.
            Exception: The store or the database failed (their own errors: ``OSError``, botocore,
                SQLAlchemy); nothing is left behind.
        """
        kind = DocumentKind(kind)
        _check_reference(case_id, "case_id")
        _check_reference(created_by, "created_by")
        if not content_type or len(content_type) > _CONTENT_TYPE_LENGTH:
            raise DomainError(ErrorCode.INVALID_INPUT, field="content_type")
        name = sanitise_filename(filename)
        if not data:
            raise DomainError(ErrorCode.DOCUMENT_EMPTY)
        sha256 = hashlib.sha256(data).hexdigest()
        existing = await self._find(case_id, sha256)
        if existing is not None:
            return self._same_generated(existing, kind)
        try:
            return await self._record(
                case_id=case_id,
                kind=kind,
                filename=name,
                sha256=sha256,
                size=len(data),
                content_type=content_type,
                author=created_by,
                author_role=SYSTEM_UPLOADER,
                plaintext=lambda: _once(data),
                within_case_limit=False,
            )
        except DomainError as error:
            # A concurrent attempt of the same activity recorded it first: that is our document.
            existing = await self._find(case_id, sha256)
            if error.code != ErrorCode.DOCUMENT_DUPLICATE or existing is None:
                raise
            return self._same_generated(existing, kind)

    @staticmethod
    def _same_generated(existing: _StoredDocument, kind: DocumentKind) -> DocumentInfo:
        if existing.info.kind != kind:
            raise DomainError(ErrorCode.DOCUMENT_DUPLICATE)
        return existing.info

    async def _record(
        self,
        *,
        case_id: str,
        kind: DocumentKind,
        filename: str,
        sha256: str,
        size: int,
        content_type: str,
        author: str,
        author_role: str,
        plaintext: Callable[[], AsyncGenerator[bytes, None]],
        within_case_limit: bool,
    ) -> DocumentInfo:
        # ``plaintext`` makes a fresh stream each time: the object may have to be written twice.
        object_key = _object_key(self._keys.content_address(sha256))
        created = False
        if not await self.store.exists(object_key):
            await self._write_object(object_key, plaintext())
            created = True
        info = DocumentInfo(
            document_id=_new_document_id(),
            case_id=case_id,
            kind=kind,
            filename=filename,
            size=size,
            sha256=sha256,
            content_type=content_type,
            uploaded_by=author,
            uploaded_at=dt.datetime.now(dt.UTC),
            uploader_role=author_role,
        )
        try:
            await self._insert(info, object_key, within_case_limit=within_case_limit)
        except BaseException:
            if created:
                await self._delete_if_unreferenced(object_key)
            raise
        if not created:
            try:
                if not await self.store.exists(object_key):
                    # A concurrent upload of the same bytes created it, failed, and removed it
                    # between our check and our row.
                    await self._write_object(object_key, plaintext())
            except BaseException:
                await self._delete_row(info.document_id)
                raise
        logger.info("document %s stored (%d bytes, %s)", info.document_id, size, content_type)
        return info

    async def _write_object(self, object_key: str, plaintext: AsyncGenerator[bytes, None]) -> None:
        async with (
            aclosing(plaintext) as source,
            aclosing(self._keys.encrypt(object_key, source)) as sealed,
        ):
            await self.store.put(object_key, sealed)

    async def _insert(
        self, info: DocumentInfo, object_key: str, *, within_case_limit: bool
    ) -> None:
        values: dict[str, Any] = {
            "document_id": info.document_id,
            "case_id": info.case_id,
            "kind": info.kind.value,
            "filename": info.filename,
            "size": info.size,
            "sha256": info.sha256,
            "content_type": info.content_type,
            "object_key": object_key,
            "key_id": self._keys.current_id,
            "uploaded_by": info.uploaded_by,
            "uploaded_at": info.uploaded_at,
            "uploader_role": info.uploader_role,
        }
        if within_case_limit:
            # One statement checks the case's total and inserts, so that two uploads racing for
            # the last bytes of a case cannot both pass a check made before either inserts.
            case_total = (
                select(func.coalesce(func.sum(documents.c.size), 0))
                .where(documents.c.case_id == info.case_id)
                .scalar_subquery()
            )
            row = select(
                *(
                    literal(value, documents.c[name].type).label(name)
                    for name, value in values.items()
                )
            ).where(case_total + info.size <= self._settings.max_case_bytes)
            statement: Any = insert(documents).from_select(list(values), row)
        else:
            statement = insert(documents).values(values)
        try:
            async with self._engine.begin() as connection:
                if within_case_limit and connection.dialect.name == "postgresql":
                    # Under READ COMMITTED, two inserts racing for a case's last bytes would each
                    # miss the other's uncommitted row: one lock per case serialises them (SQLite
                    # serialises every writer already).
                    await connection.execute(case_lock(info.case_id))
                result = await connection.execute(statement)
        except IntegrityError:
            # Classified by what the table now holds, not by the driver's message.
            if await self._find(info.case_id, info.sha256) is not None:
                raise DomainError(ErrorCode.DOCUMENT_DUPLICATE) from None
            raise
        if result.rowcount == 0:
            raise DomainError(ErrorCode.CASE_STORAGE_FULL)

    async def _delete_row(self, document_id: str) -> None:
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    documents.delete().where(documents.c.document_id == document_id)
                )
        except Exception as error:
            logger.warning("could not remove the row of a failed upload: %s", type(error).__name__)

    async def _delete_if_unreferenced(self, object_key: str) -> None:
        try:
            async with self._engine.connect() as connection:
                referenced = (
                    await connection.execute(
                        select(documents.c.document_id)
                        .where(documents.c.object_key == object_key)
                        .limit(1)
                    )
                ).first()
            if referenced is None:
                await self.store.delete(object_key)
        except Exception as error:
            # The original failure is what the caller must see.
            logger.warning("could not clean up after a failed upload: %s", type(error).__name__)

    async def _delete_quietly(self, object_key: str) -> None:
        try:
            await self.store.delete(object_key)
        except Exception as error:
            # Left under tmp/, where nothing refers to it; a sweep of old tmp/ objects removes it.
            logger.warning("could not delete a temporary object: %s", type(error).__name__)

    # Reading

    async def get(self, document_id: str) -> DocumentInfo:
        """The metadata of a document.

        Raises:
            DomainError: ``DOCUMENT_NOT_FOUND``.
        """
        return (await self._stored(document_id)).info

    async def list_for_case(self, case_id: str) -> list[DocumentInfo]:
        """Every document of a case, oldest first."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(documents)
                .where(documents.c.case_id == case_id)
                .order_by(documents.c.uploaded_at, documents.c.document_id)
            )
            return [_stored_from_row(row).info for row in rows]

    async def open(self, document_id: str) -> AsyncGenerator[bytes, None]:
        """The decrypted content of a document, as a stream.

        The document is looked up now (so that an unknown id fails before a response starts); the
        object is read as the stream is iterated. Every chunk is authenticated before it is
        yielded, and the size and SHA-256 of the whole are checked against the row at the end.
        Close the stream (``contextlib.aclosing``) if you stop before its end.

        Raises:
            DomainError: ``DOCUMENT_NOT_FOUND``, at once.
            DocumentIntegrityError: While iterating, if the stored object was altered.
            DocumentKeyUnavailable: While iterating, if its key is no longer configured.
            ObjectNotFound: While iterating, if the object is missing from the store.
        """
        stored = await self._stored(document_id)
        return self._verified(stored.object_key, stored.info.sha256, stored.info.size)

    async def read_bytes(self, document_id: str) -> bytes:
        """The whole decrypted content of a document, verified (for small documents).

        Raises:
            DomainError: ``DOCUMENT_NOT_FOUND``.
            DocumentIntegrityError: The stored object was altered.
            DocumentKeyUnavailable: Its key is no longer configured.
        """
        content = bytearray()
        async with aclosing(await self.open(document_id)) as stream:
            async for piece in stream:
                content += piece
        return bytes(content)

    async def _verified(
        self, object_key: str, sha256: str, size: int
    ) -> AsyncGenerator[bytes, None]:
        digest = hashlib.sha256()
        seen = 0
        async with (
            aclosing(self.store.get(object_key)) as stored,
            aclosing(self._keys.decrypt(object_key, stored)) as plaintext,
        ):
            async for piece in plaintext:
                seen += len(piece)
                if seen > size:
                    raise DocumentIntegrityError("the stored object is longer than recorded")
                digest.update(piece)
                yield piece
        if seen != size or digest.hexdigest() != sha256:
            raise DocumentIntegrityError("the stored object does not match its recorded SHA-256")

    async def _stored(self, document_id: str) -> _StoredDocument:
        if _DOCUMENT_ID.fullmatch(document_id):
            async with self._engine.connect() as connection:
                row = (
                    await connection.execute(
                        select(documents).where(documents.c.document_id == document_id)
                    )
                ).first()
            if row is not None:
                return _stored_from_row(row)
        raise DomainError(ErrorCode.DOCUMENT_NOT_FOUND)

    async def _find(self, case_id: str, sha256: str) -> _StoredDocument | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(documents).where(
                        documents.c.case_id == case_id, documents.c.sha256 == sha256
                    )
                )
            ).first()
        return None if row is None else _stored_from_row(row)

    async def _case_bytes(self, case_id: str) -> int:
        async with self._engine.connect() as connection:
            total = await connection.scalar(
                select(func.coalesce(func.sum(documents.c.size), 0)).where(
                    documents.c.case_id == case_id
                )
            )
        return int(total or 0)


CASE_LOCK_NAMESPACE = "secupol-case-documents:"


def case_lock(case_id: str) -> Any:
    """PostgreSQL: the statement that takes the transaction's lock on a case's documents."""
    key = func.hashtextextended(literal(CASE_LOCK_NAMESPACE + case_id), 0)
    return select(func.pg_advisory_xact_lock(key))


def build_storage(
    settings: Settings, engine: AsyncEngine, *, create_bucket: bool = False
) -> DocumentStorage:
    """The document storage that ``settings`` describe.

    Args:
        settings: Backend (``storage_backend``), its location, limits and keys.
        engine: The app database.
        create_bucket: S3 only: create the bucket if it is missing (tests, embedded stack).
    """
    return DocumentStorage(settings, engine, build_store(settings, create_bucket=create_bucket))
