"""Case messages, encrypted at rest with the document keys.

A message's body is stored only as AES-256-GCM ciphertext (table ``case_messages``); the author,
the case and the time stay in clear, as the audit log has them anyway.

Format, version 1::

    key        HKDF-SHA256(document key ``key_id``, no salt, "secupol-message-v1|" + key id)
    ciphertext nonce (12 random bytes) || AES-GCM(body as UTF-8) || tag (16 bytes)
    associated "secupol-message-v1" then key id, case id and message id, each preceded by its
    data       length on 2 bytes (big-endian)

The key id is stored beside the ciphertext (column ``key_id``). The associated data binds the
ciphertext to its row: a ciphertext copied to another message, another case or relabelled with
another key id fails authentication instead of showing a body where it does not belong.

Keys are the document keys (``settings.document_keys``, ``settings.document_key_id``), so they
rotate with them (docs/operations.md, "Rotating keys"): every configured key decrypts, the current
one encrypts. ``MessageStore.rekey`` (``python -m api.admin messages-rekey``) re-encrypts the rows
of older keys under the current one, after which an old key is no longer needed by messages.

Errors::

    MessageUnreadable          a stored message cannot be decrypted (its id and key id are named,
    │                          never its content)
    └── MessageKeyUnavailable  its key id is not configured
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.db import case_messages
from core.settings import Settings
from core.storage.crypto import KeyRing
from core.storage.errors import DocumentKeyUnavailable

log = logging.getLogger(__name__)

_LABEL = b"secupol-message-v1"
NONCE_BYTES = 12
TAG_BYTES = 16


class MessageUnreadable(Exception):
    """A stored message cannot be decrypted: tampered, moved, or encrypted otherwise.

    Args:
        message_id: The message's id.
        key_id: The key id of its row.
    """

    def __init__(self, message_id: str, key_id: str, reason: str = "failed authentication"):
        self.message_id = message_id
        self.key_id = key_id
        super().__init__(f"message {message_id} (key id {key_id!r}): {reason}")


class MessageKeyUnavailable(MessageUnreadable):
    """The message was encrypted with a key id that is not configured."""

    def __init__(self, message_id: str, key_id: str):
        super().__init__(message_id, key_id, "key id not in document_keys")


def _field(value: str) -> bytes:
    encoded = value.encode()
    return len(encoded).to_bytes(2, "big") + encoded


def associated_data(key_id: str, case_id: str, message_id: str) -> bytes:
    """What binds a ciphertext to its row (see the module docstring)."""
    return _LABEL + _field(key_id) + _field(case_id) + _field(message_id)


class MessageCipher:
    """Encrypts and decrypts message bodies with the document keys.

    Args:
        keys: The document keys; the current one encrypts.
    """

    def __init__(self, keys: KeyRing):
        self._keys = keys
        self._ciphers: dict[str, AESGCM] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> MessageCipher:
        """The cipher of ``settings.document_keys``."""
        return cls(KeyRing.from_settings(settings))

    @property
    def current_key_id(self) -> str:
        """The key id that encrypts new messages."""
        return self._keys.current_id

    def _cipher(self, key_id: str) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            cipher = AESGCM(self._keys.subkey(key_id, _LABEL + b"|" + key_id.encode()))
            self._ciphers[key_id] = cipher
        return cipher

    def seal(self, *, case_id: str, message_id: str, body: str) -> tuple[bytes, str]:
        """Encrypt a body with the current key; returns the ciphertext and its key id."""
        key_id = self._keys.current_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher(key_id).encrypt(
            nonce, body.encode(), associated_data(key_id, case_id, message_id)
        )
        return nonce + sealed, key_id

    def open(self, *, case_id: str, message_id: str, ciphertext: bytes, key_id: str) -> str:
        """Decrypt a stored body.

        Raises:
            MessageKeyUnavailable: ``key_id`` is not configured.
            MessageUnreadable: The ciphertext fails authentication for this row.
        """
        try:
            cipher = self._cipher(key_id)
        except DocumentKeyUnavailable:
            raise MessageKeyUnavailable(message_id, key_id) from None
        if len(ciphertext) < NONCE_BYTES + TAG_BYTES:
            raise MessageUnreadable(message_id, key_id, "too short")
        nonce, sealed = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:]
        try:
            plaintext = cipher.decrypt(nonce, sealed, associated_data(key_id, case_id, message_id))
        except InvalidTag:
            raise MessageUnreadable(message_id, key_id) from None
        try:
            return plaintext.decode()
        except UnicodeDecodeError:
            raise MessageUnreadable(message_id, key_id, "not UTF-8") from None


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite gives back the UTC time it was given, without its zone.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class CaseMessage:
    """A message of a case, decrypted."""

    message_id: str
    case_id: str
    author_id: str
    author_role: str
    body: str
    created_at: dt.datetime


@dataclass(frozen=True)
class RekeyResult:
    """What ``MessageStore.rekey`` did."""

    rekeyed: int
    """Rows re-encrypted under the current key."""
    current: int
    """Rows that were already under it."""


class MessageStore:
    """The messages of cases in the app database, encrypted at rest.

    Args:
        engine: The app database (migrated).
        settings: The document keys.
    """

    def __init__(self, engine: AsyncEngine, settings: Settings):
        self._engine = engine
        self._cipher = MessageCipher.from_settings(settings)

    async def write(self, message: CaseMessage, connection: AsyncConnection | None = None) -> None:
        """Store a message, encrypted with the current key.

        Args:
            message: The message.
            connection: A transaction to write in (the caller commits); a new one otherwise.
        """
        ciphertext, key_id = self._cipher.seal(
            case_id=message.case_id, message_id=message.message_id, body=message.body
        )
        statement = insert(case_messages).values(
            message_id=message.message_id,
            case_id=message.case_id,
            author_id=message.author_id,
            author_role=message.author_role,
            ciphertext=ciphertext,
            key_id=key_id,
            created_at=message.created_at,
        )
        if connection is not None:
            await connection.execute(statement)
            return
        async with self._engine.begin() as own:
            await own.execute(statement)

    async def list_for_case(self, case_id: str) -> list[CaseMessage]:
        """The messages of a case, oldest first, decrypted.

        Raises:
            MessageUnreadable: One of them cannot be decrypted (logged with its id and key id).
        """
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(case_messages)
                    .where(case_messages.c.case_id == case_id)
                    .order_by(case_messages.c.created_at, case_messages.c.message_id)
                )
            ).all()
        messages: list[CaseMessage] = []
        for row in rows:
            try:
                body = self._cipher.open(
                    case_id=row.case_id,
                    message_id=row.message_id,
                    ciphertext=row.ciphertext,
                    key_id=row.key_id,
                )
            except MessageUnreadable as error:
                log.error("case message unreadable: %s", error)
                raise
            messages.append(
                CaseMessage(
                    message_id=row.message_id,
                    case_id=row.case_id,
                    author_id=row.author_id,
                    author_role=row.author_role,
                    body=body,
                    created_at=_aware(row.created_at),
                )
            )
        return messages

    async def delete_for_case(self, case_id: str) -> int:
        """Delete every message of a case; returns how many there were."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(case_messages).where(case_messages.c.case_id == case_id)
            )
        return result.rowcount or 0

    async def rekey(self, batch_size: int = 200) -> RekeyResult:
        """Re-encrypt every message not under the current key (after a key rotation).

        Each batch is its own transaction, and a row is rewritten only if its key id is still
        the one read (another process may rekey at the same time); running it again is harmless.

        Raises:
            MessageUnreadable: A row cannot be decrypted (nothing after it is rewritten).
        """
        current_id = self._cipher.current_key_id
        rekeyed = 0
        while True:
            async with self._engine.begin() as connection:
                rows = (
                    await connection.execute(
                        select(
                            case_messages.c.message_id,
                            case_messages.c.case_id,
                            case_messages.c.ciphertext,
                            case_messages.c.key_id,
                        )
                        .where(case_messages.c.key_id != current_id)
                        .order_by(case_messages.c.message_id)
                        .limit(batch_size)
                    )
                ).all()
                for row in rows:
                    body = self._cipher.open(
                        case_id=row.case_id,
                        message_id=row.message_id,
                        ciphertext=row.ciphertext,
                        key_id=row.key_id,
                    )
                    ciphertext, key_id = self._cipher.seal(
                        case_id=row.case_id, message_id=row.message_id, body=body
                    )
                    await connection.execute(
                        update(case_messages)
                        .where(
                            case_messages.c.message_id == row.message_id,
                            case_messages.c.key_id == row.key_id,
                        )
                        .values(ciphertext=ciphertext, key_id=key_id)
                    )
                    rekeyed += 1
            if len(rows) < batch_size:
                break
        async with self._engine.connect() as connection:
            current = await connection.scalar(
                select(func.count())
                .select_from(case_messages)
                .where(case_messages.c.key_id == current_id)
            )
        return RekeyResult(rekeyed=rekeyed, current=(current or 0) - rekeyed)
