"""Errors of document storage that are nobody's fault but the infrastructure's.

A refusal of an upload (empty, too large, wrong type, duplicate, full case, bad name) is a
``domain.errors.DomainError`` with a stable code and a French message. What follows is raised when
storage itself cannot serve a request; the API answers it with a generic message and the worker
retries it (except integrity failures, which no retry repairs).

Error tree::

    StorageError                  storage cannot serve the request
      InvalidObjectKey            an object key outside the strict pattern (a programming error)
      ObjectNotFound              the store holds no object under that key
      DocumentKeyUnavailable      the object was encrypted with a key id no longer configured
      DocumentIntegrityError      the stored bytes fail authentication (tampered, truncated,
                                  reordered, moved from another key) or the plaintext differs
                                  from the row's size or SHA-256

Messages never contain file names, contents, object keys or key material; a key *id* is not a
secret and is named, so that an operator knows which key to restore.
"""

from __future__ import annotations


class StorageError(Exception):
    """Storage cannot serve the request."""


class InvalidObjectKey(StorageError):
    """An object key does not match the store's strict pattern."""


class ObjectNotFound(StorageError):
    """The store holds no object under the requested key."""


class DocumentKeyUnavailable(StorageError):
    """The object was encrypted with a key that is not (or no longer) configured.

    Args:
        key_id: The key id read from the object's header.
    """

    def __init__(self, key_id: str):
        self.key_id = key_id
        super().__init__(
            f"document encrypted with key id {key_id!r}, which is not in document_keys"
        )


class DocumentIntegrityError(StorageError):
    """The stored bytes are not what was written: never returned as a document."""
