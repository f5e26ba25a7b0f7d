"""The CNCCFP's review of a deposited request: line verdicts and the decided amount.

L. 52-18-3: the Commission "approuve ou, après une procédure contradictoire, rejette ou réforme"
the request. Approving means deciding what the rules allow for the claim, min(claim, ceiling):
capping the claim at the ceiling is the law applied, not a cut. Any lower amount is a reform or a
rejection and needs (rules 1 and 8 of DOMAIN.md):

- a round of observations after the deposit that was answered or whose delay expired, naming the
  lines it contests (a round naming no line contests them all);
- a verdict on every line (accepted in full, or cut with its reason);
- the decided amount equal to the sum of the verdicts, within the ceiling.

Pure functions over the case's facts; the workflow's validators call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.errors import DomainError, ErrorCode
from domain.expenses import ExpenseLine, claimed_total_cents
from domain.money import check_decided_amount, reimbursable_cents


class RoundFacts(Protocol):
    """What the review needs of one round of observations."""

    @property
    def contested_line_ids(self) -> list[str]: ...
    @property
    def answered_at(self) -> object | None: ...
    @property
    def expired_unanswered(self) -> bool: ...


class VerdictFacts(Protocol):
    """What the review needs of one line verdict."""

    @property
    def line_id(self) -> str: ...
    @property
    def accepted_cents(self) -> int: ...


def round_contests(round: RoundFacts, line_id: str) -> bool:
    """Whether a round's observations bear on a line (a round naming no line bears on all)."""
    return not round.contested_line_ids or line_id in round.contested_line_ids


def round_closed(round: RoundFacts) -> bool:
    """A round the candidate answered, or whose answer delay expired."""
    return round.answered_at is not None or round.expired_unanswered


def check_line_verdict(
    line: ExpenseLine, accepted_cents: int, reason: str | None, rounds: Sequence[RoundFacts]
) -> None:
    """Refuse a verdict above the line, or a cut without a reason or without observations.

    Raises:
        DomainError: ``verdict_above_line``, ``reasons_required`` or ``line_not_contested``.
    """
    if accepted_cents > line.amount_cents:
        raise DomainError(ErrorCode.VERDICT_ABOVE_LINE, field="accepted_cents")
    if accepted_cents == line.amount_cents:
        return
    if not reason or not reason.strip():
        raise DomainError(ErrorCode.REASONS_REQUIRED, field="reason")
    if not any(round_contests(round, line.line_id) for round in rounds):
        raise DomainError(ErrorCode.LINE_NOT_CONTESTED, field="line_id")


def accepted_total_cents(
    lines: Sequence[ExpenseLine], verdicts: Sequence[VerdictFacts]
) -> int | None:
    """The sum of the verdicts, or None while a line has none."""
    by_line = {verdict.line_id: verdict.accepted_cents for verdict in verdicts}
    if any(line.line_id not in by_line for line in lines):
        return None
    return sum(by_line[line.line_id] for line in lines)


def check_decision(
    amount_cents: int,
    *,
    lines: Sequence[ExpenseLine],
    ceiling_cents: int,
    verdicts: Sequence[VerdictFacts],
    rounds: Sequence[RoundFacts],
) -> None:
    """Refuse a decided amount the law does not allow at this point of the review.

    Args:
        amount_cents: The amount the CNCCFP wants to decide.
        lines: The lines of the deposited request.
        ceiling_cents: The ceiling in force (latest recognised level).
        verdicts: The verdicts recorded so far.
        rounds: Every round of observations (the stage guarantees none is open).

    Raises:
        DomainError: ``invalid_amount``, ``amount_above_claim``, ``amount_above_ceiling``,
            ``contradictory_procedure_required``, ``line_verdicts_required`` or
            ``amount_differs_from_verdicts``.
    """
    claimed = claimed_total_cents(lines)
    check_decided_amount(amount_cents, claimed, ceiling_cents)
    accepted = accepted_total_cents(lines, verdicts)
    if amount_cents == reimbursable_cents(claimed, ceiling_cents):
        if accepted is not None and min(accepted, ceiling_cents) != amount_cents:
            raise DomainError(ErrorCode.AMOUNT_DIFFERS_FROM_VERDICTS, field="amount_cents")
        return
    if not any(round_closed(round) for round in rounds):
        raise DomainError(ErrorCode.CONTRADICTORY_PROCEDURE_REQUIRED, field="amount_cents")
    if accepted is None:
        raise DomainError(ErrorCode.LINE_VERDICTS_REQUIRED, field="amount_cents")
    if amount_cents != min(accepted, ceiling_cents):
        raise DomainError(ErrorCode.AMOUNT_DIFFERS_FROM_VERDICTS, field="amount_cents")
