"""The pages of the élus' side (``/espace-elus``): officials, collectivité staff, prefecture
staff and candidates, each on the procedures of their scope.

Every page goes through what the JSON routes run (``api.elus_gateway.ElusGateway`` for lists,
reads and starts, ``api.routes.elus.perform_elus_action`` for each action: scope, stage table,
audit). A form is a plain HTML form with its CSRF token; a refusal shows the JSON API's French
detail beside its field.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy import select
from starlette.responses import Response

from api.deps import Allow, CurrentUser
from api.elus_gateway import ELUS_ROLES, ElusGateway, view
from api.elus_schemas import (
    AlertButtonCreate,
    ConveningRequestBody,
    CouncilConvenedBody,
    DeliberationBody,
    EmptyBody,
    HandoverBody,
    ObligationBody,
    ProtectionRequestCreate,
    RenewalBody,
    ReturnBody,
    StateProtectionCreate,
    StateProtectionDecisionBody,
)
from api.errors import ApiError
from api.gateway import build_input
from api.routes.elus import ELUS_ACTION_ROUTES, perform_elus_action
from api.web import routes_public
from api.web.problems import field_errors, problem_of
from api.web.routing import PageRoute
from api.web.session import checked_form, finish_response, require_user, services_of
from api.web.templating import EXTRA_NAVIGATION, Crumb, PageContext, render
from core.db import elections
from core.elus import list_collectivites
from domain.calendar import PARIS
from domain.elus import ELUS_RULES, ElusAction
from domain.errors import ErrorCode
from domain.stages import Role

router = APIRouter(route_class=PageRoute, include_in_schema=False)

HOME = "/espace-elus"
_ELUS = Allow(*ELUS_ROLES)

routes_public.HOME_BY_ROLE.update({Role.ELU: HOME, Role.COLLECTIVITE: HOME})
EXTRA_NAVIGATION.extend(
    [
        (frozenset({Role.ELU, Role.COLLECTIVITE}), "Protection des élus", HOME),
        (frozenset({Role.PREFECTURE}), "Élus", HOME),
        (frozenset({Role.CANDIDATE}), "Protection de l'État", HOME),
    ]
)

START_FORMS: dict[str, tuple[type[BaseModel], frozenset[Role]]] = {
    "protection": (ProtectionRequestCreate, frozenset({Role.ELU, Role.COLLECTIVITE})),
    "bouton": (AlertButtonCreate, frozenset({Role.PREFECTURE})),
    "protection-candidat": (StateProtectionCreate, frozenset({Role.CANDIDATE})),
}
"""The start forms of the home page: their body and who sees them."""

DONE = {
    "depot": "Votre demande est enregistrée ; un accusé de réception est envoyé par courriel.",
    **{route.segment: "C'est enregistré." for route in ELUS_ACTION_ROUTES.values()},
}

_BODIES: dict[ElusAction, type[BaseModel]] = {
    ElusAction.RECORD_TRANSMISSION: ObligationBody,
    ElusAction.RECORD_COUNCIL_INFORMATION: ObligationBody,
    ElusAction.RECORD_DELIBERATION: DeliberationBody,
    ElusAction.RECORD_CONVENING_REQUEST: ConveningRequestBody,
    ElusAction.RECORD_COUNCIL_CONVENED: CouncilConvenedBody,
    ElusAction.RECORD_HANDOVER: HandoverBody,
    ElusAction.RENEW_LOAN: RenewalBody,
    ElusAction.RECORD_RETURN: ReturnBody,
    ElusAction.DECIDE_STATE_PROTECTION: StateProtectionDecisionBody,
    ElusAction.WITHDRAW_STATE_PROTECTION_REQUEST: EmptyBody,
}


async def elus_user(request: Request) -> CurrentUser:
    return await _ELUS(await require_user(request))


def _values(form: Any) -> dict[str, str]:
    values = {key: value.strip() for key, value in form.items() if isinstance(value, str)}
    values.pop("csrf_token", None)
    return values


def _body(model: type[BaseModel], values: dict[str, str]) -> Any:
    """The body model from a form's text fields (empty fields are absent)."""
    data: dict[str, Any] = {key: value for key, value in values.items() if value}
    if "granted" in data:
        data["granted"] = data["granted"] == "oui"
    return build_input(lambda: model.model_validate(data))


async def _home_context(request: Request, user: CurrentUser) -> dict[str, Any]:
    services = services_of(request)
    context: dict[str, Any] = {
        "today": dt.datetime.now(PARIS).date().isoformat(),
        "forms": [name for name, (_, roles) in START_FORMS.items() if user.role in roles],
        "role": user.role.value,
    }
    if user.role in (Role.ELU, Role.COLLECTIVITE):
        collectivites = await list_collectivites(services.engine)
        if user.role == Role.COLLECTIVITE:
            mine = set((await ElusGateway(services).actor(user)).collectivites)
            collectivites = [item for item in collectivites if item.collectivite_id in mine]
        context["collectivite_options"] = [
            (item.collectivite_id, f"{item.name} ({item.departement})") for item in collectivites
        ]
    if user.role == Role.CANDIDATE:
        async with services.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(elections.c.election_id, elections.c.label).order_by(
                        elections.c.first_round.desc()
                    )
                )
            ).all()
        context["election_options"] = [(row.election_id, row.label) for row in rows]
    if user.role == Role.PREFECTURE:
        context["departement_options"] = [(code, code) for code in user.actor.departements]
    return context


async def _home(
    request: Request,
    user: CurrentUser,
    *,
    status: int = 200,
    form_name: str | None = None,
    problem: Any = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    services = services_of(request)
    procedures = await ElusGateway(services).list(user)
    return await render(
        request,
        "elus_home.html",
        PageContext(title="Protection des élus", crumbs=[Crumb("Protection des élus")]),
        status=status,
        procedures=procedures,
        form_name=form_name,
        problem=problem,
        errors=field_errors(problem),
        values=values or {},
        **await _home_context(request, user),
    )


@router.get(HOME)
async def elus_home(request: Request) -> HTMLResponse:
    return await _home(request, await elus_user(request))


@router.post(HOME + "/nouvelle/{form_name}")
async def elus_start(request: Request, form_name: str) -> Response:
    user = await elus_user(request)
    start = START_FORMS.get(form_name)
    if start is None or user.role not in start[1]:
        raise ApiError(ErrorCode.FORBIDDEN_ROLE)
    form = await checked_form(request, max_files=0, max_fields=30)
    values = _values(form)
    gateway = ElusGateway(services_of(request))
    try:
        body = _body(start[0], values)
        if isinstance(body, ProtectionRequestCreate):
            created = await gateway.file_protection(user, body, None)
        elif isinstance(body, AlertButtonCreate):
            created = await gateway.decide_alert_button(user, body, None)
        else:
            created = await gateway.request_state_protection(user, body, None)
    except Exception as error:
        problem = problem_of(error)
        if problem is None:
            raise
        return await _home(
            request,
            user,
            status=problem.status,
            form_name=form_name,
            problem=problem,
            values=values,
        )
    target = f"{HOME}/{urllib.parse.quote(created.procedure_id)}?fait=depot#resultat"
    return finish_response(request, RedirectResponse(target, status_code=303))


async def _procedure_page(
    request: Request,
    user: CurrentUser,
    procedure_id: str,
    *,
    status: int = 200,
    step: str | None = None,
    problem: Any = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    actor, state = await ElusGateway(services_of(request)).read(user, procedure_id)
    procedure = view(actor, state)
    done = DONE.get(request.query_params.get("fait", "")) if problem is None else None
    return await render(
        request,
        "elus_procedure.html",
        PageContext(
            title=f"Procédure {procedure.procedure_id}",
            crumbs=[Crumb("Protection des élus", HOME), Crumb(procedure.procedure_id)],
        ),
        status=status,
        procedure=procedure,
        segments={action: route.segment for action, route in ELUS_ACTION_ROUTES.items()},
        today=dt.datetime.now(PARIS).date().isoformat(),
        done=done,
        step=step,
        problem=problem,
        errors=field_errors(problem),
        values=values or {},
    )


@router.get(HOME + "/{procedure_id}")
async def elus_procedure(request: Request, procedure_id: str) -> HTMLResponse:
    return await _procedure_page(request, await elus_user(request), procedure_id)


@router.post(HOME + "/{procedure_id}/{segment}")
async def elus_action(request: Request, procedure_id: str, segment: str) -> Response:
    user = await elus_user(request)
    action = next(
        (action for action, route in ELUS_ACTION_ROUTES.items() if route.segment == segment),
        None,
    )
    if action is None:
        raise ApiError(ErrorCode.CASE_NOT_FOUND)
    await Allow(*ELUS_RULES[action].roles)(user)  # 403 for a role the action is not for
    form = await checked_form(request, max_files=0, max_fields=30)
    values = _values(form)
    services = services_of(request)
    try:
        body = _body(_BODIES[action], values)
        await perform_elus_action(services, user, procedure_id, action, body)
    except Exception as error:
        problem = problem_of(error)
        if problem is None or problem.code == ErrorCode.CASE_NOT_FOUND.value:
            raise
        return await _procedure_page(
            request,
            user,
            procedure_id,
            status=problem.status,
            step=segment,
            problem=problem,
            values=values,
        )
    target = f"{HOME}/{urllib.parse.quote(procedure_id)}?fait={segment}#resultat"
    return finish_response(request, RedirectResponse(target, status_code=303))
