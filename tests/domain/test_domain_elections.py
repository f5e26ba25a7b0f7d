"""The one coverage rule: an election is covered by its type alone (DOMAIN.md, rule 10)."""

from __future__ import annotations

import pytest

from domain.elections import LABELS, ElectionType, is_covered, parse_election_type
from domain.errors import DomainError, ErrorCode

# Written out from DOMAIN.md ("Legal basis"), not read from the module under test.
EXPECTED = {
    "legislatives": True,
    "departementales": True,
    "municipales": True,
    "communautaires": True,
    "metropolitaines-lyon": True,
    "regionales": False,
    "territoriales": False,
    "senatoriales": False,
    "europeennes": False,
    "presidentielle": False,
}


def test_every_known_type_has_its_expected_coverage() -> None:
    assert {kind.value for kind in ElectionType} == set(EXPECTED)


@pytest.mark.parametrize(("value", "covered"), sorted(EXPECTED.items()))
def test_coverage_by_type(value: str, covered: bool) -> None:
    assert is_covered(ElectionType(value)) is covered
    assert is_covered(value) is covered  # the stored text gives the same answer


@pytest.mark.parametrize("value", ["Municipales", "municipale", "referendum", "", "legislatives "])
def test_a_text_that_is_no_known_type_is_not_covered(value: str) -> None:
    assert is_covered(value) is False


def test_every_type_has_a_french_label() -> None:
    assert set(LABELS) == set(ElectionType)
    assert all(label.startswith("élection") for label in LABELS.values())


def test_parse_accepts_known_types_and_surrounding_spaces() -> None:
    assert parse_election_type(" municipales ") is ElectionType.MUNICIPALES
    assert parse_election_type("metropolitaines-lyon") is ElectionType.METROPOLITAINES_LYON


@pytest.mark.parametrize("value", ["Municipales", "municipale", "referendum", ""])
def test_parse_refuses_an_unknown_type_in_french(value: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_election_type(value)
    assert refused.value.code == ErrorCode.INVALID_INPUT
    assert refused.value.field == "election_type"
    assert refused.value.message.startswith("Type d'élection inconnu.")
    assert "metropolitaines-lyon" in refused.value.message
