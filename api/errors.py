"""One translation of every error into an RFC 9457 problem (``application/problem+json``).

Each problem carries a stable ``code`` and a French ``detail``; raw exception text never reaches a
user. Error tree of what the handlers receive::

    ApiError                         raised by the API itself (status, code, field)
    DomainError                      a rule refused the input (code → status below)
    CaseActionRefused                the workflow refused an action (code → status below)
    CaseNotFound                     404 case_not_found
    OutcomeUnknown                   503 service_unavailable, saying that the action may stand:
                                     it was sent, its outcome did not come back in time
    RequestValidationError           422 (invalid_json when the body is not JSON)
    HTTPException (Starlette)        404 not_found, 405 method_not_allowed, ...
    infrastructure                   503 service_unavailable: Temporal unreachable, its RPC errors
                                     and timeouts, the S3 client's errors,
                                     SQLAlchemy errors, storage errors, OSError
    anything else                    500 internal_error (logged with its traceback)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from core.cases import CaseActionRefused, CaseNotFound
from core.storage import StorageError
from domain.errors import MESSAGES, DomainError, ErrorCode, Problem, problems_from_error_items

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

STATUS_BY_CODE: dict[str, int] = {
    ErrorCode.AUTHENTICATION_REQUIRED: 401,
    ErrorCode.SESSION_INVALID: 401,
    ErrorCode.SIGN_IN_LINK_INVALID: 401,
    # Staff sign-in through OpenID Connect (api/routes/staff_sign_in.py)
    ErrorCode.OIDC_NOT_CONFIGURED: 404,
    ErrorCode.OIDC_STATE_INVALID: 400,
    ErrorCode.OIDC_DENIED: 401,
    ErrorCode.OIDC_TOKEN_INVALID: 401,
    ErrorCode.OIDC_EMAIL_UNVERIFIED: 403,
    ErrorCode.OIDC_ACCOUNT_UNKNOWN: 403,
    ErrorCode.OIDC_PROVIDER_ERROR: 502,
    ErrorCode.FORBIDDEN_ROLE: 403,
    ErrorCode.DOCUMENT_KIND_NOT_ALLOWED: 403,
    ErrorCode.CASE_NOT_FOUND: 404,
    ErrorCode.NOT_YOUR_CASE: 404,
    ErrorCode.OUT_OF_SCOPE: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ACCOUNT_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.WRONG_STAGE: 409,
    ErrorCode.CASE_CLOSED: 409,
    ErrorCode.CASE_NOT_CLOSED: 409,
    ErrorCode.RETENTION_NOT_DUE: 409,
    ErrorCode.DEPOSIT_DEADLINE_PASSED: 409,
    # The procedure must take a step first ("not now"); a wrong value in the input is 422.
    ErrorCode.CONTRADICTORY_PROCEDURE_REQUIRED: 409,
    ErrorCode.LINE_VERDICTS_REQUIRED: 409,
    ErrorCode.LINE_NOT_CONTESTED: 409,
    ErrorCode.LINES_OUTSIDE_ATTENDED_ROUNDS: 409,
    ErrorCode.ANSWER_DELAY_EXPIRED: 409,
    ErrorCode.ACCOUNT_EXISTS: 409,
    ErrorCode.ELECTION_EXISTS: 409,
    ErrorCode.DOCUMENT_DUPLICATE: 409,
    ErrorCode.ELECTION_NOT_COVERED: 409,
    ErrorCode.PREFECTURE_UNKNOWN: 409,
    ErrorCode.DOCUMENT_TOO_LARGE: 413,
    ErrorCode.CASE_STORAGE_FULL: 413,
    ErrorCode.DOCUMENT_TYPE_NOT_ALLOWED: 415,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.ACCOUNT_NOT_CONFIRMED: 409,
    # A stored message that does not decrypt (a key missing from the settings, a tampered row):
    # the service's fault, told with a stable code, never the cipher's text.
    ErrorCode.MESSAGE_UNREADABLE: 500,
}
"""Codes with their own status; every other refusal of an input is 422."""

_HIDDEN_SCOPE_CODES = {ErrorCode.NOT_YOUR_CASE.value, ErrorCode.OUT_OF_SCOPE.value}
"""Refusals that would confirm that someone else's case exists: answered as "not found"."""

TITLES = {
    400: "Requête invalide",
    401: "Authentification requise",
    403: "Action interdite",
    404: "Introuvable",
    405: "Méthode non permise",
    409: "Conflit avec l'état du dossier",
    413: "Contenu trop volumineux",
    415: "Type de contenu non accepté",
    429: "Trop de requêtes",
    422: "Données invalides",
    500: "Erreur interne",
    502: "Fournisseur d'identité indisponible",
    503: "Service indisponible",
}


class ProblemItem(BaseModel):
    """Une raison du refus."""

    code: str = Field(description="Code stable de la raison.")
    detail: str = Field(description="Explication en français.")
    field: str | None = Field(default=None, description="Champ en cause, s'il y en a un.")


class ProblemPublic(BaseModel):
    """Erreur au format RFC 9457 (application/problem+json)."""

    type: str = Field(default="about:blank", description="Toujours about:blank.")
    title: str = Field(description="Intitulé du statut HTTP, en français.")
    status: int = Field(description="Statut HTTP.")
    code: str = Field(description="Code stable de l'erreur, sur lequel un client peut s'appuyer.")
    detail: str = Field(description="Explication en français, destinée à la personne.")
    field: str | None = Field(default=None, description="Champ en cause, s'il y en a un.")
    errors: list[ProblemItem] = Field(
        default_factory=list, description="Toutes les raisons, quand il y en a plusieurs."
    )


class TemporalUnavailable(Exception):
    """The Temporal frontend could not be reached (answered 503)."""


class OutcomeUnknown(Exception):
    """An action reached the case but its outcome did not come back (a timeout, a lost server).

    It may stand: the audit row stays ``pending`` until the outcome is known.
    """


OUTCOME_UNKNOWN_DETAIL = (
    "Votre demande a été transmise mais sa confirmation n'a pas pu être obtenue : elle a peut-être "
    "été enregistrée. Consultez le dossier avant de la renouveler. Si vous la renouvelez, "
    "utilisez le même en-tête Idempotency-Key : elle ne sera alors pas appliquée deux fois."
)

INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    # The S3 client's own errors (a missing bucket, refused credentials, a lost endpoint).
    BotoCoreError,
    ClientError,
    TemporalUnavailable,
    RPCError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    SQLAlchemyError,
    StorageError,
    OSError,
    TimeoutError,
)
"""What a component that is down or slow raises: answered 503 ``service_unavailable``."""


class ApiError(Exception):
    """A refusal decided by the API itself.

    Args:
        code: The stable code; its status comes from ``STATUS_BY_CODE`` (422 otherwise).
        field: The input field at fault.
        message: A more precise French message than the code's.
    """

    def __init__(self, code: ErrorCode, *, field: str | None = None, message: str | None = None):
        self.code = code
        self.field = field
        self.message = message or MESSAGES[code]
        self.headers: dict[str, str] | None = None
        """Headers of the answer (``Retry-After`` of a rate limit)."""
        super().__init__(code.value)


def error_code(error: BaseException) -> str:
    """The stable code the API answers for ``error``: what an audit row records as its outcome.

    The handlers below answer with the same code, so that the row and the answer agree.
    """
    if isinstance(error, ApiError | DomainError):
        return error.code.value
    if isinstance(error, CaseActionRefused):
        return error.code
    if isinstance(error, CaseNotFound):
        return ErrorCode.CASE_NOT_FOUND.value
    if isinstance(error, InputRefused):
        return error.problems[0].code
    if isinstance(error, (OutcomeUnknown, *INFRASTRUCTURE_ERRORS)):
        return ErrorCode.SERVICE_UNAVAILABLE.value
    return ErrorCode.INTERNAL_ERROR.value


def status_for(code: str) -> int:
    return STATUS_BY_CODE.get(code, 422)


def problem_response(
    code: str,
    detail: str,
    *,
    status: int | None = None,
    field: str | None = None,
    problems: Sequence[Problem] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The problem+json response for one refusal."""
    if code in _HIDDEN_SCOPE_CODES:
        code, detail, field = (
            ErrorCode.CASE_NOT_FOUND.value,
            MESSAGES[ErrorCode.CASE_NOT_FOUND],
            None,
        )
    status = status or status_for(code)
    body = ProblemPublic(
        title=TITLES.get(status, "Erreur"),
        status=status,
        code=code,
        detail=detail,
        field=field,
        errors=[ProblemItem(code=p.code, detail=p.message, field=p.field) for p in problems],
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _unavailable(detail: str = MESSAGES[ErrorCode.SERVICE_UNAVAILABLE]) -> JSONResponse:
    code = ErrorCode.SERVICE_UNAVAILABLE
    return problem_response(code.value, detail, headers={"Retry-After": "5"})


def _validation_problems(error: RequestValidationError) -> list[Problem]:
    # FastAPI starts each location with where it came from (body, query, path, header).
    problems = problems_from_error_items(error.errors(), skip_location=1)
    return problems or [Problem(ErrorCode.INVALID_INPUT.value, MESSAGES[ErrorCode.INVALID_INPUT])]


def problems_response(problems: list[Problem]) -> JSONResponse:
    first = problems[0]
    return problem_response(
        first.code, first.message, status=422, field=first.field, problems=problems
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the one translation of errors into problems."""

    async def api_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError | DomainError)
        headers = error.headers if isinstance(error, ApiError) else None
        return problem_response(error.code.value, error.message, field=error.field, headers=headers)

    async def refused(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, CaseActionRefused)
        return problem_response(error.code, error.message, field=error.field)

    async def not_found(_: Request, __: Exception) -> JSONResponse:
        code = ErrorCode.CASE_NOT_FOUND
        return problem_response(code.value, MESSAGES[code])

    async def invalid(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return problems_response(_validation_problems(error))

    async def http_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = {
            401: ErrorCode.AUTHENTICATION_REQUIRED,
            404: ErrorCode.NOT_FOUND,
            405: ErrorCode.METHOD_NOT_ALLOWED,
        }.get(error.status_code)
        if code is None:
            code = ErrorCode.INTERNAL_ERROR if error.status_code >= 500 else ErrorCode.INVALID_INPUT
        return problem_response(
            code.value,
            MESSAGES[code],
            status=error.status_code,
            headers=dict(error.headers) if error.headers else None,
        )

    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        # The class is enough to diagnose; messages of drivers can quote data.
        log.warning(
            "%s %s: infrastructure unavailable (%s)",
            request.method,
            request.url.path,
            type(error).__name__,
        )
        return _unavailable()

    async def outcome_unknown(request: Request, error: Exception) -> JSONResponse:
        log.warning(
            "%s %s: outcome unknown (%s)",
            request.method,
            request.url.path,
            type(error.__cause__).__name__,
        )
        return _unavailable(OUTCOME_UNKNOWN_DETAIL)

    async def input_refused(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, InputRefused)
        return problems_response(error.problems)

    app.add_exception_handler(InputRefused, input_refused)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(DomainError, api_error)
    app.add_exception_handler(CaseActionRefused, refused)
    app.add_exception_handler(CaseNotFound, not_found)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OutcomeUnknown, outcome_unknown)
    for infrastructure in INFRASTRUCTURE_ERRORS:
        app.add_exception_handler(infrastructure, unavailable)


class CatchAllMiddleware:
    """Answers 500 with a generic problem for any error no handler knows (and logs it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            code = ErrorCode.INTERNAL_ERROR
            response = problem_response(code.value, MESSAGES[code])
            await response(scope, receive, send)


MAX_JSON_BODY_BYTES = 1024 * 1024
"""Largest request body outside document uploads (which have their own, larger limits)."""


class BodySizeLimit:
    """Refuses (413) a request body above ``max_bytes``, except document uploads.

    Uploads are streamed into storage, which meters them against the document limits; any other
    body is read whole by the framework, so a hostile one is cut off here.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, form_prefixes: tuple[str, ...] = (), form_bytes: int = 0
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.form_prefixes = form_prefixes
        """Paths of the web pages' upload forms (multipart, several files): ``form_bytes``."""
        self.form_bytes = form_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            scope["method"] == "POST" and str(scope["path"]).endswith("/documents")
        ):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if scope["method"] == "POST" and str(scope["path"]).startswith(self.form_prefixes):
            limit = max(limit, self.form_bytes)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def metered_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, metered_receive, send)
        except _BodyTooLarge:
            await self._too_large(scope, receive, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            ErrorCode.INVALID_INPUT.value,
            "Le corps de la requête est trop volumineux.",
            status=413,
        )
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemPublic, "description": TITLES[status]}
    for status in (401, 403, 404, 409, 422, 503)
}
"""The error answers every authenticated route may give, for the OpenAPI documentation."""


class InputRefused(Exception):
    """An input failed the domain's contract: every problem, reported as one 422."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(problems[0].code)
