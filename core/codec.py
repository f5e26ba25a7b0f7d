"""Encryption of every Temporal payload: an AES-256-GCM payload codec.

What Temporal stores (workflow inputs, case states, update arguments and results, activity
inputs and results, memos, and, through the failure converter, failure messages and stack
traces) leaves the process encrypted: the Temporal database and the Web UI see only ciphertext,
and the codec endpoint of the API decodes it for authenticated operators.

Encoded payload::

    metadata
      encoding            b"binary/encrypted"
      encryption-key-id   the entry of ``settings.payload_keys`` that encrypted it (UTF-8)
    data
      nonce               12 bytes, random for each payload
      ciphertext + tag    AES-GCM of the original ``Payload`` serialized as protobuf
                          (its metadata and data together), tag of 16 bytes

The associated data is ``b"secupol-payload-v1|" + key id``: a payload whose key id was edited
fails authentication instead of being opened with another key.

Keys rotate by key id: every key of ``settings.payload_keys`` (base64 of 32 bytes) decrypts, the
one named by ``settings.payload_key_id`` encrypts. To rotate, add the new key everywhere, then
switch ``payload_key_id`` to it; drop the old key only once no history still holds payloads it
encrypted (the retention period of the namespace after the last case that used it).

A payload whose encoding is not ``binary/encrypted`` is returned untouched by ``decode``:
histories recorded before encryption still replay, and clients read them.

Errors::

    ValueError                 a key is not base64 of 32 bytes (raised when the codec is built)
    PayloadCodecError          a payload could not be decrypted
    ├── PayloadKeyUnavailable  its key id is not configured (the key id is named, never the key)
    └── PayloadIntegrityError  it is malformed or fails authentication (tampered, wrong key)
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from core.settings import Settings

ENCODING = b"binary/encrypted"
"""The ``encoding`` metadata of an encrypted payload."""
KEY_ID_METADATA = "encryption-key-id"
"""The metadata entry that names the encrypting key."""
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_ASSOCIATED_DATA = b"secupol-payload-v1|"


class PayloadCodecError(Exception):
    """A payload could not be decrypted."""


class PayloadKeyUnavailable(PayloadCodecError):
    """The payload was encrypted with a key id that is not configured.

    Args:
        key_id: The key id read from the payload's metadata.
    """

    def __init__(self, key_id: str):
        self.key_id = key_id
        super().__init__(f"payload encrypted with key id {key_id!r}, which is not in payload_keys")


class PayloadIntegrityError(PayloadCodecError):
    """The payload is malformed or fails authentication."""


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"payload key {key_id!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"payload key {key_id!r} must be {KEY_BYTES} bytes")
    return key


def _associated_data(key_id: bytes) -> bytes:
    return _ASSOCIATED_DATA + key_id


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each payload, with the key id in its metadata.

    Args:
        settings: ``payload_keys`` (every key decrypts) and ``payload_key_id`` (the key that
            encrypts).

    Raises:
        ValueError: A key is not base64 of 32 bytes, a key id is empty, or ``payload_key_id``
            names no key.
    """

    def __init__(self, settings: Settings):
        keys = {
            key_id: _decode_key(key_id, secret.get_secret_value())
            for key_id, secret in settings.payload_keys.items()
        }
        if any(not key_id for key_id in keys):
            raise ValueError("payload key ids may not be empty")
        if settings.payload_key_id not in keys:
            raise ValueError("payload_key_id must name one of payload_keys")
        self._ciphers: Mapping[str, AESGCM] = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.key_id = settings.payload_key_id
        """The key id that encrypts new payloads."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload with the current key.

        Args:
            payloads: Payloads as the payload converter made them.

        Returns:
            One encrypted payload for each, in order.
        """
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt each encrypted payload; any other is returned as it is.

        Args:
            payloads: Payloads as Temporal stored them.

        Returns:
            The original payloads, in order.

        Raises:
            PayloadKeyUnavailable: A payload's key id is not configured.
            PayloadIntegrityError: A payload is malformed or fails authentication.
        """
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        """Encrypt one payload with the current key."""
        key_id = self.key_id.encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.key_id].encrypt(
            nonce, payload.SerializeToString(), _associated_data(key_id)
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        """Decrypt one payload, or return it untouched if it is not encrypted.

        Raises:
            PayloadKeyUnavailable: Its key id is not configured.
            PayloadIntegrityError: It is malformed or fails authentication.
        """
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        raw_key_id = payload.metadata.get(KEY_ID_METADATA)
        if not raw_key_id:
            raise PayloadIntegrityError("encrypted payload without a key id")
        try:
            key_id = raw_key_id.decode()
        except UnicodeDecodeError:
            raise PayloadIntegrityError("encrypted payload with a malformed key id") from None
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadKeyUnavailable(key_id)
        if len(payload.data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadIntegrityError("encrypted payload too short")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plaintext = cipher.decrypt(nonce, sealed, _associated_data(raw_key_id))
        except InvalidTag:
            raise PayloadIntegrityError(
                f"payload encrypted with key id {key_id!r} failed authentication"
            ) from None
        original = Payload()
        try:
            original.ParseFromString(plaintext)
        except DecodeError:
            raise PayloadIntegrityError("decrypted payload is not a Payload") from None
        return original
