"""Document storage: encrypted objects on the local disk or in S3, metadata in the database.

Documents never travel through Temporal: the API streams uploads into ``DocumentStorage``, the
workflow holds only document ids, and activities read documents back by id.

- ``service``: ``DocumentStorage`` (ingest, generated documents, reads) and ``build_storage``.
- ``crypto``: the chunked AES-GCM format of stored objects and the key ring (rotation by key id).
- ``stores``: the ``ObjectStore`` protocol, ``LocalDiskStore`` and ``S3Store``.
- ``inspection``: type recognition from magic bytes and ``sanitise_filename``.
- ``errors``: what storage raises when it cannot serve (refusals are ``DomainError``).
"""

from core.storage.crypto import KeyRing
from core.storage.errors import (
    DocumentIntegrityError,
    DocumentKeyUnavailable,
    InvalidObjectKey,
    ObjectNotFound,
    StorageError,
)
from core.storage.inspection import sanitise_filename, sniff_content_type
from core.storage.service import DocumentStorage, build_storage
from core.storage.stores import (
    LocalDiskStore,
    ObjectStore,
    S3Store,
    build_store,
    validate_object_key,
)

__all__ = [
    "DocumentIntegrityError",
    "DocumentKeyUnavailable",
    "DocumentStorage",
    "InvalidObjectKey",
    "KeyRing",
    "LocalDiskStore",
    "ObjectNotFound",
    "ObjectStore",
    "S3Store",
    "StorageError",
    "build_storage",
    "build_store",
    "sanitise_filename",
    "sniff_content_type",
    "validate_object_key",
]
