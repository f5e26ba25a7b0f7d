"""Expense lines: their shape (the model) and the rules that need the case."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.errors import DomainError, ErrorCode, problems_from_validation_error
from domain.expenses import (
    CATEGORY_LABELS,
    MAX_LINE_CENTS,
    MAX_LINES,
    ExpenseCategory,
    ExpenseLine,
    ExpenseLineDraft,
    check_line_for_case,
    claimed_total_cents,
)

PERIOD = (dt.date(2025, 9, 1), dt.date(2026, 3, 22))
ADDED_AT = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


def codes_of(error: ValidationError) -> list[str]:
    return [problem.code for problem in problems_from_validation_error(error)]


def refused(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        ExpenseLineDraft.model_validate(data)
    return codes_of(caught.value)


def recorded(draft: ExpenseLineDraft, number: int) -> ExpenseLine:
    return ExpenseLine(**draft.model_dump(), line_id=f"line-{number}", added_at=ADDED_AT)


# --- Shape ---------------------------------------------------------------------------------------


def test_valid_line(line_data: dict[str, Any]) -> None:
    line = ExpenseLineDraft.model_validate(line_data)

    assert line.category is ExpenseCategory.CLOSE_PROTECTION
    assert line.amount_cents == 125_000
    assert line.siren == "732829320"


@pytest.mark.parametrize("category", list(ExpenseCategory))
def test_both_categories_are_accepted_and_labelled(
    line_data: dict[str, Any], category: ExpenseCategory
) -> None:
    line = ExpenseLineDraft.model_validate({**line_data, "category": category.value})

    assert line.category is category
    assert category.label == CATEGORY_LABELS[category]
    assert category.label


def test_category_accepts_the_enum_member(line_data: dict[str, Any]) -> None:
    line = ExpenseLineDraft.model_validate(
        {**line_data, "category": ExpenseCategory.PREMISES_SECURITY}
    )

    assert line.category is ExpenseCategory.PREMISES_SECURITY


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("amount_cents", 0, "invalid_amount"),
        ("amount_cents", -1, "invalid_amount"),
        ("amount_cents", -125_000, "invalid_amount"),
        ("amount_cents", MAX_LINE_CENTS + 1, "invalid_amount"),
        ("amount_cents", 12.5, "amount_not_integer"),
        ("amount_cents", 12.0, "amount_not_integer"),
        ("amount_cents", True, "amount_not_integer"),
        ("amount_cents", False, "amount_not_integer"),
        ("amount_cents", "1250", "amount_not_integer"),
        ("amount_cents", None, "amount_not_integer"),
        ("category", "travel", "unknown_category"),
        ("category", "CLOSE_PROTECTION", "unknown_category"),
        ("category", "", "unknown_category"),
        ("category", 1, "unknown_category"),
        ("siren", "732829321", "invalid_siren"),
        ("siren", "73282932", "invalid_siren"),
        ("siren", "７３２８２９３２０", "invalid_siren"),
        ("siren", 732829320, "invalid_siren"),
        ("siren", "", "invalid_siren"),
        ("cnaps_authorisation", "CAR-075-2124-07-01-20250906336", "invalid_cnaps_authorisation"),
        ("cnaps_authorisation", "AUT-075-2124-07-01", "invalid_cnaps_authorisation"),
        ("cnaps_authorisation", "", "invalid_cnaps_authorisation"),
        ("cnaps_authorisation", None, "invalid_cnaps_authorisation"),
        ("service_end", dt.date(2026, 1, 9), "invalid_date_range"),
        ("company_name", "", "empty_field"),
        ("company_name", "   ", "empty_field"),
        ("invoice_reference", "", "empty_field"),
        ("invoice_reference", " ", "empty_field"),
        ("document_refs", [], "empty_field"),
        ("document_refs", [""], "empty_field"),
        ("service_start", "not a date", "invalid_input"),
    ],
)
def test_line_refused(line_data: dict[str, Any], field: str, value: object, code: str) -> None:
    assert refused({**line_data, field: value}) == [code]


@pytest.mark.parametrize(
    "field",
    [
        "category",
        "company_name",
        "siren",
        "cnaps_authorisation",
        "invoice_reference",
        "service_start",
        "service_end",
        "amount_cents",
        "document_refs",
    ],
)
def test_missing_field_is_empty_field(line_data: dict[str, Any], field: str) -> None:
    del line_data[field]

    with pytest.raises(ValidationError) as caught:
        ExpenseLineDraft.model_validate(line_data)

    problems = problems_from_validation_error(caught.value)
    assert [(problem.code, problem.field) for problem in problems] == [("empty_field", field)]


def test_problems_carry_the_field_and_french_message(line_data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        ExpenseLineDraft.model_validate({**line_data, "siren": "123", "amount_cents": 1.5})

    problems = {problem.field: problem for problem in problems_from_validation_error(caught.value)}
    assert problems["siren"].code == "invalid_siren"
    assert "SIREN" in problems["siren"].message
    assert problems["amount_cents"].code == "amount_not_integer"
    assert "centimes" in problems["amount_cents"].message


def test_date_range_problem_is_reported_on_the_model(line_data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        ExpenseLineDraft.model_validate({**line_data, "service_end": dt.date(2025, 12, 31)})

    (problem,) = problems_from_validation_error(caught.value)
    assert problem.code == "invalid_date_range"
    assert problem.field is None


@pytest.mark.parametrize("value", [["close_protection"], {"a": 1}])
def test_unhashable_category_is_a_validation_error(
    line_data: dict[str, Any], value: object
) -> None:
    assert refused({**line_data, "category": value}) == ["unknown_category"]


def test_one_day_service_and_ceiling_amount_are_valid(line_data: dict[str, Any]) -> None:
    line = ExpenseLineDraft.model_validate(
        {
            **line_data,
            "service_start": dt.date(2026, 1, 10),
            "service_end": dt.date(2026, 1, 10),
            "amount_cents": MAX_LINE_CENTS,
        }
    )

    assert line.service_start == line.service_end
    assert line.amount_cents == MAX_LINE_CENTS


@pytest.mark.parametrize(
    ("siren", "expected"),
    [
        ("732 829 320", "732829320"),
        (" 732829320 ", "732829320"),
        ("732\u00a0829\u00a0320", "732829320"),
    ],
)
def test_siren_is_normalised(line_data: dict[str, Any], siren: str, expected: str) -> None:
    assert ExpenseLineDraft.model_validate({**line_data, "siren": siren}).siren == expected


@pytest.mark.parametrize(
    "value",
    [
        "aut-075-2124-07-01-20250906336",
        "AUT-075-2124-07-01-20250906336\u00a0",
        " Aut-075-2124-07-01-20250906336 ",
        "AUT-075-2124-07-01-2025 0906 336",
    ],
)
def test_cnaps_authorisation_is_normalised(line_data: dict[str, Any], value: str) -> None:
    line = ExpenseLineDraft.model_validate({**line_data, "cnaps_authorisation": value})

    assert line.cnaps_authorisation == "AUT-075-2124-07-01-20250906336"


def test_text_fields_are_stripped(line_data: dict[str, Any]) -> None:
    line = ExpenseLineDraft.model_validate(
        {**line_data, "company_name": "  Garde Sûre  ", "invoice_reference": " F-1 "}
    )

    assert line.company_name == "Garde Sûre"
    assert line.invoice_reference == "F-1"


def test_line_is_frozen(line_data: dict[str, Any]) -> None:
    line = ExpenseLineDraft.model_validate(line_data)

    with pytest.raises(ValidationError):
        line.amount_cents = 1  # type: ignore[misc]


@given(amount=st.integers(min_value=1, max_value=MAX_LINE_CENTS))
def test_any_positive_whole_amount_up_to_the_maximum_is_accepted(amount: int) -> None:
    line = ExpenseLineDraft(
        category=ExpenseCategory.PREMISES_SECURITY,
        company_name="Veille SAS",
        siren="552100554",
        cnaps_authorisation="AUT-075-2124-07-01-20250906336",
        invoice_reference="F-1",
        service_start=dt.date(2026, 1, 1),
        service_end=dt.date(2026, 1, 2),
        amount_cents=amount,
        document_refs=["doc-1"],
    )

    assert line.amount_cents == amount


@given(
    amount=st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=MAX_LINE_CENTS + 1),
        st.floats(allow_nan=True),
        st.booleans(),
    )
)
def test_other_amounts_are_refused(amount: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ExpenseLineDraft(
            category=ExpenseCategory.PREMISES_SECURITY,
            company_name="Veille SAS",
            siren="552100554",
            cnaps_authorisation="AUT-075-2124-07-01-20250906336",
            invoice_reference="F-1",
            service_start=dt.date(2026, 1, 1),
            service_end=dt.date(2026, 1, 2),
            amount_cents=amount,  # type: ignore[arg-type]
            document_refs=["doc-1"],
        )

    expected = "invalid_amount" if type(amount) is int else "amount_not_integer"
    assert codes_of(caught.value) == [expected]


# --- Rules that need the case --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (dt.date(2025, 9, 1), dt.date(2025, 9, 1)),
        (dt.date(2025, 9, 1), dt.date(2026, 3, 22)),
        (dt.date(2026, 3, 22), dt.date(2026, 3, 22)),
    ],
)
def test_line_inside_the_period_is_accepted(
    line_data: dict[str, Any], start: dt.date, end: dt.date
) -> None:
    line = ExpenseLineDraft.model_validate(
        {**line_data, "service_start": start, "service_end": end}
    )

    check_line_for_case(line, [], PERIOD)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (dt.date(2025, 8, 31), dt.date(2025, 9, 10)),  # starts the day before the period
        (dt.date(2025, 8, 1), dt.date(2025, 8, 31)),  # wholly before
        (dt.date(2026, 3, 1), dt.date(2026, 3, 23)),  # ends the day after the last round
        (dt.date(2026, 3, 23), dt.date(2026, 3, 23)),  # wholly after
        (dt.date(2025, 8, 31), dt.date(2026, 3, 23)),  # overflows both sides
    ],
)
def test_line_outside_the_period_is_refused(
    line_data: dict[str, Any], start: dt.date, end: dt.date
) -> None:
    line = ExpenseLineDraft.model_validate(
        {**line_data, "service_start": start, "service_end": end}
    )

    with pytest.raises(DomainError) as caught:
        check_line_for_case(line, [], PERIOD)

    assert caught.value.code == ErrorCode.DATE_OUTSIDE_ELIGIBLE_PERIOD


@pytest.mark.parametrize(
    ("siren", "invoice", "duplicate"),
    [
        ("732829320", "F-2026-001", True),
        ("732 829 320", "f-2026-001", True),
        ("732829320", "  F-2026-001 ", True),
        ("732829320", "F-2026-002", False),
        ("552100554", "F-2026-001", False),  # same invoice number, another company
    ],
)
def test_duplicate_invoice_of_the_same_company_is_refused(
    line_data: dict[str, Any], siren: str, invoice: str, duplicate: bool
) -> None:
    existing = [recorded(ExpenseLineDraft.model_validate(line_data), 1)]
    line = ExpenseLineDraft.model_validate(
        {**line_data, "siren": siren, "invoice_reference": invoice}
    )

    if duplicate:
        with pytest.raises(DomainError) as caught:
            check_line_for_case(line, existing, PERIOD)
        assert caught.value.code == ErrorCode.DUPLICATE_EXPENSE_LINE
        assert caught.value.field == "invoice_reference"
    else:
        check_line_for_case(line, existing, PERIOD)


def test_the_201st_line_is_refused(line_data: dict[str, Any]) -> None:
    existing = [
        recorded(
            ExpenseLineDraft.model_validate({**line_data, "invoice_reference": f"F-{number}"}),
            number,
        )
        for number in range(MAX_LINES)
    ]
    line = ExpenseLineDraft.model_validate({**line_data, "invoice_reference": "F-last"})

    check_line_for_case(line, existing[:-1], PERIOD)  # the 200th is fine
    with pytest.raises(DomainError) as caught:
        check_line_for_case(line, existing, PERIOD)

    assert MAX_LINES == 200
    assert caught.value.code == ErrorCode.TOO_MANY_EXPENSE_LINES


def test_claimed_total(line_data: dict[str, Any]) -> None:
    lines = [
        ExpenseLineDraft.model_validate({**line_data, "amount_cents": amount})
        for amount in (100, 250, 1_000_000)
    ]

    assert claimed_total_cents(lines) == 1_000_350
    assert claimed_total_cents([]) == 0


def test_recorded_line_keeps_the_draft(line_data: dict[str, Any]) -> None:
    draft = ExpenseLineDraft.model_validate(line_data)

    line = recorded(draft, 7)

    assert line.line_id == "line-7"
    assert (
        ExpenseLineDraft.model_validate(line.model_dump(exclude={"line_id", "added_at"})) == draft
    )
