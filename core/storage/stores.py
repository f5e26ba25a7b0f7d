"""Where encrypted objects live: the local disk or an S3-compatible bucket.

A store holds opaque bytes (already encrypted by ``core.storage.crypto``) under object keys that
secupol makes itself and that match a strict pattern: lowercase letters, digits and hyphens, in
one to four ``/``-separated segments. Nothing a user sends ever becomes part of a key, and a key
that does not match is refused before it reaches a path or a request.

Writes are atomic: a reader sees the whole object or no object, never part of one, and a write
that fails (or whose input raises midway, for example an upload refused as too large) leaves
nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import aioboto3
from botocore.config import Config
from botocore.exceptions import ClientError

from core.settings import Settings, StorageBackend
from core.storage.errors import InvalidObjectKey, ObjectNotFound

logger = logging.getLogger(__name__)

_OBJECT_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,63}(?:/[a-z0-9][a-z0-9-]{0,63}){0,3}")
MAX_OBJECT_KEY_LENGTH = 200
"""The ``object_key`` column's size."""
_IO_BLOCK = 1024 * 1024
"""Bytes per disk read or write: large enough that thread hand-offs cost nothing noticeable."""
S3_MIN_PART_SIZE = 5 * 1024 * 1024
"""S3 refuses smaller parts, except the last one."""
S3_PART_SIZE = 8 * 1024 * 1024


def validate_object_key(key: str) -> str:
    """Return ``key`` if it matches the strict object key pattern.

    Raises:
        InvalidObjectKey: The key could name something outside the store (or is just malformed).
    """
    if len(key) > MAX_OBJECT_KEY_LENGTH or not _OBJECT_KEY.fullmatch(key):
        raise InvalidObjectKey("object key outside the allowed pattern")
    return key


class ObjectStore(Protocol):
    """Raw bytes by object key. Implementations: ``LocalDiskStore``, ``S3Store``."""

    async def put(self, key: str, data: AsyncIterable[bytes]) -> None:
        """Store the bytes of ``data`` under ``key``, replacing any object there, atomically.

        If ``data`` raises, the exception propagates and nothing is stored.
        """
        ...

    def get(self, key: str) -> AsyncGenerator[bytes, None]:
        """Stream the object under ``key``; raises ``ObjectNotFound`` when iterated if absent."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    async def delete(self, key: str) -> None:
        """Delete the object under ``key``; deleting an absent object is not an error."""
        ...

    def keys(self, prefix: str = "") -> AsyncGenerator[str, None]:
        """Every stored key starting with ``prefix`` (for sweeps and checks, in no set order)."""
        ...

    async def aclose(self) -> None:
        """Release connections; the store may not be used afterwards."""
        ...


class _PartialFile:
    """A file written next to its destination under a name no key can have, then renamed."""

    def __init__(self, destination: Path):
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._destination = destination
        # Keys never contain dots, so this name can neither collide with nor be read as a key.
        self._path = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.partial")
        descriptor = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file: BinaryIO = os.fdopen(descriptor, "wb")

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._path, self._destination)
        # The rename itself must survive a crash, or the object could vanish after we reported it.
        directory = os.open(self._destination.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def discard(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)


def _list_files(root: Path, prefix: str) -> list[str]:
    found: list[str] = []
    for directory, _subdirectories, files in os.walk(root):
        for name in files:
            key = (Path(directory) / name).relative_to(root).as_posix()
            if key.startswith(prefix) and _OBJECT_KEY.fullmatch(key):
                found.append(key)
    return found


class LocalDiskStore:
    """Objects as files under one directory, for the embedded stack and single-host setups.

    Args:
        root: The directory that holds the objects (created when first written to).
    """

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_object_key(key).split("/"))

    async def put(self, key: str, data: AsyncIterable[bytes]) -> None:
        """Write to a partial file in the destination's directory, fsync, then rename it."""
        partial = await asyncio.to_thread(_PartialFile, self._path(key))
        try:
            pending = bytearray()
            async for piece in data:
                pending += piece
                if len(pending) >= _IO_BLOCK:
                    await asyncio.to_thread(partial.write, bytes(pending))
                    pending.clear()
            if pending:
                await asyncio.to_thread(partial.write, bytes(pending))
            await asyncio.to_thread(partial.commit)
        except BaseException:
            # Synchronous on purpose: it must run even when the task is being cancelled.
            partial.discard()
            raise

    async def get(self, key: str) -> AsyncGenerator[bytes, None]:
        """Stream the file in blocks of 1 MiB."""
        try:
            # Opened on the event loop, not in a thread: opening a local file takes microseconds,
            # and a reader cancelled while a thread opens the file (a worker shutting down cancels
            # the activities under way) could leave it open until the thread's result reached a
            # busy loop. Reads, which may take long, go to threads, and ``finally`` closes.
            file = self._path(key).open("rb")
        except FileNotFoundError:
            raise ObjectNotFound("no object under this key") from None
        try:
            while block := await asyncio.to_thread(file.read, _IO_BLOCK):
                yield block
        finally:
            file.close()

    async def exists(self, key: str) -> bool:
        """Whether the file exists."""
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        """Remove the file if present."""
        await asyncio.to_thread(self._path(key).unlink, True)

    async def keys(self, prefix: str = "") -> AsyncGenerator[str, None]:
        """Keys of the files under the root (partial files are not objects)."""
        for key in await asyncio.to_thread(_list_files, self.root, prefix):
            yield key

    async def aclose(self) -> None:
        """Nothing to release."""


def _error_code(error: Any) -> str:
    code: str = error.response.get("Error", {}).get("Code", "")
    return code


_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


class S3Store:
    """Objects in an S3-compatible bucket (AWS S3, MinIO, Garage, Ceph, …).

    One client is opened on first use and kept until ``aclose``. Objects are uploaded in parts of
    ``part_size`` bytes as the stream arrives (a single ``PutObject`` when the whole object fits in
    one part), so memory holds at most one part whatever the object's size.

    Args:
        bucket: The bucket name.
        region: The bucket's region.
        endpoint_url: The endpoint of an S3-compatible service; None for AWS itself.
        access_key_id: Credentials; None to let botocore find them (instance role, environment).
        secret_access_key: Goes with ``access_key_id``.
        create_bucket: Create the bucket if missing. For tests and the embedded stack only: in
            production the bucket, its policy and its encryption settings are provisioned.
        part_size: Bytes per uploaded part (at least 5 MiB, the S3 minimum).
        max_attempts: Attempts per request, retries included (botocore's standard mode).
    """

    def __init__(
        self,
        *,
        bucket: str,
        region: str,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        create_bucket: bool = False,
        part_size: int = S3_PART_SIZE,
        max_attempts: int = 3,
    ):
        if part_size < S3_MIN_PART_SIZE:
            raise ValueError("S3 parts are at least 5 MiB")
        self._bucket = bucket
        self._region = region
        self._endpoint_url = endpoint_url
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._create_bucket = create_bucket
        self._part_size = part_size
        self._max_attempts = max_attempts
        self._session = aioboto3.Session()
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                stack = AsyncExitStack()
                try:
                    client = await stack.enter_async_context(
                        self._session.client(
                            "s3",
                            region_name=self._region,
                            endpoint_url=self._endpoint_url,
                            aws_access_key_id=self._access_key_id,
                            aws_secret_access_key=self._secret_access_key,
                            config=Config(
                                # S3-compatible services rarely serve virtual-hosted buckets.
                                s3={"addressing_style": "path" if self._endpoint_url else "auto"},
                                retries={"mode": "standard", "max_attempts": self._max_attempts},
                                connect_timeout=10,
                                read_timeout=60,
                            ),
                        )
                    )
                    if self._create_bucket:
                        await self._ensure_bucket(client)
                except BaseException:
                    await stack.aclose()
                    raise
                self._stack, self._client = stack, client
        return self._client

    async def _ensure_bucket(self, client: Any) -> None:
        try:
            await client.head_bucket(Bucket=self._bucket)
            return
        except ClientError as error:
            if _error_code(error) not in _NOT_FOUND_CODES:
                raise
        options: dict[str, Any] = {}
        if self._region != "us-east-1":  # the one region S3 refuses to be told explicitly
            options["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        try:
            await client.create_bucket(Bucket=self._bucket, **options)
        except ClientError as error:
            if _error_code(error) != "BucketAlreadyOwnedByYou":
                raise

    async def put(self, key: str, data: AsyncIterable[bytes]) -> None:
        """Upload as the stream arrives; a failed multipart upload is aborted."""
        validate_object_key(key)
        s3 = await self._s3()
        target = {"Bucket": self._bucket, "Key": key}
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []

        async def upload_part(body: bytes) -> None:
            response = await s3.upload_part(
                **target, UploadId=upload_id, PartNumber=len(parts) + 1, Body=body
            )
            parts.append({"PartNumber": len(parts) + 1, "ETag": response["ETag"]})

        try:
            async for piece in data:
                buffer += piece
                while len(buffer) >= self._part_size:
                    if upload_id is None:
                        upload_id = (await s3.create_multipart_upload(**target))["UploadId"]
                    await upload_part(bytes(buffer[: self._part_size]))
                    del buffer[: self._part_size]
            if upload_id is None:
                await s3.put_object(**target, Body=bytes(buffer))
                return
            if buffer:
                await upload_part(bytes(buffer))
            await s3.complete_multipart_upload(
                **target, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            if upload_id is not None:
                await self._abort(key, upload_id)
            raise

    async def _abort(self, key: str, upload_id: str) -> None:
        try:
            await self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload_id
            )
        except Exception:
            # The original error matters more; a bucket lifecycle rule on incomplete multipart
            # uploads collects what is left.
            logger.warning("could not abort a multipart upload", exc_info=True)

    async def get(self, key: str) -> AsyncGenerator[bytes, None]:
        """Stream the object in blocks of up to 1 MiB."""
        validate_object_key(key)
        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                raise ObjectNotFound("no object under this key") from None
            raise
        body = response["Body"]
        async with body:
            while block := await body.read(_IO_BLOCK):
                yield block

    async def exists(self, key: str) -> bool:
        """Whether ``HeadObject`` finds the object."""
        validate_object_key(key)
        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                return False
            raise
        return True

    async def delete(self, key: str) -> None:
        """``DeleteObject``, which S3 already treats as idempotent."""
        validate_object_key(key)
        s3 = await self._s3()
        await s3.delete_object(Bucket=self._bucket, Key=key)

    async def keys(self, prefix: str = "") -> AsyncGenerator[str, None]:
        """Keys listed by ``ListObjectsV2``."""
        s3 = await self._s3()
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key: str = item["Key"]
                yield key

    async def aclose(self) -> None:
        """Close the client (and its connection pool)."""
        if self._stack is not None:
            stack, self._stack, self._client = self._stack, None, None
            await stack.aclose()


def build_store(settings: Settings, *, create_bucket: bool = False) -> ObjectStore:
    """The store selected by ``settings.storage_backend``.

    Args:
        settings: Storage settings (``resolved_documents_dir`` or the ``s3_*`` fields).
        create_bucket: S3 only: create the bucket if missing (tests, embedded stack).
    """
    if settings.storage_backend == StorageBackend.S3:
        secret = settings.s3_secret_access_key
        return S3Store(
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
            create_bucket=create_bucket,
        )
    return LocalDiskStore(settings.resolved_documents_dir)
