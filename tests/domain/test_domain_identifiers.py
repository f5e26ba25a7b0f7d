"""Identifiers: SIREN, SIRET, CNAPS authorisation numbers, opaque ids and départements."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.identifiers import (
    compact,
    is_opaque_id,
    is_valid_cnaps_authorisation,
    is_valid_departement,
    is_valid_siren,
    is_valid_siret,
    normalise_cnaps_authorisation,
)


def luhn_check_digit(digits: str) -> str:
    """The digit that makes ``digits + digit`` pass Luhn (independent of the code under test)."""
    total = 0
    # Once the check digit is appended, the last digit of ``digits`` is doubled.
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return str((10 - total % 10) % 10)


def test_luhn_helper_on_known_numbers() -> None:
    # Cross-check the helper itself on published numbers.
    assert luhn_check_digit("73282932") == "0"
    assert luhn_check_digit("55210055") == "4"
    assert luhn_check_digit("7328293200007") == "4"


# --- SIREN ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "732829320",
        "356000000",  # La Poste
        "552100554",
        "542107651",
        "000000000",
        "732 829 320",
        " 732829320 ",
        "732\u00a0829\u00a0320",
    ],
)
def test_valid_siren(value: str) -> None:
    assert is_valid_siren(value)


@pytest.mark.parametrize(
    "value",
    [
        "732829321",  # wrong check digit
        "732829329",
        "552100555",
        "73282932",  # 8 digits
        "7328293200",  # 10 digits
        "73282932A",
        "ABCDEFGHI",
        "",
        " ",
        "７３２８２９３２０",  # full-width digits
        "٧٣٢٨٢٩٣٢٠",  # Arabic-Indic digits
        "-73282932",
        "+732829320",
        "732-829-320",
        "732.829.320",
        "732829320\n",
    ],
)
def test_invalid_siren(value: str) -> None:
    assert not is_valid_siren(value)


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_appending_the_luhn_digit_gives_a_valid_siren(body: str) -> None:
    assert is_valid_siren(body + luhn_check_digit(body))


@given(
    body=st.text(alphabet="0123456789", min_size=8, max_size=8),
    position=st.integers(min_value=0, max_value=8),
    shift=st.integers(min_value=1, max_value=9),
)
def test_changing_one_digit_breaks_a_siren(body: str, position: int, shift: int) -> None:
    siren = body + luhn_check_digit(body)
    digit = (int(siren[position]) + shift) % 10
    altered = siren[:position] + str(digit) + siren[position + 1 :]

    assert altered != siren
    assert not is_valid_siren(altered)


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_exactly_one_check_digit_is_valid(body: str) -> None:
    valid = [digit for digit in "0123456789" if is_valid_siren(body + digit)]

    assert valid == [luhn_check_digit(body)]


# --- SIRET ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "73282932000074",
        "732 829 320 00074",
        "55210055400013",
        # La Poste establishments: digit sum multiple of 5, Luhn fails on these.
        "35600000000001",  # digit sum 15
        "356 000 000 00010",  # digit sum 15
        "35600000000006",  # digit sum 20 (this one also passes Luhn)
    ],
)
def test_valid_siret(value: str) -> None:
    assert is_valid_siret(value)


@pytest.mark.parametrize("value", ["35600000000001", "35600000000010"])
def test_la_poste_examples_fail_luhn_but_pass_the_digit_sum(value: str) -> None:
    # Our examples really exercise the exception: plain Luhn would refuse them.
    assert sum(int(char) for char in value) % 5 == 0
    assert luhn_check_digit(value[:-1]) != value[-1]
    assert is_valid_siret(value)


@pytest.mark.parametrize(
    "value",
    [
        "73282932000079",  # wrong check digit
        "73282932000075",
        "7328293200007",  # 13 digits
        "732829320000740",  # 15 digits
        "7328293200007A",
        "",
        "７３２８２９３２０００７４",
        "35600000000002",  # La Poste, digit sum 16
        "35600000000009",  # La Poste, digit sum 23
    ],
)
def test_invalid_siret(value: str) -> None:
    assert not is_valid_siret(value)


@given(
    body=st.text(alphabet="0123456789", min_size=13, max_size=13).filter(
        lambda body: not body.startswith("356000000")
    )
)
def test_luhn_over_fourteen_digits_gives_a_valid_siret_unless_la_poste(body: str) -> None:
    siret = body + luhn_check_digit(body)
    wrong = body + str((int(luhn_check_digit(body)) + 1) % 10)

    if is_valid_siren(body[:9]):
        assert is_valid_siret(siret)
    assert not is_valid_siret(wrong)


@given(
    st.text(alphabet="0123456789", min_size=5, max_size=5).filter(
        lambda nic: nic != "00048"  # the head office follows Luhn (tested below)
    )
)
def test_la_poste_siret_is_valid_iff_digit_sum_is_multiple_of_five(nic: str) -> None:
    siret = "356000000" + nic

    assert is_valid_siret(siret) == (sum(int(char) for char in siret) % 5 == 0)


def test_siret_whose_siren_part_is_invalid_is_refused() -> None:
    siret = "73282932100007"
    assert not is_valid_siren(siret[:9])
    assert luhn_check_digit(siret[:-1]) == siret[-1]

    assert not is_valid_siret(siret)


def test_la_poste_head_office_siret_is_valid() -> None:
    assert luhn_check_digit("3560000000004") == "8"

    assert is_valid_siret("35600000000048")


# --- CNAPS authorisation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "AUT-075-2124-07-01-20250906336",
        "aut-075-2124-07-01-20250906336",
        "Aut-075-2124-07-01-20250906336",
        "AUT-075 -2124-07-01-20250906336",
        " AUT-075-2124-07-01-20250906336 ",
        "AUT - 075 - 2124 - 07 - 01 - 20250906336",
        "AUT-971-0001-01-02-12345678901",
    ],
)
def test_valid_cnaps_authorisation(value: str) -> None:
    assert is_valid_cnaps_authorisation(value)
    assert normalise_cnaps_authorisation(value).startswith("AUT-")


@pytest.mark.parametrize(
    "value",
    [
        "CAR-075-2124-07-01-20250906336",  # an agent card, not a company authorisation
        "AGD-075-2124-07-01-20250906336",
        "AUT-75-2124-07-01-20250906336",
        "AUT-0755-2124-07-01-20250906336",
        "AUT-075-212-07-01-20250906336",
        "AUT-075-21245-07-01-20250906336",
        "AUT-075-2124-7-01-20250906336",
        "AUT-075-2124-07-1-20250906336",
        "AUT-075-2124-07-01-2025090633",
        "AUT-075-2124-07-01-202509063366",
        "AUT-075-2124-07-01",
        "AUT07521240701202509063 36",
        "AUT_075_2124_07_01_20250906336",
        "AUT-07A-2124-07-01-20250906336",
        "AUT-075-2124-07-01-20250906336-",
        "",
    ],
)
def test_invalid_cnaps_authorisation(value: str) -> None:
    assert not is_valid_cnaps_authorisation(value)


@pytest.mark.parametrize(
    "value",
    [
        "AUT-٠٧٥-2124-07-01-20250906336",
        "AUT-０７５-2124-07-01-20250906336",
    ],
)
def test_cnaps_authorisation_refuses_non_ascii_digits(value: str) -> None:
    assert not is_valid_cnaps_authorisation(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("aut-075-2124-07-01-20250906336", "AUT-075-2124-07-01-20250906336"),
        (" AUT 075-2124-07-01-20250906336", "AUT075-2124-07-01-20250906336"),
        ("AUT-075-2124-07-01-20250906336", "AUT-075-2124-07-01-20250906336"),
        ("aut-075-2124-07-01-2025\u00a00906336", "AUT-075-2124-07-01-20250906336"),
    ],
)
def test_normalise_cnaps_authorisation(value: str, expected: str) -> None:
    assert normalise_cnaps_authorisation(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("732 829 320", "732829320"), ("732\u00a0829\u00a0320", "732829320"), ("", "")],
)
def test_compact_drops_spaces(value: str, expected: str) -> None:
    assert compact(value) == expected


# --- Opaque ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["a", "7", "municipales-2026", "cand00042", "a" * 64, "a-b-c", "0-0"],
)
def test_valid_opaque_id(value: str) -> None:
    assert is_opaque_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 65,
        "Municipales-2026",
        "jean dupont",
        "-abc",
        "abc-",
        "a_b",
        "a.b",
        "a/b",
        "é",
        "abc\n",
        "jean.dupont@example.fr",
    ],
)
def test_invalid_opaque_id(value: str) -> None:
    assert not is_opaque_id(value)


@given(st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?", fullmatch=True))
def test_opaque_id_of_allowed_characters(value: str) -> None:
    assert is_opaque_id(value)


@given(st.text(min_size=1, max_size=70))
def test_opaque_id_never_contains_other_characters(value: str) -> None:
    if is_opaque_id(value):
        assert set(value) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
        assert 1 <= len(value) <= 64
        assert not value.startswith("-")
        assert not value.endswith("-")


# --- Départements --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "01",
        "09",
        "10",
        "19",
        "21",
        "2A",
        "2B",
        "75",
        "95",
        "971",
        "974",
        "976",
        "978",
        "984",
        "988",
    ],
)
def test_valid_departement(value: str) -> None:
    assert is_valid_departement(value)


@pytest.mark.parametrize(
    "value",
    ["00", "96", "99", "970", "979", "983", "990", "2C", "2a", "7", "075", "1", "", "75 ", "A2"],
)
def test_invalid_departement(value: str) -> None:
    assert not is_valid_departement(value)


def test_corsica_20_is_not_a_departement() -> None:
    assert not is_valid_departement("20")


def test_departement_refuses_non_ascii_digits() -> None:
    assert not is_valid_departement("1٣")
