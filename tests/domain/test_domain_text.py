"""Text and email hygiene (``domain.text``): NFC, control, bidi and invisible-only refusals."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from domain.contracts import CandidateContact
from domain.errors import MESSAGES, ErrorCode, problems_from_validation_error
from domain.text import (
    BIDI_CONTROLS,
    CleanLine,
    CleanText,
    clean_text,
    is_invisible,
    normalise_email,
)


def _code(value: str, *, multiline: bool = False) -> str:
    with pytest.raises(PydanticCustomError) as refused:
        clean_text(value, multiline=multiline)
    return refused.value.type


def test_text_is_nfc_normalised() -> None:
    assert clean_text("Ame\u0301lie") == "Amélie"
    assert unicodedata.is_normalized("NFC", clean_text("Ame\u0301lie"))


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\n", "\r", "\t"])
def test_control_characters_are_refused_in_a_line(char: str) -> None:
    assert _code(f"Jean{char}Dupont") == "text_control_character"


def test_a_multiline_text_keeps_line_feeds_and_tabs_only() -> None:
    assert clean_text("Ligne 1\r\nLigne 2\rLigne 3\n\tfin", multiline=True) == (
        "Ligne 1\nLigne 2\nLigne 3\n\tfin"
    )
    assert _code("Ligne\x00", multiline=True) == "text_control_character"
    assert _code("Ligne\x1b[31m", multiline=True) == "text_control_character"


@pytest.mark.parametrize("char", sorted(BIDI_CONTROLS))
def test_bidi_controls_are_refused(char: str) -> None:
    assert _code(f"facture{char}fdp.exe") == "text_bidi_control"
    assert _code(f"facture{char}", multiline=True) == "text_bidi_control"


@pytest.mark.parametrize(
    "value", ["\u200b", "\u200b\u200c\u200d", "\ufeff", "\u2060", "\u00ad", "\u3164", "\u2800"]
)
def test_only_invisible_characters_are_refused(value: str) -> None:
    assert _code(value) == "text_invisible"


def test_invisible_characters_inside_visible_text_stay() -> None:
    # A zero-width joiner is part of emoji sequences and of some scripts.
    assert clean_text("Anne\u200dMarie") == "Anne\u200dMarie"


def test_french_text_passes_unchanged() -> None:
    for text in ["Élise Lefèvre-Dupont", "Société Sûreté & Fils", "N° 2026/04-17", "L'Haÿ"]:
        assert clean_text(text) == text


def test_every_code_has_a_french_message() -> None:
    for code in ("text_control_character", "text_bidi_control", "text_invisible"):
        assert MESSAGES[ErrorCode(code)]


def test_a_contract_reports_the_stable_code_and_field() -> None:
    with pytest.raises(ValidationError) as refused:
        CandidateContact(name="\u202eeliF", email="a@example.fr")
    [problem] = problems_from_validation_error(refused.value)
    assert (problem.code, problem.field) == ("text_bidi_control", "name")


class _Form(BaseModel):
    line: CleanLine
    text: CleanText


@given(st.text(min_size=1, max_size=40))
def test_clean_text_never_lets_a_control_or_bidi_character_through(value: str) -> None:
    for multiline in (False, True):
        try:
            cleaned = clean_text(value, multiline=multiline)
        except PydanticCustomError as refused:
            assert refused.type in {"text_control_character", "text_bidi_control", "text_invisible"}
            continue
        allowed = {"\n", "\t"} if multiline else set()
        assert unicodedata.is_normalized("NFC", cleaned)
        assert not any(char in BIDI_CONTROLS for char in cleaned)
        assert all(unicodedata.category(c) != "Cc" or c in allowed for c in cleaned)
        assert not all(is_invisible(char) for char in cleaned)
        # Cleaning is idempotent.
        assert clean_text(cleaned, multiline=multiline) == cleaned


@given(st.text(alphabet=st.characters(categories=["L", "N", "P"]), min_size=1, max_size=40))
def test_visible_text_is_accepted_as_its_nfc_form(value: str) -> None:
    form = _Form(line=value, text=value)
    assert form.line == unicodedata.normalize("NFC", value)


@pytest.mark.parametrize(
    "address",
    [
        "a@[127.0.0.1]",
        "a@[IPv6:::1]",
        "a@127.0.0.1",
        "jean dupont@example.fr",
        "@example.fr",
        "jean@",
        "jean@@example.fr",
        "jean@example",
        "Jean <jean@example.fr>",
        '"jean"@example.fr',
        "jean@example.fr\r\nBcc: x@example.fr",
        "jean\u202e@example.fr",
        "jean@exa mple.fr",
        "jean@example.invalid",
        "jean@host.onion",
    ],
)
def test_invalid_or_ip_literal_addresses_are_refused(address: str) -> None:
    with pytest.raises(PydanticCustomError) as refused:
        normalise_email(address)
    assert refused.value.type == "invalid_email"


@pytest.mark.parametrize(
    ("address", "normalised"),
    [
        ("Jean.Dupont@Example.FR", "jean.dupont@example.fr"),
        ("  candidat+1@example.fr ", "candidat+1@example.fr"),
        ("agent@interieur.example.test", "agent@interieur.example.test"),
        ("admin@secupol.localhost", "admin@secupol.localhost"),
        ("élise@exemple.fr", "élise@exemple.fr"),
    ],
)
def test_valid_addresses_are_normalised(address: str, normalised: str) -> None:
    assert normalise_email(address) == normalised
