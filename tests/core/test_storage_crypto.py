"""The encrypted object format: round trips, and every kind of tampering refused."""

from __future__ import annotations

import os

import pytest

from core.storage import DocumentIntegrityError, DocumentKeyUnavailable, KeyRing
from core.storage.crypto import CHUNK_SIZE, MAGIC, TAG_BYTES
from tests.core.samples import stream

KEYS = {"key-a": b"A" * 32, "key-b": b"B" * 32}
OBJECT_KEY = "objects/ab/abcdef"
HEADER_SIZE = 5 + 1 + 1 + len("key-a") + 32 + 4
RECORD_SIZE = CHUNK_SIZE + TAG_BYTES


async def encrypt(ring: KeyRing, data: bytes, key: str = OBJECT_KEY) -> bytes:
    return b"".join([piece async for piece in ring.encrypt(key, stream(data, (1, 4097, 70001)))])


async def decrypt(ring: KeyRing, stored: bytes, key: str = OBJECT_KEY) -> bytes:
    return b"".join([piece async for piece in ring.decrypt(key, stream(stored, (3, 65551)))])


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 200_003]
)
async def test_round_trip_whatever_the_size(size: int) -> None:
    ring = KeyRing(KEYS, "key-a")
    data = os.urandom(size)
    stored = await encrypt(ring, data)
    chunks = max(1, -(-size // CHUNK_SIZE))
    assert len(stored) == HEADER_SIZE + size + chunks * TAG_BYTES
    assert await decrypt(ring, stored) == data


async def test_header_names_the_key_and_each_object_gets_its_own_salt() -> None:
    ring = KeyRing(KEYS, "key-b")
    first = await encrypt(ring, b"same plaintext")
    second = await encrypt(ring, b"same plaintext")
    assert first.startswith(MAGIC + b"\x01\x05key-b")
    assert first != second  # fresh salt, so a fresh subkey: equal files are not recognisable


async def test_any_key_decrypts_and_a_missing_one_is_named() -> None:
    stored = await encrypt(KeyRing(KEYS, "key-a"), b"confidential")
    assert await decrypt(KeyRing(KEYS, "key-b"), stored) == b"confidential"
    with pytest.raises(DocumentKeyUnavailable) as missing:
        await decrypt(KeyRing({"key-b": KEYS["key-b"]}, "key-b"), stored)
    assert missing.value.key_id == "key-a"
    assert "key-a" in str(missing.value)


@pytest.mark.parametrize(
    "position",
    [
        0,  # magic
        5,  # version
        8,  # key id
        HEADER_SIZE - 10,  # salt
        HEADER_SIZE - 1,  # chunk size
        HEADER_SIZE + 10,  # first chunk's ciphertext
        HEADER_SIZE + RECORD_SIZE - 1,  # first chunk's tag
        HEADER_SIZE + RECORD_SIZE + 5,  # a middle chunk
        -1,  # the final chunk's tag
    ],
)
async def test_one_altered_byte_anywhere_is_detected(position: int) -> None:
    ring = KeyRing(KEYS, "key-a")
    stored = bytearray(await encrypt(ring, os.urandom(3 * CHUNK_SIZE + 100)))
    stored[position] ^= 0x01
    # An altered key id names a key we do not have; anything else fails authentication.
    with pytest.raises((DocumentIntegrityError, DocumentKeyUnavailable)):
        await decrypt(ring, bytes(stored))


async def test_truncation_extension_and_reordering_are_detected() -> None:
    ring = KeyRing(KEYS, "key-a")
    stored = await encrypt(ring, os.urandom(3 * CHUNK_SIZE + 100))
    header, body = stored[:HEADER_SIZE], stored[HEADER_SIZE:]
    records = [body[i : i + RECORD_SIZE] for i in range(0, len(body), RECORD_SIZE)]
    assert len(records) == 4
    forgeries = {
        "dropped last chunk": header + b"".join(records[:3]),
        "cut inside a chunk": stored[:-50],
        "header only": header,
        "half a header": header[:20],
        "nothing": b"",
        "appended bytes": stored + b"\x00" * 20,
        "repeated chunk": header + records[0] + records[0] + records[2] + records[3],
        "swapped chunks": header + records[1] + records[0] + records[2] + records[3],
    }
    for name, forged in forgeries.items():
        try:
            await decrypt(ring, forged)
        except DocumentIntegrityError:
            continue
        pytest.fail(f"{name}: accepted")


async def test_an_object_moved_to_another_key_releases_nothing() -> None:
    ring = KeyRing(KEYS, "key-a")
    stored = await encrypt(ring, os.urandom(2 * CHUNK_SIZE), key="objects/aa/first")
    released: list[bytes] = []
    with pytest.raises(DocumentIntegrityError):
        async for piece in ring.decrypt("objects/bb/second", stream(stored)):
            released.append(piece)
    assert released == []


async def test_chunks_cannot_be_spliced_between_objects() -> None:
    ring = KeyRing(KEYS, "key-a")
    first = await encrypt(ring, os.urandom(2 * CHUNK_SIZE + 1))
    second = await encrypt(ring, os.urandom(2 * CHUNK_SIZE + 1))
    spliced = first[: HEADER_SIZE + RECORD_SIZE] + second[HEADER_SIZE + RECORD_SIZE :]
    with pytest.raises(DocumentIntegrityError):
        await decrypt(ring, spliced)


def test_content_addresses_are_keyed() -> None:
    digest = "ab" * 32
    with_a = KeyRing(KEYS, "key-a").content_address(digest)
    assert with_a == KeyRing(KEYS, "key-a").content_address(digest)
    assert with_a != KeyRing(KEYS, "key-b").content_address(digest)
    assert with_a != digest and len(with_a) == 64


@pytest.mark.parametrize(
    ("keys", "current"),
    [
        ({"key-a": b"short"}, "key-a"),
        ({"key a": b"A" * 32}, "key a"),
        ({"key-a": b"A" * 32}, "key-b"),
    ],
)
def test_bad_key_configuration_is_refused(keys: dict[str, bytes], current: str) -> None:
    with pytest.raises(ValueError):
        KeyRing(keys, current)
