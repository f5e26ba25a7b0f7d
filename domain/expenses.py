"""The expense claim: eligible categories, one expense line, and the rules a line must meet.

A line's shape (positive whole cents, valid SIREN and CNAPS number, dates in order, a document)
is checked by the model; the rules that need the case (eligible period, duplicates) by
``check_line_for_case``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.errors import DomainError, ErrorCode, custom_error
from domain.identifiers import (
    compact,
    is_valid_cnaps_authorisation,
    is_valid_siren,
    normalise_cnaps_authorisation,
)
from domain.money import MAX_AMOUNT_CENTS, PositiveCents
from domain.text import clean_line

MAX_LINE_CENTS = MAX_AMOUNT_CENTS
MAX_LINES = 200


class ExpenseCategory(StrEnum):
    """The two categories of eligible security expenses (L. 52-18-2, R. 39-13)."""

    PREMISES_SECURITY = "premises_security"
    """Human or electronic surveillance, or guarding, of the campaign office or meeting venues,
    including the candidate's security inside them or in public passenger transport."""
    CLOSE_PROTECTION = "close_protection"
    """Protection of the candidate's physical integrity."""

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    ExpenseCategory.PREMISES_SECURITY: "Surveillance ou gardiennage des lieux de campagne",
    ExpenseCategory.CLOSE_PROTECTION: "Protection rapprochée du candidat",
}

NonEmptyText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(clean_line)]
DocumentRef = Annotated[str, Field(min_length=1, max_length=128)]


class LineCertification(BaseModel):
    """What the candidate certifies of one line (L. 52-18-2): the legal exclusions do not apply.

    Lines recorded before certifications existed read as uncertified; a new line must certify all
    three (``check_line_for_case``).
    """

    model_config = ConfigDict(frozen=True)

    not_public_service: bool = False
    """The service cannot be provided by a public administrative service."""
    not_in_campaign_account: bool = False
    """The expense is not reimbursable through the campaign account (L. 52-12)."""
    not_state_protection: bool = False
    """The service does not duplicate a protection the State already provides."""

    @property
    def complete(self) -> bool:
        return (
            self.not_public_service and self.not_in_campaign_account and self.not_state_protection
        )


ALL_CERTIFIED = LineCertification(
    not_public_service=True, not_in_campaign_account=True, not_state_protection=True
)
"""The three certifications given, as every line must have them."""


class ExpenseLineDraft(BaseModel):
    """An expense line as the candidate enters it (the workflow assigns its id)."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    category: ExpenseCategory
    company_name: NonEmptyText
    siren: str
    cnaps_authorisation: str
    invoice_reference: NonEmptyText
    service_start: dt.date
    service_end: dt.date
    amount_cents: PositiveCents
    document_refs: list[DocumentRef] = Field(min_length=1, max_length=50)
    """References of the invoice and proofs of payment in document storage."""
    certification: LineCertification = Field(default_factory=LineCertification)
    """The candidate's certification of the legal exclusions (rule 8)."""

    @field_validator("siren", mode="before")
    @classmethod
    def _siren(cls, value: object) -> object:
        if not isinstance(value, str) or not is_valid_siren(value):
            raise custom_error(ErrorCode.INVALID_SIREN)
        return compact(value)

    @field_validator("cnaps_authorisation", mode="before")
    @classmethod
    def _cnaps(cls, value: object) -> object:
        if not isinstance(value, str) or not is_valid_cnaps_authorisation(value):
            raise custom_error(ErrorCode.INVALID_CNAPS_AUTHORISATION)
        return normalise_cnaps_authorisation(value)

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: object) -> object:
        if not isinstance(value, str) or value not in {
            category.value for category in ExpenseCategory
        }:
            raise custom_error(ErrorCode.UNKNOWN_CATEGORY)
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> ExpenseLineDraft:
        if self.service_end < self.service_start:
            raise custom_error(ErrorCode.INVALID_DATE_RANGE)
        return self


class ExpenseLine(ExpenseLineDraft):
    """An expense line recorded on a case."""

    line_id: str
    added_at: dt.datetime


def claimed_total_cents(lines: Sequence[ExpenseLineDraft]) -> int:
    """The total claimed, in euro cents."""
    return sum(line.amount_cents for line in lines)


def check_line_for_case(
    line: ExpenseLineDraft,
    existing: Sequence[ExpenseLine],
    period: tuple[dt.date, dt.date],
) -> None:
    """Refuse a line outside the eligible period, a duplicate invoice, or one line too many.

    Args:
        line: The line to add.
        existing: The lines already on the case.
        period: The inclusive eligible period (``domain.calendar.eligible_period``).

    Raises:
        DomainError: ``line_not_certified``, ``date_outside_eligible_period``,
            ``duplicate_expense_line`` or ``too_many_expense_lines``.
    """
    if not line.certification.complete:
        raise DomainError(ErrorCode.LINE_NOT_CERTIFIED, field="certification")
    start, end = period
    if line.service_start < start or line.service_end > end:
        raise DomainError(ErrorCode.DATE_OUTSIDE_ELIGIBLE_PERIOD, field="service_start")
    key = (line.siren, line.invoice_reference.casefold())
    if any((other.siren, other.invoice_reference.casefold()) == key for other in existing):
        raise DomainError(ErrorCode.DUPLICATE_EXPENSE_LINE, field="invoice_reference")
    if len(existing) >= MAX_LINES:
        raise DomainError(ErrorCode.TOO_MANY_EXPENSE_LINES)


def invoice_key(siren: str, invoice_reference: str) -> str:
    """What makes an invoice the same one across cases: the company and its reference."""
    return f"{siren}:{' '.join(invoice_reference.split()).casefold()}"


def lines_after(lines: Sequence[ExpenseLine], last_day: dt.date) -> list[str]:
    """Ids of the lines whose service ends after ``last_day`` (the last round attended)."""
    return [line.line_id for line in lines if line.service_end > last_day]
