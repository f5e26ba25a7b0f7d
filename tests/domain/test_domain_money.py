"""Amounts, ceilings (R. 39-13) and the rule the CNCCFP's decided amount obeys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.money import (
    CEILING_CENTS,
    DecisionOutcome,
    ThreatLevel,
    ceiling_cents,
    check_decided_amount,
    decision_outcome,
    format_eur,
    reimbursable_cents,
)

levels = st.sampled_from(list(ThreatLevel))
claims = st.integers(min_value=0, max_value=20_000_000)


@pytest.mark.parametrize(
    ("level", "cents"),
    [(ThreatLevel.ONE, 1_500_000), (ThreatLevel.TWO, 7_500_000), (1, 1_500_000), (2, 7_500_000)],
)
def test_ceilings(level: ThreatLevel, cents: int) -> None:
    assert ceiling_cents(ThreatLevel(level)) == cents


def test_every_level_has_a_ceiling() -> None:
    assert set(CEILING_CENTS) == set(ThreatLevel)
    assert [level.value for level in ThreatLevel] == [1, 2]


@pytest.mark.parametrize(
    ("claimed", "level", "expected"),
    [
        (0, ThreatLevel.ONE, 0),
        (1_000_000, ThreatLevel.ONE, 1_000_000),
        (1_500_000, ThreatLevel.ONE, 1_500_000),
        (1_500_001, ThreatLevel.ONE, 1_500_000),
        (9_000_000, ThreatLevel.ONE, 1_500_000),
        (1_500_001, ThreatLevel.TWO, 1_500_001),
        (7_500_000, ThreatLevel.TWO, 7_500_000),
        (9_000_000, ThreatLevel.TWO, 7_500_000),
    ],
)
def test_reimbursable_is_claim_capped_by_ceiling(
    claimed: int, level: ThreatLevel, expected: int
) -> None:
    assert reimbursable_cents(claimed, ceiling_cents(level)) == expected


@pytest.mark.parametrize(
    ("decided", "claimed", "level", "code"),
    [
        (-1, 1_000, ThreatLevel.ONE, ErrorCode.INVALID_AMOUNT),
        (-1, 0, ThreatLevel.TWO, ErrorCode.INVALID_AMOUNT),
        (1_001, 1_000, ThreatLevel.ONE, ErrorCode.AMOUNT_ABOVE_CLAIM),
        (1, 0, ThreatLevel.TWO, ErrorCode.AMOUNT_ABOVE_CLAIM),
        (1_500_001, 2_000_000, ThreatLevel.ONE, ErrorCode.AMOUNT_ABOVE_CEILING),
        (7_500_001, 9_000_000, ThreatLevel.TWO, ErrorCode.AMOUNT_ABOVE_CEILING),
        # Above both: the claim is reported first.
        (9_000_001, 9_000_000, ThreatLevel.TWO, ErrorCode.AMOUNT_ABOVE_CLAIM),
    ],
)
def test_check_decided_amount_refuses(
    decided: int, claimed: int, level: ThreatLevel, code: ErrorCode
) -> None:
    with pytest.raises(DomainError) as caught:
        check_decided_amount(decided, claimed, ceiling_cents(level))

    assert caught.value.code == code
    assert caught.value.field == "amount_cents"


@pytest.mark.parametrize(
    ("decided", "claimed", "level"),
    [
        (0, 0, ThreatLevel.ONE),
        (0, 1_000_000, ThreatLevel.TWO),
        (1_000, 1_000, ThreatLevel.ONE),
        (1_500_000, 2_000_000, ThreatLevel.ONE),
        (1_500_000, 1_500_000, ThreatLevel.ONE),
        (2_000_000, 2_000_000, ThreatLevel.TWO),
        (7_500_000, 9_000_000, ThreatLevel.TWO),
    ],
)
def test_check_decided_amount_accepts(decided: int, claimed: int, level: ThreatLevel) -> None:
    check_decided_amount(decided, claimed, ceiling_cents(level))

    assert decided <= min(claimed, ceiling_cents(level))


@given(claimed=claims, level=levels)
def test_reimbursable_is_the_largest_valid_decision(claimed: int, level: ThreatLevel) -> None:
    most = reimbursable_cents(claimed, ceiling_cents(level))

    check_decided_amount(most, claimed, ceiling_cents(level))
    check_decided_amount(0, claimed, ceiling_cents(level))
    with pytest.raises(DomainError) as caught:
        check_decided_amount(most + 1, claimed, ceiling_cents(level))
    assert caught.value.code in {ErrorCode.AMOUNT_ABOVE_CLAIM, ErrorCode.AMOUNT_ABOVE_CEILING}
    assert most <= ceiling_cents(level)
    assert most <= claimed


@given(decided=st.integers(max_value=-1), claimed=claims, level=levels)
def test_negative_decisions_are_invalid(decided: int, claimed: int, level: ThreatLevel) -> None:
    with pytest.raises(DomainError) as caught:
        check_decided_amount(decided, claimed, ceiling_cents(level))

    assert caught.value.code == ErrorCode.INVALID_AMOUNT


@pytest.mark.parametrize(
    ("decided", "claimed", "level", "outcome"),
    [
        (1_000, 1_000, ThreatLevel.ONE, DecisionOutcome.APPROVED),
        (1_500_000, 2_000_000, ThreatLevel.ONE, DecisionOutcome.APPROVED),
        (7_500_000, 9_000_000, ThreatLevel.TWO, DecisionOutcome.APPROVED),
        (999, 1_000, ThreatLevel.ONE, DecisionOutcome.AMENDED),
        (1_499_999, 2_000_000, ThreatLevel.ONE, DecisionOutcome.AMENDED),
        (1, 9_000_000, ThreatLevel.TWO, DecisionOutcome.AMENDED),
        (0, 1_000, ThreatLevel.ONE, DecisionOutcome.REJECTED),
        (0, 0, ThreatLevel.TWO, DecisionOutcome.REJECTED),
    ],
)
def test_decision_outcome(
    decided: int, claimed: int, level: ThreatLevel, outcome: DecisionOutcome
) -> None:
    assert decision_outcome(decided, claimed, ceiling_cents(level)) == outcome


@given(data=st.data(), claimed=claims, level=levels)
def test_decision_outcome_of_any_valid_amount(
    data: st.DataObject, claimed: int, level: ThreatLevel
) -> None:
    most = reimbursable_cents(claimed, ceiling_cents(level))
    decided = data.draw(st.integers(min_value=0, max_value=most))

    outcome = decision_outcome(decided, claimed, ceiling_cents(level))

    if decided == 0:
        assert outcome == DecisionOutcome.REJECTED
    elif decided == most:
        assert outcome == DecisionOutcome.APPROVED
    else:
        assert outcome == DecisionOutcome.AMENDED


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (0, "0,00\u00a0€"),
        (5, "0,05\u00a0€"),
        (50, "0,50\u00a0€"),
        (100, "1,00\u00a0€"),
        (123_456, "1\u202f234,56\u00a0€"),
        (1_500_000, "15\u202f000,00\u00a0€"),
        (7_500_000, "75\u202f000,00\u00a0€"),
        (99_999, "999,99\u00a0€"),
        (100_000, "1\u202f000,00\u00a0€"),
        (123_456_789_01, "123\u202f456\u202f789,01\u00a0€"),
        (-150, "-1,50\u00a0€"),
        (-5, "-0,05\u00a0€"),
    ],
)
def test_format_eur(cents: int, text: str) -> None:
    assert format_eur(cents) == text


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_format_eur_reads_back(cents: int) -> None:
    text = format_eur(cents)

    assert text.endswith("\u00a0€")
    number = text.removesuffix("\u00a0€").replace("\u202f", "").replace(",", ".")
    assert round(float(number) * 100) == cents
    assert "," in text
    assert len(text.removesuffix("\u00a0€").split(",")[1]) == 2
