"""Type recognition from content and sanitised file names."""

from __future__ import annotations

import pytest

from core.storage import sanitise_filename, sniff_content_type
from core.storage.inspection import MAX_FILENAME_LENGTH
from domain.documents import ContentType
from domain.errors import DomainError, ErrorCode
from tests.core.samples import jpeg_bytes, pdf_bytes, png_bytes


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("facture.pdf", "facture.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system.ini", "system.ini"),
        ("C:\\Users\\Marie\\Facture mars.pdf", "Facture mars.pdf"),
        ("/var/tmp/../devis.png", "devis.png"),
        (".htaccess", "htaccess"),
        ("...  .cache.pdf", "cache.pdf"),
        ("fin.pdf. . ", "fin.pdf"),
        ("a\x00b\nc\td.pdf", "abcd.pdf"),
        # A right-to-left override (U+202E) makes "facture<RLO>fdp.exe" display as a PDF name.
        ("facture\u202efdp.exe", "facturefdp.exe"),
        ("re\u0301sume\u0301 de\u0301pense.pdf", "résumé dépense.pdf"),
        ("devis <2026>|final?.pdf", "devis _2026_final_.pdf"),
        ("rib   société   générale.png", "rib société générale.png"),
        ("報告書.pdf", "報告書.pdf"),
    ],
)
def test_sanitise_filename(given: str, kept: str) -> None:
    assert sanitise_filename(given) == kept


@pytest.mark.parametrize("given", ["", "   ", "../", "...", "\x00\x01\x7f", "//\\\\", "___", ". ."])
def test_sanitise_filename_refuses_names_with_nothing_left(given: str) -> None:
    with pytest.raises(DomainError) as refused:
        sanitise_filename(given)
    assert refused.value.code == ErrorCode.INVALID_FILENAME
    assert refused.value.field == "filename"


def test_sanitise_filename_caps_length_and_keeps_the_extension() -> None:
    kept = sanitise_filename("é" * 400 + ".pdf")
    assert len(kept) == MAX_FILENAME_LENGTH
    assert kept.endswith("é.pdf")
    without_extension = sanitise_filename("x" * 400)
    assert without_extension == "x" * MAX_FILENAME_LENGTH


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (pdf_bytes("x"), ContentType.PDF),
        (jpeg_bytes(), ContentType.JPEG),
        (png_bytes(), ContentType.PNG),
        (b"%PDF-", ContentType.PDF),
        (b"Ceci est un texte renomm\xc3\xa9 en .pdf", None),
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"PK\x03\x04", None),
        (b"\x89PNG\r\n", None),  # a truncated signature is no signature
        (b"", None),
    ],
)
def test_type_comes_from_magic_bytes(content: bytes, expected: ContentType | None) -> None:
    assert sniff_content_type(content[:8]) == expected
