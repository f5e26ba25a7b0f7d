"""The pages of prefecture staff and CNCCFP reviewers: their cases, one case, its actions, the
exports and the statistics.

Every page goes through what the JSON routes run: the list and the exports through
``api.exports.case_rows`` (the scoped visibility query of ``GET /cases`` and each case's view),
a case through ``api.routes.cases.read_case``, an action through
``api.routes.actions.perform_action`` (the action's own route: gateway, scope, stage table,
documents, audit), a document through ``store_document`` / ``download_document``, a message
through ``post_message``. A form is a plain HTML form (no JavaScript needed) with its CSRF token.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from api import audit
from api.deps import Allow, CurrentUser, Services
from api.errors import ApiError
from api.exports import FLAG_LABELS, CaseFilters, CaseRow, Flag, case_rows
from api.gateway import CaseGateway, build_input
from api.routes import cases as case_routes
from api.routes.actions import perform_action
from api.routes.auth import list_elections
from api.routes.exports import export_cases
from api.schemas import (
    CasePublic,
    ClosingBody,
    DecisionBody,
    EvaluationBody,
    LateWindowBody,
    LineVerdictBody,
    ManualVerificationBody,
    MessageCreate,
    ObservationsBody,
    PaymentBody,
    ReevaluationBody,
    RoundsAttendedBody,
)
from api.statistics import bar_chart, compute
from api.web import routes_public
from api.web.problems import field_errors, problem_of
from api.web.routing import PageRoute
from api.web.session import checked_form, finish_response, require_user, services_of
from api.web.templating import EXTRA_NAVIGATION, Crumb, PageContext, render
from domain.calendar import PARIS
from domain.documents import DocumentKind
from domain.errors import ErrorCode
from domain.identifiers import is_opaque_id, is_valid_departement
from domain.stages import STAGE_LABELS, Action, Role, Stage

router = APIRouter(route_class=PageRoute, include_in_schema=False)

STAFF_HOME = "/agents/dossiers"
_STAFF = Allow(Role.PREFECTURE, Role.CNCCFP)
_CNCCFP = Allow(Role.CNCCFP)

routes_public.HOME_BY_ROLE.update({Role.PREFECTURE: STAFF_HOME, Role.CNCCFP: STAFF_HOME})
EXTRA_NAVIGATION.extend(
    [
        (frozenset({Role.PREFECTURE, Role.CNCCFP}), "Dossiers", STAFF_HOME),
        (frozenset({Role.PREFECTURE, Role.CNCCFP}), "Statistiques", "/agents/statistiques"),
    ]
)


async def staff_user(request: Request) -> CurrentUser:
    """The signed-in prefecture agent or CNCCFP reviewer (403 for anyone else)."""
    return await _STAFF(await require_user(request))


# --- Filters -------------------------------------------------------------------------------------


def filters_of(params: Any) -> CaseFilters:
    """The list's filters from its query string (the GET form), checked like the JSON route's."""

    def text(name: str) -> str | None:
        value = str(params.get(name) or "").strip()
        return value or None

    election_id, departement = text("election_id"), text("departement")
    if election_id is not None and not is_opaque_id(election_id):
        raise ApiError(ErrorCode.INVALID_IDENTIFIER, field="election_id")
    if departement is not None and not is_valid_departement(departement):
        raise ApiError(ErrorCode.INVALID_DEPARTEMENT, field="departement")
    stage_text = text("stage")
    if stage_text is not None and stage_text not in Stage.__members__.values():
        raise ApiError(ErrorCode.INVALID_INPUT, field="stage", message="Étape inconnue.")
    due_text = text("decision_due_before")
    try:
        due = dt.date.fromisoformat(due_text) if due_text else None
    except ValueError:
        raise ApiError(
            ErrorCode.INVALID_INPUT,
            field="decision_due_before",
            message="Indiquez une date au format AAAA-MM-JJ.",
        ) from None
    flags = set()
    for value in params.getlist("flag") if hasattr(params, "getlist") else []:
        if value not in Flag.__members__.values():
            raise ApiError(ErrorCode.INVALID_INPUT, field="flag", message="Signalement inconnu.")
        flags.add(Flag(value))
    return CaseFilters(
        election_id=election_id,
        departement=departement,
        stage=Stage(stage_text) if stage_text else None,
        decision_due_before=due,
        flags=frozenset(flags),
    )


def query_of(filters: CaseFilters) -> str:
    """The query string that gives ``filters`` back (export links keep the list's filters)."""
    pairs: list[tuple[str, str]] = []
    if filters.election_id:
        pairs.append(("election_id", filters.election_id))
    if filters.departement:
        pairs.append(("departement", filters.departement))
    if filters.stage:
        pairs.append(("stage", filters.stage.value))
    if filters.decision_due_before:
        pairs.append(("decision_due_before", filters.decision_due_before.isoformat()))
    pairs += [("flag", flag.value) for flag in Flag if flag in filters.flags]
    return urllib.parse.urlencode(pairs)


def overdue_first(rows: list[CaseRow]) -> list[CaseRow]:
    """What is late first, then by next deadline (open cases), closed cases last."""
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(
        rows,
        key=lambda row: (
            Flag.OVERDUE not in row.flags,
            row.stage.is_terminal,
            row.next_deadline or far,
            row.case_id,
        ),
    )


async def _filter_options(services: Services) -> dict[str, Any]:
    elections = await list_elections(services)
    return {
        "election_options": [(item.election_id, item.label) for item in elections],
        "stage_options": [(stage.value, STAGE_LABELS[stage]) for stage in Stage],
        "flag_options": [(flag.value, FLAG_LABELS[flag]) for flag in Flag],
    }


# --- The list, the exports, the statistics -------------------------------------------------------


@router.get("/agents/dossiers")
async def staff_cases(request: Request) -> HTMLResponse:
    user = await staff_user(request)
    services = services_of(request)
    problem = None
    rows: list[CaseRow] = []
    try:
        filters = filters_of(request.query_params)
        rows = overdue_first(await case_rows(services, user, filters))
    except ApiError as error:
        problem = problem_of(error)
        filters = CaseFilters()
    return await render(
        request,
        "staff_cases.html",
        PageContext(title="Dossiers", crumbs=[Crumb("Dossiers")]),
        status=problem.status if problem else 200,
        done=DONE.get(request.query_params.get("fait", "")),
        done_case=str(request.query_params.get("dossier", ""))[:140],
        rows=rows,
        filters=filters,
        query=query_of(filters),
        problem=problem,
        errors=field_errors(problem),
        reviewer=user.role == Role.CNCCFP,
        now=dt.datetime.now(dt.UTC),
        **await _filter_options(services),
    )


@router.get("/agents/exports/dossiers.csv")
async def staff_export_csv(request: Request) -> Response:
    user = await staff_user(request)
    return await export_cases(services_of(request), user, filters_of(request.query_params), "csv")


@router.get("/agents/exports/dossiers.xlsx")
async def staff_export_xlsx(request: Request) -> Response:
    user = await staff_user(request)
    return await export_cases(services_of(request), user, filters_of(request.query_params), "xlsx")


@router.get("/agents/statistiques")
async def staff_statistics(request: Request) -> HTMLResponse:
    user = await staff_user(request)
    services = services_of(request)
    filters = filters_of(request.query_params)
    now = dt.datetime.now(dt.UTC)
    figures = compute(await case_rows(services, user, filters, now), now)
    charts = {
        "stages": bar_chart("graphique-etapes", "Dossiers par étape", figures.stage_bars()),
        "departements": bar_chart(
            "graphique-departements", "Dossiers par département", figures.departement_bars()
        ),
        "amounts": bar_chart(
            "graphique-montants", "Montants demandés, arrêtés et payés", figures.amount_bars()
        ),
    }
    return await render(
        request,
        "staff_statistics.html",
        PageContext(title="Statistiques", crumbs=[Crumb("Statistiques")]),
        figures=figures,
        charts=charts,
        filters=filters,
        reviewer=user.role == Role.CNCCFP,
        month=now.astimezone(PARIS),
        **await _filter_options(services),
    )


# --- One case ------------------------------------------------------------------------------------


DONE = {
    "evaluation": "La décision d’évaluation est enregistrée.",
    "paiement": "Le paiement est enregistré : le dossier est clos.",
    "reevaluation": "La réévaluation de la menace est enregistrée : le plafond suit son niveau.",
    "tours": "Le dernier tour de présence du candidat est corrigé.",
    "espace": "L’espace de dépôt est ouvert ; le candidat en est informé.",
    "observations": "Les observations sont adressées au candidat.",
    "verdict": "La décision sur la ligne est enregistrée.",
    "verification": "La vérification est enregistrée.",
    "decision": "Le montant est arrêté ; le candidat en est informé.",
    "delai-tardif": "Le nouveau délai de dépôt est ouvert.",
    "cloture": "Le dossier est clos.",
    "message": "Votre message est envoyé.",
}


async def _case_page(
    request: Request,
    user: CurrentUser,
    case_id: str,
    *,
    status: int = 200,
    step: str | None = None,
    problem: Any = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    services = services_of(request)
    case = await case_routes.read_case(case_id, services, user)
    documents = await case_routes.list_documents(case_id, services, user)
    messages = (
        await case_routes.list_messages(case_id, services, user) if user.role == Role.CNCCFP else []
    )
    actions = {item.action.value for item in case.available_actions}
    done = DONE.get(request.query_params.get("fait", ""))
    return await render(
        request,
        "staff_case.html",
        PageContext(
            title=f"Dossier {case.case_id}",
            crumbs=[Crumb("Dossiers", STAFF_HOME), Crumb(f"Dossier {case.case_id}")],
        ),
        status=status,
        case=case,
        documents=documents,
        messages=messages,
        actions=actions,
        reviewer=user.role == Role.CNCCFP,
        step=step,
        problem=problem,
        errors=field_errors(problem) if problem else {},
        values=values or {},
        done=done,
        verdicts={verdict.line_id: verdict for verdict in case.line_verdicts},
        checks={check.line_id: check for check in case.line_checks},
        duplicates={item.line_id: item.other_case_ids for item in case.duplicate_invoices},
        today=dt.datetime.now(PARIS).date().isoformat(),
        document_kinds={kind.value: kind.label for kind in DocumentKind},
        stage_labels=STAGE_LABELS,
    )


@router.get("/agents/dossiers/{case_id}")
async def staff_case(request: Request, case_id: str) -> HTMLResponse:
    user = await staff_user(request)
    return await _case_page(request, user, case_id)


@router.get("/agents/dossiers/{case_id}/pieces/{document_id}")
async def staff_document(request: Request, case_id: str, document_id: str) -> Response:
    user = await staff_user(request)
    return await case_routes.download_document(case_id, document_id, services_of(request), user)


_AMOUNT = re.compile(r"^(\d{1,9})(?:[,.](\d{1,2}))?$")


def cents_of(value: object, field: str) -> int:
    """Euros as a person types them (« 8 400,50 », « 8400.5 ») in cents."""
    text = re.sub(r"[\s\u00a0\u202f€]", "", str(value or ""))
    found = _AMOUNT.match(text)
    if not found:
        raise ApiError(
            ErrorCode.INVALID_AMOUNT,
            field=field,
            message="Indiquez un montant en euros, par exemple 8400 ou 8400,50.",
        )
    whole, part = found.group(1), (found.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(part or "0")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _optional(form: FormData, name: str) -> str | None:
    return _text(form, name).strip() or None


def _yes(form: FormData, name: str) -> bool | None:
    value = _text(form, name)
    return {"oui": True, "non": False}.get(value)


def _paris_moment(value: str, field: str) -> dt.datetime:
    """A ``datetime-local`` field, read in Paris time."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(
            ErrorCode.INVALID_INPUT, field=field, message="Indiquez une date et une heure."
        ) from None
    return moment.replace(tzinfo=PARIS) if moment.tzinfo is None else moment


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(64 * 1024):
        yield chunk


@dataclass(frozen=True)
class Step:
    """A form of the case page: the action it sends and how its body is read from the form."""

    action: Action | None
    body: Callable[[Request, CurrentUser, str, FormData], Awaitable[BaseModel]]
    line_field: str | None = None
    """The form field that names the expense line the action is on (verdicts)."""


async def _with_decision(
    request: Request,
    user: CurrentUser,
    case_id: str,
    form: FormData,
    model: type[BaseModel],
    fields: dict[str, Any],
) -> Any:
    """The body of a prefect's decision: its fields checked first (nothing is stored for a form
    that cannot be right), then the signed decision stored and named in ``decision_document``."""
    upload = form.get("decision_file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ApiError(
            ErrorCode.DOCUMENT_NOT_FOUND,
            field="decision_document",
            message="Joignez la décision signée du préfet.",
        )
    build_input(lambda: model.model_validate({**fields, "decision_document": "pending"}))
    info = await case_routes.store_document(
        services_of(request),
        user,
        case_id,
        DocumentKind.EVALUATION_DECISION,
        upload.filename[:255],
        _chunks(upload),
    )
    return build_input(
        lambda: model.model_validate({**fields, "decision_document": info.document_id})
    )


def _level(form: FormData) -> int | None:
    level = _optional(form, "level")
    return int(level) if level and level.isdigit() else None


async def _evaluation(request: Request, user: CurrentUser, case_id: str, form: FormData) -> Any:
    recognised = _yes(form, "recognised")
    fields = {
        "recognised": recognised,
        "level": _level(form) if recognised else None,
        "decided_on": _optional(form, "decided_on"),
        "candidacy_declared_on": _optional(form, "candidacy_declared_on"),
    }
    return await _with_decision(request, user, case_id, form, EvaluationBody, fields)


async def _reevaluation(request: Request, user: CurrentUser, case_id: str, form: FormData) -> Any:
    fields = {
        "level": _level(form),
        "decided_on": _optional(form, "decided_on"),
        "reason": _text(form, "reason"),
    }
    return await _with_decision(request, user, case_id, form, ReevaluationBody, fields)


def _simple(model: type[BaseModel], read: Callable[[FormData], dict[str, Any]]) -> Any:
    async def body(request: Request, user: CurrentUser, case_id: str, form: FormData) -> Any:
        values = read(form)
        return build_input(lambda: model.model_validate(values))

    return body


class _NoBody(BaseModel):
    """The form of an action that carries no data (its CSRF token only)."""


STEPS: dict[str, Step] = {
    "evaluation": Step(Action.RECORD_EVALUATION, _evaluation),
    "reevaluation": Step(Action.REEVALUATE_THREAT, _reevaluation),
    "tours": Step(
        Action.CORRECT_ROUNDS_ATTENDED,
        _simple(
            RoundsAttendedBody,
            lambda form: {
                "rounds_attended": int(rounds)
                if (rounds := _text(form, "rounds_attended")).isdigit()
                else None,
                "reason": _text(form, "reason"),
            },
        ),
    ),
    "paiement": Step(
        Action.RECORD_PAYMENT,
        _simple(
            PaymentBody,
            lambda form: {
                "amount_cents": cents_of(_text(form, "amount_cents"), "amount_cents"),
                "paid_on": _optional(form, "paid_on"),
                "reference": _text(form, "reference"),
            },
        ),
    ),
    "espace": Step(Action.OPEN_SPACE, _simple(_NoBody, lambda form: {})),
    "observations": Step(
        Action.SEND_OBSERVATIONS,
        _simple(
            ObservationsBody,
            lambda form: {
                "observations": _text(form, "observations"),
                "contested_line_ids": [
                    value for value in form.getlist("contested_line_ids") if isinstance(value, str)
                ],
            },
        ),
    ),
    "verdict": Step(
        Action.RECORD_LINE_VERDICT,
        _simple(
            LineVerdictBody,
            lambda form: {
                "accepted_cents": cents_of(_text(form, "accepted_cents"), "accepted_cents"),
                "reason": _optional(form, "reason"),
            },
        ),
        line_field="line_id",
    ),
    "verification": Step(
        Action.RECORD_MANUAL_VERIFICATION,
        _simple(
            ManualVerificationBody,
            lambda form: {
                "line_id": _text(form, "line_id"),
                "valid": _yes(form, "valid"),
                "note": _text(form, "note"),
            },
        ),
    ),
    "decision": Step(
        Action.DECIDE,
        _simple(
            DecisionBody,
            lambda form: {
                "amount_cents": cents_of(_text(form, "amount_cents"), "amount_cents"),
                "reasons": _optional(form, "reasons"),
            },
        ),
    ),
    "delai-tardif": Step(
        Action.OPEN_LATE_WINDOW,
        _simple(
            LateWindowBody,
            lambda form: {
                "deposit_deadline": _paris_moment(
                    _text(form, "deposit_deadline"), "deposit_deadline"
                ),
                "reason": _text(form, "reason"),
            },
        ),
    ),
    "cloture": Step(
        Action.CLOSE_CASE, _simple(ClosingBody, lambda form: {"reason": _text(form, "reason")})
    ),
    "message": Step(None, _simple(MessageCreate, lambda form: {"body": _text(form, "body")})),
}


@router.post("/agents/dossiers/{case_id}/{step_name}")
async def staff_case_action(request: Request, case_id: str, step_name: str) -> Response:
    user = await staff_user(request)
    step = STEPS.get(step_name)
    if step is None:
        raise ApiError(ErrorCode.CASE_NOT_FOUND)
    services = services_of(request)
    limit = services.settings.max_document_bytes
    form = await checked_form(request, max_files=1, max_fields=100, max_part_size=limit)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    values.pop("csrf_token", None)
    try:
        return await _act(request, user, case_id, step_name, step, form, values)
    finally:
        await form.close()


async def _act(
    request: Request,
    user: CurrentUser,
    case_id: str,
    step_name: str,
    step: Step,
    form: FormData,
    values: dict[str, str],
) -> Response:
    services = services_of(request)
    try:
        body = await step.body(request, user, case_id, form)
        if step.action is None:
            await case_routes.post_message(
                case_id, MessageCreate.model_validate(body), services, await _CNCCFP(user)
            )
        else:
            line_id = _text(form, step.line_field) if step.line_field else ""
            data = None if step.action == Action.OPEN_SPACE else body
            case: CasePublic = await perform_action(
                services, user, case_id, step.action, data, line_id=line_id
            )
            case_id = case.case_id
    except Exception as error:
        problem = problem_of(error)
        if problem is None or problem.code == ErrorCode.CASE_NOT_FOUND.value:
            raise
        return await _case_page(
            request,
            user,
            case_id,
            status=problem.status,
            step=step_name,
            problem=problem,
            values=values,
        )
    target = f"/agents/dossiers/{urllib.parse.quote(case_id)}?fait={step_name}#resultat"
    if not await _still_visible(services, user, case_id):
        # A reviewer's scope follows the case (rule 9): a case closed, or sent back to the
        # prefect, before any recognition of the threat leaves their list. Say it was done.
        query = urllib.parse.urlencode({"fait": step_name, "dossier": case_id})
        target = f"{STAFF_HOME}?{query}"
    return finish_response(request, RedirectResponse(target, status_code=303))


async def _still_visible(services: Services, user: CurrentUser, case_id: str) -> bool:
    """Whether ``user`` may still open the case after their action (only a reviewer's scope
    depends on the case's state; a prefecture's is the département)."""
    if user.role != Role.CNCCFP:
        return True
    try:
        await CaseGateway(services).ensure_visible(user, case_id)
    except ApiError as error:
        if error.code != ErrorCode.CASE_NOT_FOUND:
            raise
        return False
    return True


# --- A token for scripts -------------------------------------------------------------------------

_ANY_STAFF = Allow(Role.PREFECTURE, Role.CNCCFP, Role.ADMIN, Role.OPERATOR)
TOKEN_PAGE = "/agents/jeton"
routes_public.HOME_BY_ROLE.setdefault(Role.OPERATOR, TOKEN_PAGE)
EXTRA_NAVIGATION.append(
    (
        frozenset({Role.PREFECTURE, Role.CNCCFP, Role.ADMIN, Role.OPERATOR}),
        "Jeton d’API",
        TOKEN_PAGE,
    )
)


@router.get(TOKEN_PAGE)
async def api_token_page(request: Request) -> HTMLResponse:
    await _ANY_STAFF(await require_user(request))
    return await render(
        request,
        "staff_token.html",
        PageContext(title="Jeton d’API", crumbs=[Crumb("Jeton d’API")]),
        token=None,
        hours=services_of(request).settings.session_ttl_hours,
    )


@router.post(TOKEN_PAGE)
async def api_token_issue(request: Request) -> HTMLResponse:
    """A new session for scripts (``Authorization: Bearer``), shown once; the page session
    stays as it is. Audited as ``issue_api_token``."""
    user = await _ANY_STAFF(await require_user(request))
    await checked_form(request)
    services = services_of(request)
    hours = services.settings.session_ttl_hours
    token = await services.accounts.open_session(user.account.account_id, dt.timedelta(hours=hours))
    await audit.record(services.engine, user.actor, "issue_api_token", audit.OK)
    return await render(
        request,
        "staff_token.html",
        PageContext(title="Jeton d’API", crumbs=[Crumb("Jeton d’API")]),
        status=201,
        token=token,
        hours=hours,
    )
