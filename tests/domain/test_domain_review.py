"""The decided amount and line verdicts (DOMAIN.md rules 1 and 8), as pure functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.expenses import ALL_CERTIFIED, ExpenseCategory, ExpenseLine
from domain.review import accepted_total_cents, check_decision, check_line_verdict


@dataclass
class Round:
    contested_line_ids: list[str] = field(default_factory=list)
    answered_at: dt.datetime | None = None
    expired_unanswered: bool = False


@dataclass
class Verdict:
    line_id: str
    accepted_cents: int


def line(line_id: str, cents: int) -> ExpenseLine:
    return ExpenseLine(
        category=ExpenseCategory.PREMISES_SECURITY,
        company_name="Garde",
        siren="732829320",
        cnaps_authorisation="AUT-060-2124-07-01-20250906336",
        invoice_reference=f"F-{line_id}",
        service_start=dt.date(2026, 2, 1),
        service_end=dt.date(2026, 3, 1),
        amount_cents=cents,
        document_refs=["d"],
        certification=ALL_CERTIFIED,
        line_id=line_id,
        added_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
    )


LINES = [line("a", 500_000), line("b", 300_000)]
ANSWERED = Round(contested_line_ids=["b"], answered_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))


def code(**kw: object) -> str | None:
    try:
        check_decision(**kw)  # type: ignore[arg-type]
    except DomainError as error:
        return error.code.value
    return None


def test_approving_the_claim_needs_no_procedure() -> None:
    assert (
        code(amount_cents=800_000, lines=LINES, ceiling_cents=1_500_000, verdicts=[], rounds=[])
        is None
    )


def test_capping_at_the_ceiling_is_not_a_cut() -> None:
    assert (
        code(amount_cents=600_000, lines=LINES, ceiling_cents=600_000, verdicts=[], rounds=[])
        is None
    )


@pytest.mark.parametrize("rounds", [[], [Round(contested_line_ids=["b"])]])
def test_any_cut_needs_a_closed_round(rounds: list[Round]) -> None:
    assert (
        code(amount_cents=0, lines=LINES, ceiling_cents=1_500_000, verdicts=[], rounds=rounds)
        == "contradictory_procedure_required"
    )


def test_a_cut_needs_every_verdict_and_their_sum() -> None:
    kw: dict[str, object] = {"lines": LINES, "ceiling_cents": 1_500_000, "rounds": [ANSWERED]}
    assert code(amount_cents=600_000, verdicts=[Verdict("b", 100_000)], **kw) == (
        "line_verdicts_required"
    )
    verdicts = [Verdict("a", 500_000), Verdict("b", 100_000)]
    assert code(amount_cents=550_000, verdicts=verdicts, **kw) == "amount_differs_from_verdicts"
    assert code(amount_cents=600_000, verdicts=verdicts, **kw) is None


@given(
    amounts=st.lists(st.integers(1, 2_000_000), min_size=1, max_size=5),
    ceiling=st.sampled_from([1_500_000, 7_500_000]),
    decided=st.integers(0, 10_000_000),
)
def test_without_a_hearing_only_the_reimbursable_amount_passes(
    amounts: list[int], ceiling: int, decided: int
) -> None:
    lines = [line(str(index), cents) for index, cents in enumerate(amounts)]
    result = code(amount_cents=decided, lines=lines, ceiling_cents=ceiling, verdicts=[], rounds=[])
    assert (result is None) == (decided == min(sum(amounts), ceiling))


def test_a_line_verdict() -> None:
    contested = line("b", 300_000)
    check_line_verdict(contested, 300_000, None, [])  # accepted in full: nothing to justify
    with pytest.raises(DomainError) as above:
        check_line_verdict(contested, 300_001, None, [ANSWERED])
    assert above.value.code.value == "verdict_above_line"
    with pytest.raises(DomainError) as unreasoned:
        check_line_verdict(contested, 0, " ", [ANSWERED])
    assert unreasoned.value.code.value == "reasons_required"
    with pytest.raises(DomainError) as not_contested:
        check_line_verdict(line("a", 500_000), 0, "Non.", [ANSWERED])
    assert not_contested.value.code.value == "line_not_contested"
    check_line_verdict(line("a", 500_000), 0, "Non.", [Round()])  # a round naming no line


def test_accepted_total() -> None:
    assert accepted_total_cents(LINES, [Verdict("a", 1)]) is None
    assert accepted_total_cents(LINES, [Verdict("a", 1), Verdict("b", 2)]) == 3
