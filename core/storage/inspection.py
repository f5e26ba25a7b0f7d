"""What an upload is, judged from its bytes, and the name it may be shown under.

The type of a file is recognised from its first bytes, never from its name: a text file renamed
``facture.pdf`` is not a PDF. The name a user gave is kept as metadata for display only, after
``sanitise_filename``; it never becomes a path or an object key. ``UploadMeter`` does the
checks that need the bytes while they stream: size (stopping at the limit), SHA-256 and type.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import AsyncGenerator, AsyncIterator

from domain.documents import ContentType
from domain.errors import DomainError, ErrorCode

MAX_FILENAME_LENGTH = 150
"""Characters kept of a name: enough to recognise a file, short enough for any listing."""
_MAX_EXTENSION_LENGTH = 10

SIGNATURES: tuple[tuple[bytes, ContentType], ...] = (
    (b"%PDF-", ContentType.PDF),
    (b"\xff\xd8\xff", ContentType.JPEG),
    (b"\x89PNG\r\n\x1a\n", ContentType.PNG),
)
"""Magic bytes of each accepted type."""
SIGNATURE_BYTES = max(len(signature) for signature, _ in SIGNATURES)
"""Bytes to read before the type can be decided."""

_EXTRA_SAFE = frozenset(" .-_()[]+,'&@")
_RUNS_OF_SPACES = re.compile(r" {2,}")
_RUNS_OF_REPLACEMENTS = re.compile(r"_{2,}")


def sniff_content_type(head: bytes) -> ContentType | None:
    """The accepted type whose signature starts ``head``, or None.

    Args:
        head: The first bytes of the file (``SIGNATURE_BYTES`` of them, or all if it is shorter).
    """
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def _is_safe(character: str) -> bool:
    # Letters (any script), combining marks left after NFC, and decimal digits; everything else
    # (punctuation that shells, URLs or spreadsheets interpret, symbols, separators) is replaced.
    return (
        unicodedata.category(character)[0] in "LM"
        or character.isdecimal()
        or (character in _EXTRA_SAFE)
    )


def sanitise_filename(name: str) -> str:
    """A name safe to store and display, derived from the one a user sent.

    The last path component (under ``/`` or ``\\``) is kept; it is NFC-normalised; control and
    format characters (including bidirectional overrides, which disguise extensions) are removed;
    other unsafe characters become ``_``; leading dots (hidden files) and surrounding spaces are
    dropped; the result is capped at ``MAX_FILENAME_LENGTH`` characters, keeping the extension.
    ``../../etc/passwd`` gives ``passwd``.

    Args:
        name: The name the client sent.

    Raises:
        DomainError: ``INVALID_FILENAME`` if no letter or digit remains.
    """
    last = re.split(r"[/\\]", name)[-1]
    normalised = unicodedata.normalize("NFC", last)
    visible = "".join(
        character
        for character in normalised
        # Category C: control, format, surrogate, private use, unassigned.
        if not unicodedata.category(character).startswith("C")
    )
    cleaned = "".join(character if _is_safe(character) else "_" for character in visible)
    cleaned = _RUNS_OF_REPLACEMENTS.sub("_", _RUNS_OF_SPACES.sub(" ", cleaned))
    cleaned = cleaned.lstrip(" .").rstrip(" .")
    if not any(character.isalnum() for character in cleaned):
        raise DomainError(ErrorCode.INVALID_FILENAME, field="filename")
    if len(cleaned) > MAX_FILENAME_LENGTH:
        stem, dot, extension = cleaned.rpartition(".")
        if dot and stem and 0 < len(extension) <= _MAX_EXTENSION_LENGTH and extension.isalnum():
            keep = MAX_FILENAME_LENGTH - len(extension) - 1
            cleaned = f"{stem[:keep].rstrip(' .')}.{extension}"
        else:
            cleaned = cleaned[:MAX_FILENAME_LENGTH].rstrip(" .")
    return cleaned


class UploadMeter:
    """Counts, hashes and types an upload while it streams, and stops it at its limit.

    Args:
        limit: The most bytes accepted.
        over_limit: The refusal when the upload goes past ``limit``.
    """

    def __init__(self, limit: int, over_limit: ErrorCode):
        self._limit = limit
        self._over_limit = over_limit
        self.digest = hashlib.sha256()
        self.size = 0

    def _take(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self._limit:
            raise DomainError(self._over_limit)
        self.digest.update(piece)

    async def read_head(self, chunks: AsyncIterator[bytes]) -> tuple[bytes, ContentType]:
        """Read just enough to recognise the type, before anything is written.

        Raises:
            DomainError: ``DOCUMENT_EMPTY``, ``DOCUMENT_TYPE_NOT_ALLOWED``, or the over-limit code.
        """
        head = bytearray()
        while len(head) < SIGNATURE_BYTES:
            try:
                piece = await anext(chunks)
            except StopAsyncIteration:
                break
            self._take(piece)
            head += piece
        if not head:
            raise DomainError(ErrorCode.DOCUMENT_EMPTY)
        content_type = sniff_content_type(bytes(head[:SIGNATURE_BYTES]))
        if content_type is None:
            raise DomainError(ErrorCode.DOCUMENT_TYPE_NOT_ALLOWED)
        return bytes(head), content_type

    async def rest(self, head: bytes, chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
        """The head already read, then the rest of the upload, metered."""
        yield head
        async for piece in chunks:
            self._take(piece)
            if piece:
                yield piece
