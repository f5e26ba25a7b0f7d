"""Amounts, ceilings (article R. 39-13) and the rule the CNCCFP's decision obeys.

Every amount is an integer number of euro cents; floats never enter.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StrictInt

from domain.errors import DomainError, ErrorCode, custom_error

MAX_AMOUNT_CENTS = 100_000_000
"""One million euros: far above any ceiling, there only to refuse typing accidents."""


def _whole(value: object) -> object:
    # A float (even 12.0) or a boolean is a sign of a unit mistake, not an amount in cents.
    if isinstance(value, float | bool | str):
        raise custom_error(ErrorCode.AMOUNT_NOT_INTEGER)
    return value


def _positive(value: int) -> int:
    if not 0 < value <= MAX_AMOUNT_CENTS:
        raise custom_error(ErrorCode.INVALID_AMOUNT)
    return value


def _not_negative(value: int) -> int:
    if not 0 <= value <= MAX_AMOUNT_CENTS:
        raise custom_error(ErrorCode.INVALID_AMOUNT, "Le montant ne peut pas être négatif.")
    return value


PositiveCents = Annotated[StrictInt, BeforeValidator(_whole), AfterValidator(_positive)]
"""An amount in euro cents, whole and above zero (an expense, a payment)."""
NonNegativeCents = Annotated[StrictInt, BeforeValidator(_whole), AfterValidator(_not_negative)]
"""An amount in euro cents, whole and zero or more (a decision may reimburse nothing)."""


class ThreatLevel(IntEnum):
    """Level of a recognised threat in the prefect's décision d'évaluation (R. 39-12)."""

    ONE = 1
    """Statements clearly beyond normal electoral debate (insulting, defamatory, outrageous)."""
    TWO = 2
    """A risk to the candidate's physical integrity."""


CEILING_CENTS: dict[ThreatLevel, int] = {
    ThreatLevel.ONE: 1_500_000,
    ThreatLevel.TWO: 7_500_000,
}
"""Ceiling of reimbursement per candidate and election, whatever the election (R. 39-13)."""


class DecisionOutcome(StrEnum):
    """How the decided amount relates to the request."""

    APPROVED = "approved"
    """The whole eligible claim, within the ceiling."""
    AMENDED = "amended"
    """Less than the claim (or the ceiling) but more than nothing."""
    REJECTED = "rejected"
    """Nothing is reimbursed."""


def ceiling_cents(level: ThreatLevel) -> int:
    """The ceiling for a threat level, in euro cents."""
    return CEILING_CENTS[level]


def reimbursable_cents(claimed_cents: int, ceiling: int) -> int:
    """The most the CNCCFP may decide: the claim, capped by the ceiling in force."""
    return min(claimed_cents, ceiling)


def check_decided_amount(decided_cents: int, claimed_cents: int, ceiling: int) -> None:
    """Refuse a decided amount above the eligible claim or the ceiling in force.

    Args:
        decided_cents: The amount the CNCCFP wants to decide.
        claimed_cents: The eligible total claimed by the candidate.
        ceiling: The ceiling in force (that of the latest recognised level, as recorded).

    Raises:
        DomainError: ``invalid_amount``, ``amount_above_claim`` or ``amount_above_ceiling``.
    """
    if decided_cents < 0:
        raise DomainError(ErrorCode.INVALID_AMOUNT, field="amount_cents")
    if decided_cents > claimed_cents:
        raise DomainError(ErrorCode.AMOUNT_ABOVE_CLAIM, field="amount_cents")
    if decided_cents > ceiling:
        raise DomainError(ErrorCode.AMOUNT_ABOVE_CEILING, field="amount_cents")


def decision_outcome(decided_cents: int, claimed_cents: int, ceiling: int) -> DecisionOutcome:
    """Classify a valid decided amount: approving min(claim, ceiling) is not a cut."""
    if decided_cents == 0:
        return DecisionOutcome.REJECTED
    if decided_cents == reimbursable_cents(claimed_cents, ceiling):
        return DecisionOutcome.APPROVED
    return DecisionOutcome.AMENDED


def format_eur(cents: int) -> str:
    """French rendering of an amount: ``15 000,00 €`` (narrow no-break spaces)."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    grouped = f"{euros:,}".replace(",", "\u202f")
    return f"{sign}{grouped},{rest:02d}\u00a0€"
