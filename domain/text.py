"""Hygiene of what people type: free text and email addresses.

Every free-text field that a person types (a name, a company name, observations, a message, a
file name...) goes through ``clean_text`` before anyone else reads it: in an email to a
prefecture, on an agent's screen, in a PDF. The rules:

- the text is normalised to **NFC**, so that "é" typed as ``e`` + U+0301 and "é" typed as U+00E9
  are the same text (searches, duplicates, display);
- **control characters** (Unicode category ``Cc``: C0, DEL, C1, NUL included) are refused, except,
  in multi-line fields, the line feed and the tab (a carriage return is turned into a line feed
  first, so that ``\\r\\n`` from a browser form is kept as one line break);
- **bidirectional controls** are refused: the embeddings and overrides U+202A–U+202E, the isolates
  U+2066–U+2069, and also the marks U+200E (LRM), U+200F (RLM) and U+061C (ALM). The marks do not
  reorder text by themselves, but next to digits and punctuation they change how a line reads
  ("Trojan Source"); nobody needs them to type a French name, an invoice number or observations,
  so they are refused too rather than silently dropped (silently changing text a person signed
  for is worse than asking them to retype it);
- a text made **only of invisible characters** (zero-width spaces and joiners, the word joiner,
  the byte-order mark, the soft hyphen, combining marks with nothing to combine with, Hangul and
  Braille blanks, variation selectors, tags, and any white space) is refused: it would show as an
  empty name. Invisible characters inside visible text stay (a zero-width joiner is part of some
  names and emoji).

Each refusal is a ``PydanticCustomError`` whose type is a stable code (``text_control_character``,
``text_bidi_control``, ``text_invisible``) with a French message, so the API reports it like any
other refused input.

Email addresses go through ``normalise_email``: mailbox syntax as ``email-validator`` checks it
(RFC 5321/5322, internationalised addresses allowed), **without** DNS (no I/O in the domain), and
**without IP-literal domains** (``a@[127.0.0.1]`` would make a real relay connect to an arbitrary
host). Special-use domains are refused, except names under ``.test`` and ``.localhost``
(``secupol.localhost``, not ``localhost`` itself), which the tests and the embedded stack use
(nothing is ever delivered there). The address is returned in lower case,
as accounts are looked up.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

import email_validator
from pydantic import AfterValidator

from domain.errors import ErrorCode, custom_error

BIDI_CONTROLS = frozenset(
    [chr(code) for code in range(0x202A, 0x202F)]
    + [chr(code) for code in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c"]
)
"""Embeddings, overrides, isolates and the three directional marks (see the module docstring)."""

MULTILINE_CONTROLS = frozenset({"\n", "\t"})
"""The only control characters a multi-line field keeps."""

_BLANK_LOOKING = frozenset(
    {
        "\u115f",  # Hangul choseong filler
        "\u1160",  # Hangul jungseong filler
        "\u3164",  # Hangul filler
        "\uffa0",  # halfwidth Hangul filler
        "\u2800",  # Braille pattern blank
        "\u180e",  # Mongolian vowel separator
        "\u034f",  # combining grapheme joiner
    }
)
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Zs", "Zl", "Zp", "Cc"})


def is_invisible(char: str) -> bool:
    """Whether one character shows nothing on its own (format, combining, space, blank)."""
    return (
        char.isspace()
        or char in _BLANK_LOOKING
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
        or 0xFE00 <= ord(char) <= 0xFE0F  # variation selectors
        or 0xE0000 <= ord(char) <= 0xE0FFF  # tags and supplementary variation selectors
    )


def clean_text(value: str, *, multiline: bool = False) -> str:
    """The text, NFC-normalised, if it carries no control, bidi or only-invisible content.

    Args:
        value: The text as typed (already stripped of surrounding white space by the model).
        multiline: Whether line feeds and tabs are allowed (observations, messages).

    Returns:
        The NFC form of the text (line breaks as ``\\n`` in multi-line text).

    Raises:
        PydanticCustomError: ``text_control_character``, ``text_bidi_control`` or
            ``text_invisible``.
    """
    text = unicodedata.normalize("NFC", value)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    allowed = MULTILINE_CONTROLS if multiline else frozenset()
    for char in text:
        if char in BIDI_CONTROLS:
            raise custom_error(ErrorCode.TEXT_BIDI_CONTROL)
        if unicodedata.category(char) == "Cc" and char not in allowed:
            raise custom_error(ErrorCode.TEXT_CONTROL_CHARACTER)
    if text and all(is_invisible(char) for char in text):
        raise custom_error(ErrorCode.TEXT_INVISIBLE)
    return text


def clean_line(value: str) -> str:
    """``clean_text`` for a single-line field (a name, a reference, a file name)."""
    return clean_text(value)


def clean_multiline(value: str) -> str:
    """``clean_text`` for a multi-line field (observations, a message, reasons)."""
    return clean_text(value, multiline=True)


CleanLine = Annotated[str, AfterValidator(clean_line)]
"""A single-line text a person typed: NFC, no control, no bidi control, not only invisible."""
CleanText = Annotated[str, AfterValidator(clean_multiline)]
"""A multi-line text a person typed: as ``CleanLine``, line feeds and tabs allowed."""

_TEST_DOMAINS = ("test", "localhost")
"""Special-use top-level domains accepted all the same: tests and the embedded stack use them."""


def normalise_email(value: str) -> str:
    """The address in lower case, if it is a valid mailbox without an IP-literal domain.

    Syntax only: no DNS query is made (the relay is the judge of deliverability).

    Args:
        value: The address as typed.

    Raises:
        PydanticCustomError: ``invalid_email``.
    """
    address = value.strip()
    local, at, domain = address.rpartition("@")
    checked = address
    test_environment = False
    for tld in _TEST_DOMAINS:
        if at and domain.lower().endswith("." + tld):
            # email-validator refuses these special-use names; check the same labels under
            # ``.test``, which its test mode accepts.
            checked = f"{local}@{domain[: len(domain) - len(tld)]}test"
            test_environment = True
            break
    try:
        email_validator.validate_email(
            checked,
            check_deliverability=False,
            allow_domain_literal=False,
            allow_quoted_local=False,
            allow_display_name=False,
            test_environment=test_environment,
        )
    except email_validator.EmailNotValidError:
        raise custom_error(ErrorCode.INVALID_EMAIL) from None
    if any(char in BIDI_CONTROLS or unicodedata.category(char) == "Cc" for char in address):
        raise custom_error(ErrorCode.INVALID_EMAIL)
    return unicodedata.normalize("NFC", address).lower()


NormalisedEmail = Annotated[str, AfterValidator(normalise_email)]
"""An email address that a person typed, checked and lower-cased by ``normalise_email``."""
