"""A refusal, told on a page exactly as the JSON API tells it (same code, status, French detail
and field), through ``api.errors``'s own mapping."""

from __future__ import annotations

from api.errors import (
    INFRASTRUCTURE_ERRORS,
    OUTCOME_UNKNOWN_DETAIL,
    ApiError,
    InputRefused,
    OutcomeUnknown,
    ProblemPublic,
    problem_response,
    problems_response,
)
from core.cases import CaseActionRefused, CaseNotFound
from domain.errors import MESSAGES, DomainError, ErrorCode

PAGE_OUTCOME_UNKNOWN = (
    "Votre demande a été transmise mais sa confirmation n'a pas pu être obtenue : elle a peut-être "
    "été enregistrée. Consultez le dossier avant de la renouveler."
)
"""``OUTCOME_UNKNOWN_DETAIL`` without its advice on a header, which a page user never sets."""


def problem_of(error: BaseException) -> ProblemPublic | None:
    """The problem the JSON API answers for ``error``; None for an error it does not expect."""
    if isinstance(error, ApiError | DomainError):
        response = problem_response(error.code.value, error.message, field=error.field)
    elif isinstance(error, CaseActionRefused):
        response = problem_response(error.code, error.message, field=error.field)
    elif isinstance(error, CaseNotFound):
        response = problem_response(
            ErrorCode.CASE_NOT_FOUND.value, MESSAGES[ErrorCode.CASE_NOT_FOUND]
        )
    elif isinstance(error, InputRefused):
        response = problems_response(error.problems)
    elif isinstance(error, OutcomeUnknown):
        response = problem_response(ErrorCode.SERVICE_UNAVAILABLE.value, OUTCOME_UNKNOWN_DETAIL)
    elif isinstance(error, INFRASTRUCTURE_ERRORS):
        response = problem_response(
            ErrorCode.SERVICE_UNAVAILABLE.value, MESSAGES[ErrorCode.SERVICE_UNAVAILABLE]
        )
    else:
        return None
    problem = ProblemPublic.model_validate_json(bytes(response.body))
    if problem.detail == OUTCOME_UNKNOWN_DETAIL:
        problem.detail = PAGE_OUTCOME_UNKNOWN
    return problem


def field_errors(problem: ProblemPublic | None) -> dict[str, str]:
    """Field name to its French message (the first one per field), for the form to show."""
    if problem is None:
        return {}
    found: dict[str, str] = {}
    for item in problem.errors:
        if item.field:
            found.setdefault(_root(item.field), item.detail)
    if problem.field:
        found.setdefault(_root(problem.field), problem.detail)
    return found


def _root(field: str) -> str:
    """``certification.not_public_service`` and ``document_refs.0`` name their form field."""
    head, _, rest = field.partition(".")
    return field if head == "certification" and rest else head
