"""Encryption at rest of stored objects: AES-256-GCM over independently sealed chunks.

An object is written and read as a stream, so it is cut into chunks of fixed plaintext size, each
sealed on its own; nothing ever needs the whole document in memory.

Format, version 1 (integers big-endian)::

    header
      magic          5 bytes   b"SPDOC"
      version        1 byte    1
      key id length  1 byte    1 to 64
      key id         n bytes   ASCII: the entry of ``settings.document_keys`` that encrypted it
      salt           32 bytes  random, drawn for this object
      chunk size     4 bytes   plaintext bytes per chunk (65 536 when written here)
    then chunks, in order, up to the end of the object
      ciphertext     chunk size bytes for every chunk but the last; 0 to chunk size for the last
      tag            16 bytes  GCM tag

Sealing chunk ``i`` (counted from 0):

- key: a subkey of the object, ``HKDF-SHA256(master key, salt, "secupol-document-v1|" + key id)``;
  with a fresh 256-bit salt per object a subkey never seals two objects, so the counter nonces
  below never repeat under one key;
- nonce: ``i`` on 12 bytes;
- associated data: ``header || len(object key) on 2 bytes || object key || i on 8 bytes ||
  final flag on 1 byte`` (1 for the last chunk, 0 otherwise).

What that buys, each checked before any plaintext of the chunk is released:

- a chunk moved, dropped or repeated fails (its index is in the nonce and the associated data);
- a truncated object fails (its new last chunk was sealed with final flag 0), and so does one with
  bytes appended (the real last chunk is then read as not final);
- a chunk or a whole object copied under another object key fails at its first chunk (the subkey
  and the object key differ), so an object can never be served in place of another;
- a header edited in place fails (the header is in every chunk's associated data, and its salt
  and key id make the subkey).

Keys rotate by key id: every key of ``settings.document_keys`` (base64 of 32 bytes) decrypts, the
one named by ``settings.document_key_id`` encrypts. An object whose key id is not configured any
more raises ``DocumentKeyUnavailable``.

Content addresses: an object's key is derived from the SHA-256 of its plaintext, but keyed
(``HMAC-SHA256(HKDF(master key, "secupol-object-address-v1"), sha256)``), so that whoever can list
the bucket cannot test whether a known file is stored. The address depends on the encrypting key:
an object found under an address was necessarily encrypted with that key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from collections.abc import AsyncGenerator, AsyncIterable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.settings import Settings
from core.storage.errors import DocumentIntegrityError, DocumentKeyUnavailable

MAGIC = b"SPDOC"
FORMAT_VERSION = 1
CHUNK_SIZE = 64 * 1024
"""Plaintext bytes per chunk written by this version."""
SALT_BYTES = 32
TAG_BYTES = 16
KEY_BYTES = 32
MIN_CHUNK_SIZE = 1024
MAX_CHUNK_SIZE = 4 * 1024 * 1024
"""Larger chunk sizes in a header are refused: a forged header must not make us buffer much."""

_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_FIXED_HEADER = struct.Struct(">5sBB")
_CHUNK_SIZE_FIELD = struct.Struct(">I")
_SUBKEY_INFO = b"secupol-document-v1|"
_ADDRESS_INFO = b"secupol-object-address-v1"


def _hkdf(master: bytes, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(master)


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def _binding(header: bytes, object_key: str) -> bytes:
    encoded = object_key.encode("ascii")
    return header + len(encoded).to_bytes(2, "big") + encoded


def _associated_data(binding: bytes, index: int, final: bool) -> bytes:
    return binding + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


class ObjectSealer:
    """Encrypts one object, fed in pieces of any size.

    Args:
        key_id: Id of the encrypting key, written in the header.
        master: The 32-byte key itself.
        object_key: The key the object is stored under, bound into every chunk.
        chunk_size: Plaintext bytes per chunk.
    """

    def __init__(self, key_id: str, master: bytes, object_key: str, chunk_size: int = CHUNK_SIZE):
        salt = os.urandom(SALT_BYTES)
        self.header = (
            _FIXED_HEADER.pack(MAGIC, FORMAT_VERSION, len(key_id))
            + key_id.encode("ascii")
            + salt
            + _CHUNK_SIZE_FIELD.pack(chunk_size)
        )
        self._aead = AESGCM(_hkdf(master, salt, _SUBKEY_INFO + key_id.encode("ascii")))
        self._binding = _binding(self.header, object_key)
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._index = 0

    def _seal(self, plaintext: bytes, *, final: bool) -> bytes:
        sealed = self._aead.encrypt(
            _nonce(self._index), plaintext, _associated_data(self._binding, self._index, final)
        )
        self._index += 1
        return sealed

    def update(self, data: bytes) -> list[bytes]:
        """Feed plaintext; returns the chunks now complete.

        A full chunk is held back until more data arrives, since only then is it known not to be
        the last one.
        """
        self._buffer += data
        sealed: list[bytes] = []
        while len(self._buffer) > self._chunk_size:
            sealed.append(self._seal(bytes(self._buffer[: self._chunk_size]), final=False))
            del self._buffer[: self._chunk_size]
        return sealed

    def finish(self) -> bytes:
        """Seal what remains as the final chunk (empty if the object is empty)."""
        sealed = self._seal(bytes(self._buffer), final=True)
        self._buffer.clear()
        return sealed


class ObjectOpener:
    """Decrypts and verifies one object, fed in pieces of any size.

    Args:
        keys: Every configured key by id.
        object_key: The key the object was read from; it must be the one it was sealed for.
    """

    def __init__(self, keys: Mapping[str, bytes], object_key: str):
        self._keys = keys
        self._object_key = object_key
        self._buffer = bytearray()
        self._aead: AESGCM | None = None
        self._binding = b""
        self._record_size = 0
        self._index = 0
        self.key_id: str | None = None
        """The key id read from the header, once it is parsed."""

    def _parse_header(self) -> bool:
        fixed = _FIXED_HEADER.size
        if len(self._buffer) < fixed:
            return False
        magic, version, key_id_length = _FIXED_HEADER.unpack_from(self._buffer)
        if magic != MAGIC or version != FORMAT_VERSION or not 1 <= key_id_length <= 64:
            raise DocumentIntegrityError("not a secupol encrypted object of a known version")
        size = fixed + key_id_length + SALT_BYTES + _CHUNK_SIZE_FIELD.size
        if len(self._buffer) < size:
            return False
        header = bytes(self._buffer[:size])
        raw_key_id = header[fixed : fixed + key_id_length]
        salt = header[fixed + key_id_length : fixed + key_id_length + SALT_BYTES]
        (chunk_size,) = _CHUNK_SIZE_FIELD.unpack_from(header, size - _CHUNK_SIZE_FIELD.size)
        try:
            key_id = raw_key_id.decode("ascii")
        except UnicodeDecodeError:
            raise DocumentIntegrityError("malformed key id in the object header") from None
        if not _KEY_ID.fullmatch(key_id) or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise DocumentIntegrityError("malformed object header")
        master = self._keys.get(key_id)
        if master is None:
            raise DocumentKeyUnavailable(key_id)
        self.key_id = key_id
        self._aead = AESGCM(_hkdf(master, salt, _SUBKEY_INFO + raw_key_id))
        self._binding = _binding(header, self._object_key)
        self._record_size = chunk_size + TAG_BYTES
        del self._buffer[:size]
        return True

    def _open(self, record: bytes, *, final: bool) -> bytes:
        assert self._aead is not None
        try:
            plaintext = self._aead.decrypt(
                _nonce(self._index), record, _associated_data(self._binding, self._index, final)
            )
        except InvalidTag:
            # One message for every cause: which check failed helps only an attacker.
            raise DocumentIntegrityError(
                "a chunk of the stored object failed authentication"
            ) from None
        self._index += 1
        return plaintext

    def feed(self, data: bytes) -> list[bytes]:
        """Feed stored bytes; returns the plaintext of every chunk now verified."""
        self._buffer += data
        if self._aead is None and not self._parse_header():
            return []
        opened: list[bytes] = []
        # A full record is opened only once more bytes follow it: then it cannot be the last.
        while len(self._buffer) > self._record_size:
            opened.append(self._open(bytes(self._buffer[: self._record_size]), final=False))
            del self._buffer[: self._record_size]
        return opened

    def finish(self) -> bytes:
        """Verify the final chunk at the end of the object; returns its plaintext."""
        if self._aead is None or len(self._buffer) < TAG_BYTES:
            raise DocumentIntegrityError("the stored object is truncated")
        plaintext = self._open(bytes(self._buffer), final=True)
        self._buffer.clear()
        return plaintext


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"document key {key_id!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"document key {key_id!r} must be {KEY_BYTES} bytes")
    return key


class KeyRing:
    """The document keys: every one decrypts, the current one encrypts.

    Args:
        keys: Raw 32-byte keys by key id.
        current_id: The key id that encrypts new objects.

    Raises:
        ValueError: A key id is malformed, a key is not 32 bytes, or ``current_id`` is unknown.
    """

    def __init__(self, keys: Mapping[str, bytes], current_id: str):
        for key_id, key in keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise ValueError("document key ids are 1 to 64 characters among A-Z a-z 0-9 . _ -")
            if len(key) != KEY_BYTES:
                raise ValueError(f"document key {key_id!r} must be {KEY_BYTES} bytes")
        if current_id not in keys:
            raise ValueError("document_key_id must name one of document_keys")
        self._keys = dict(keys)
        self.current_id = current_id
        self._address_key = _hkdf(keys[current_id], None, _ADDRESS_INFO)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """The keys of ``settings.document_keys``, decoded from base64."""
        return cls(
            {
                key_id: _decode_key(key_id, secret.get_secret_value())
                for key_id, secret in settings.document_keys.items()
            },
            settings.document_key_id,
        )

    def subkey(self, key_id: str, info: bytes) -> bytes:
        """A 32-byte key derived from the document key ``key_id`` for another use.

        ``HKDF-SHA256(master key, no salt, info)``: each use names itself in ``info`` (case
        messages: ``core.messages``), so that no derived key equals another or a document subkey.

        Raises:
            DocumentKeyUnavailable: ``key_id`` is not configured.
        """
        master = self._keys.get(key_id)
        if master is None:
            raise DocumentKeyUnavailable(key_id)
        return _hkdf(master, None, info)

    def content_address(self, sha256_hex: str) -> str:
        """The keyed address of a plaintext, from its SHA-256 (64 hex characters)."""
        return hmac.new(self._address_key, bytes.fromhex(sha256_hex), hashlib.sha256).hexdigest()

    def sealer(self, object_key: str) -> ObjectSealer:
        """A sealer with the current key for an object stored under ``object_key``."""
        return ObjectSealer(self.current_id, self._keys[self.current_id], object_key)

    def opener(self, object_key: str) -> ObjectOpener:
        """An opener for an object read from ``object_key``."""
        return ObjectOpener(self._keys, object_key)

    async def encrypt(
        self, object_key: str, plaintext: AsyncIterable[bytes]
    ) -> AsyncGenerator[bytes, None]:
        """Encrypt a stream for ``object_key``: the header, then each sealed chunk."""
        sealer = self.sealer(object_key)
        yield sealer.header
        async for piece in plaintext:
            for sealed in sealer.update(piece):
                yield sealed
        yield sealer.finish()

    async def decrypt(
        self, object_key: str, stored: AsyncIterable[bytes]
    ) -> AsyncGenerator[bytes, None]:
        """Decrypt a stream read from ``object_key``, yielding only verified plaintext.

        Raises:
            DocumentIntegrityError: A chunk fails authentication, or the object is truncated.
            DocumentKeyUnavailable: The object's key id is not configured.
        """
        opener = self.opener(object_key)
        async for piece in stored:
            for plaintext in opener.feed(piece):
                yield plaintext
        last = opener.finish()
        if last:
            yield last
