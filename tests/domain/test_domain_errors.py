"""Stable error codes, their French messages, and the translation of pydantic errors."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from domain.errors import (
    MESSAGES,
    DomainError,
    ErrorCode,
    Problem,
    custom_error,
    problems_from_validation_error,
)
from domain.expenses import ExpenseCategory, ExpenseLineDraft
from domain.stages import Role

FRENCH_WORDS = frozenset(
    {"le", "la", "les", "l", "de", "du", "des", "d", "à", "un", "une", "ce", "cette", "votre"}
    | {"doit", "est", "sont", "pas", "ne", "n", "aucun", "aucune", "et"}
)
ENGLISH_WORDS = frozenset({"the", "must", "are", "should"})


class _WithCategory(BaseModel):
    """A model with a plain enum category (no custom validator): pydantic's own enum error."""

    category: ExpenseCategory


class _WithRole(BaseModel):
    role: Role


class _Nested(BaseModel):
    line: ExpenseLineDraft


def problems(model: type[BaseModel], data: dict[str, Any]) -> list[Problem]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return problems_from_validation_error(caught.value)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_a_french_message(code: ErrorCode) -> None:
    message = MESSAGES[code]

    assert message.strip() == message
    assert message[0].isupper()
    assert message.endswith((".", ")"))
    words = set(re.findall(r"[a-zà-ÿ]+", message.lower()))
    assert words & FRENCH_WORDS, message
    assert not words & ENGLISH_WORDS, message
    assert "{" not in message


def test_messages_cover_exactly_the_codes() -> None:
    assert set(MESSAGES) == set(ErrorCode)


def test_codes_are_lower_snake_case_and_equal_to_their_value() -> None:
    for code in ErrorCode:
        assert code.value == code.name.lower()


def test_domain_error_defaults_to_the_code_message() -> None:
    error = DomainError(ErrorCode.CASE_CLOSED)

    assert error.code is ErrorCode.CASE_CLOSED
    assert error.message == MESSAGES[ErrorCode.CASE_CLOSED]
    assert error.field is None
    assert str(error) == f"case_closed: {MESSAGES[ErrorCode.CASE_CLOSED]}"


def test_domain_error_with_field_and_precise_message() -> None:
    error = DomainError(ErrorCode.INVALID_AMOUNT, field="amount_cents", message="Trop petit.")

    assert error.field == "amount_cents"
    assert error.message == "Trop petit."
    assert "invalid_amount" in str(error)


def test_custom_error_carries_the_code_as_its_type() -> None:
    error = custom_error(ErrorCode.INVALID_SIREN)

    assert error.type == "invalid_siren"
    assert error.message() == MESSAGES[ErrorCode.INVALID_SIREN]


def test_custom_error_neutralises_braces() -> None:
    error = custom_error(ErrorCode.INVALID_INPUT, "Champ {nom} invalide.")

    assert error.message() == "Champ (nom) invalide."


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("siren", "123", "invalid_siren"),
        ("cnaps_authorisation", "CAR-075-2124-07-01-20250906336", "invalid_cnaps_authorisation"),
        ("category", "travel", "unknown_category"),
        ("amount_cents", 1.5, "amount_not_integer"),
        ("amount_cents", 0, "invalid_amount"),
    ],
)
def test_our_custom_errors_keep_their_own_code(
    line_data: dict[str, Any], field: str, value: object, code: str
) -> None:
    (problem,) = problems(ExpenseLineDraft, {**line_data, field: value})

    assert problem == Problem(code, MESSAGES[ErrorCode(code)], field)


def test_nested_location_is_dotted(line_data: dict[str, Any]) -> None:
    (problem,) = problems(_Nested, {"line": {**line_data, "siren": "123"}})

    assert problem.code == "invalid_siren"
    assert problem.field == "line.siren"


def test_nested_list_location_includes_the_index(line_data: dict[str, Any]) -> None:
    (problem,) = problems(ExpenseLineDraft, {**line_data, "document_refs": ["ok", ""]})

    assert problem.code == "empty_field"
    assert problem.field == "document_refs.1"


def test_missing_field_is_empty_field() -> None:
    (problem,) = problems(_WithRole, {})

    assert problem == Problem("empty_field", MESSAGES[ErrorCode.EMPTY_FIELD], "role")


def test_unknown_enum_on_a_category_field_is_unknown_category() -> None:
    (problem,) = problems(_WithCategory, {"category": "travel"})

    assert problem == Problem("unknown_category", MESSAGES[ErrorCode.UNKNOWN_CATEGORY], "category")


def test_unknown_enum_elsewhere_is_invalid_input() -> None:
    (problem,) = problems(_WithRole, {"role": "king"})

    assert problem == Problem("invalid_input", MESSAGES[ErrorCode.INVALID_INPUT], "role")


def test_unmapped_pydantic_error_is_invalid_input(line_data: dict[str, Any]) -> None:
    (problem,) = problems(ExpenseLineDraft, {**line_data, "service_start": "soon"})

    assert problem == Problem("invalid_input", MESSAGES[ErrorCode.INVALID_INPUT], "service_start")


def test_model_level_error_has_no_field(line_data: dict[str, Any]) -> None:
    (problem,) = problems(ExpenseLineDraft, {**line_data, "service_end": dt.date(2020, 1, 1)})

    assert problem.code == "invalid_date_range"
    assert problem.field is None


def test_several_problems_are_all_reported(line_data: dict[str, Any]) -> None:
    found = problems(
        ExpenseLineDraft,
        {**line_data, "siren": "1", "category": "x", "company_name": "", "amount_cents": -3},
    )

    assert sorted((problem.field, problem.code) for problem in found) == [
        ("amount_cents", "invalid_amount"),
        ("category", "unknown_category"),
        ("company_name", "empty_field"),
        ("siren", "invalid_siren"),
    ]


def test_every_problem_code_is_a_stable_code(line_data: dict[str, Any]) -> None:
    found = problems(
        ExpenseLineDraft,
        {**line_data, "siren": None, "company_name": 3, "document_refs": "doc", "extra": 1},
    )

    assert found
    assert {problem.code for problem in found} <= {code.value for code in ErrorCode}
