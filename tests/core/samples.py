"""Real files for the storage tests, made here: a PDF (reportlab), a JPEG and a PNG (by hand)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import AsyncIterator, Iterable

from reportlab.pdfgen import canvas


def pdf_bytes(marker: str, *, padding: bytes = b"") -> bytes:
    """A one-page PDF whose page shows ``marker``, uncompressed so the marker is in its bytes.

    ``padding`` goes into a comment after ``%%EOF`` (readers ignore it): a way to make a real PDF
    of any size.
    """
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pageCompression=0, invariant=1)
    page.setTitle("Facture de protection rapprochée")
    page.drawString(72, 720, marker)
    page.showPage()
    page.save()
    content = buffer.getvalue()
    assert marker.encode() in content
    if padding:
        content += b"\n%" + padding
    return content


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bytes(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (0, 85, 164)) -> bytes:
    """A valid truecolour PNG of one colour."""
    row = b"\x00" + bytes(rgb) * width  # filter type 0 per scanline
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(row * height))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_bytes(comment: bytes = b"secupol") -> bytes:
    """A valid baseline JPEG: one 8x8 greyscale block of mid-grey.

    Every DCT coefficient is zero, so the scan is two one-bit Huffman codes (DC difference of
    category 0, then end of block), padded with ones.
    """

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    quantisation = b"\x00" + bytes([1] * 64)  # table 0, 8-bit precision
    # One code of length 1 in each table: symbol 0 (DC category 0, and AC end of block).
    dc_table = b"\x00" + bytes([1] + [0] * 15) + b"\x00"
    ac_table = b"\x10" + bytes([1] + [0] * 15) + b"\x00"
    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xFE, comment)
        + segment(0xDB, quantisation)
        + segment(0xC0, struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00")
        + segment(0xC4, dc_table)
        + segment(0xC4, ac_table)
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + b"\x3f"
        + b"\xff\xd9"
    )


async def stream(data: bytes, sizes: Iterable[int] = (65_536,)) -> AsyncIterator[bytes]:
    """``data`` in pieces whose sizes cycle through ``sizes``."""
    pattern = list(sizes)
    position, turn = 0, 0
    while position < len(data):
        size = pattern[turn % len(pattern)]
        yield data[position : position + size]
        position += size
        turn += 1
