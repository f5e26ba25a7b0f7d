"""The admin's pages: staff accounts, prefecture addresses, elections, the audit log.

Each page calls the JSON route of ``api.routes.admin`` (or ``list_elections``) with the signed-in
admin: the same checks, the same audit rows. Forms work without JavaScript and carry their CSRF
token.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData
from starlette.responses import Response

from api.deps import Allow, CurrentUser
from api.errors import ApiError
from api.gateway import build_input
from api.routes import admin
from api.routes.auth import list_elections
from api.schemas import ElectionCreate, PrefectureUpdate, StaffAccountCreate
from api.web import routes_public
from api.web.problems import field_errors, problem_of
from api.web.routing import PageRoute
from api.web.session import checked_form, finish_response, require_user, services_of
from api.web.templating import EXTRA_NAVIGATION, Crumb, PageContext, render
from domain.elections import LABELS, ElectionType, is_covered
from domain.errors import ErrorCode
from domain.stages import Role

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ADMIN_HOME = "/administration"
_ADMIN = Allow(Role.ADMIN)
routes_public.HOME_BY_ROLE[Role.ADMIN] = ADMIN_HOME
EXTRA_NAVIGATION.append((frozenset({Role.ADMIN}), "Administration", ADMIN_HOME))

ROLE_LABELS = {
    Role.PREFECTURE: "Agent de préfecture",
    Role.CNCCFP: "Rapporteur de la CNCCFP",
    Role.ADMIN: "Administrateur",
    Role.OPERATOR: "Exploitant",
    Role.CANDIDATE: "Candidat",
    Role.THIRD_PARTY: "Tiers mandaté",
    Role.SYSTEM: "Sécu'Pol",
}
STAFF_ROLE_ORDER = (Role.PREFECTURE, Role.CNCCFP, Role.ADMIN, Role.OPERATOR)
SECTIONS = [
    ("Comptes d’agents", f"{ADMIN_HOME}/comptes"),
    ("Préfectures", f"{ADMIN_HOME}/prefectures"),
    ("Élections", f"{ADMIN_HOME}/elections"),
    ("Journal d’audit", f"{ADMIN_HOME}/journal"),
]


async def admin_user(request: Request) -> CurrentUser:
    return await _ADMIN(await require_user(request))


def _page(title: str) -> PageContext:
    return PageContext(title=title, crumbs=[Crumb("Administration", ADMIN_HOME), Crumb(title)])


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _done(request: Request) -> Response:
    return finish_response(request, RedirectResponse(f"{request.url.path}?fait=1", status_code=303))


@router.get(ADMIN_HOME)
async def admin_home(request: Request) -> HTMLResponse:
    await admin_user(request)
    return await render(
        request,
        "admin_home.html",
        PageContext(title="Administration", crumbs=[Crumb("Administration")]),
        sections=SECTIONS,
    )


# --- Staff accounts ------------------------------------------------------------------------------


async def _accounts_page(
    request: Request,
    user: CurrentUser,
    *,
    status: int = 200,
    problem: Any = None,
    values: dict[str, str] | None = None,
    created: Any = None,
) -> HTMLResponse:
    services = services_of(request)
    return await render(
        request,
        "admin_accounts.html",
        _page("Comptes d’agents"),
        status=status,
        accounts=await admin.list_staff_accounts(services, user),
        role_labels=ROLE_LABELS,
        role_options=[(role.value, ROLE_LABELS[role]) for role in STAFF_ROLE_ORDER],
        problem=problem,
        errors=field_errors(problem),
        values=values or {},
        created=created,
        done=request.query_params.get("fait") == "1",
    )


@router.get(f"{ADMIN_HOME}/comptes")
async def admin_accounts(request: Request) -> HTMLResponse:
    return await _accounts_page(request, await admin_user(request))


@router.post(f"{ADMIN_HOME}/comptes")
async def admin_accounts_create(request: Request) -> Response:
    user = await admin_user(request)
    form = await checked_form(request)
    values = {key: _text(form, key) for key in ("email", "display_name", "role", "departements")}
    departements = [part.strip() for part in values["departements"].split(",") if part.strip()]
    try:
        body = build_input(
            lambda: StaffAccountCreate.model_validate(
                {
                    "email": values["email"],
                    "display_name": values["display_name"],
                    "role": values["role"] or None,
                    "departements": departements,
                }
            )
        )
        created = await admin.create_staff_account(body, services_of(request), user)
    except Exception as error:
        problem = problem_of(error)
        if problem is None:
            raise
        return await _accounts_page(
            request, user, status=problem.status, problem=problem, values=values
        )
    # The token is shown once, on this answer, as the JSON route returns it once.
    return await _accounts_page(request, user, status=201, created=created)


@router.post(f"{ADMIN_HOME}/comptes/{{account_id}}/desactivation")
async def admin_account_disable(request: Request, account_id: str) -> Response:
    user = await admin_user(request)
    await checked_form(request)
    await admin.disable_account(account_id, services_of(request), user)
    return finish_response(
        request, RedirectResponse(f"{ADMIN_HOME}/comptes?fait=1", status_code=303)
    )


# --- Prefectures ---------------------------------------------------------------------------------


async def _prefectures_page(
    request: Request,
    user: CurrentUser,
    *,
    status: int = 200,
    problem: Any = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    return await render(
        request,
        "admin_prefectures.html",
        _page("Préfectures"),
        status=status,
        prefectures=await admin.list_prefectures(services_of(request), user),
        problem=problem,
        errors=field_errors(problem),
        values=values or {},
        done=request.query_params.get("fait") == "1",
    )


@router.get(f"{ADMIN_HOME}/prefectures")
async def admin_prefectures(request: Request) -> HTMLResponse:
    return await _prefectures_page(request, await admin_user(request))


@router.post(f"{ADMIN_HOME}/prefectures")
async def admin_prefectures_set(request: Request) -> Response:
    user = await admin_user(request)
    form = await checked_form(request)
    values = {key: _text(form, key) for key in ("departement", "email")}
    try:
        if not values["departement"] or len(values["departement"]) > 3:
            raise ApiError(ErrorCode.INVALID_DEPARTEMENT, field="departement")
        body = build_input(lambda: PrefectureUpdate.model_validate({"email": values["email"]}))
        await admin.put_prefecture(values["departement"], body, services_of(request), user)
    except Exception as error:
        problem = problem_of(error)
        if problem is None:
            raise
        return await _prefectures_page(
            request, user, status=problem.status, problem=problem, values=values
        )
    return _done(request)


# --- Elections -----------------------------------------------------------------------------------


async def _elections_page(
    request: Request,
    user: CurrentUser,
    *,
    status: int = 200,
    problem: Any = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    return await render(
        request,
        "admin_elections.html",
        _page("Élections"),
        status=status,
        elections=await list_elections(services_of(request)),
        type_options=[(kind.value, LABELS[kind]) for kind in ElectionType],
        coverage=[(LABELS[kind], is_covered(kind)) for kind in ElectionType],
        type_labels={kind.value: LABELS[kind] for kind in ElectionType},
        problem=problem,
        errors=field_errors(problem),
        values=values or {},
        done=request.query_params.get("fait") == "1",
    )


@router.get(f"{ADMIN_HOME}/elections")
async def admin_elections(request: Request) -> HTMLResponse:
    return await _elections_page(request, await admin_user(request))


@router.post(f"{ADMIN_HOME}/elections")
async def admin_elections_create(request: Request) -> Response:
    user = await admin_user(request)
    form = await checked_form(request)
    keys = ("election_id", "election_type", "label", "first_round", "second_round")
    values = {key: _text(form, key) for key in keys}
    try:
        body = build_input(
            lambda: ElectionCreate.model_validate(
                {key: value or None for key, value in values.items()}
            )
        )
        await admin.create_election(body, services_of(request), user)
    except Exception as error:
        problem = problem_of(error)
        if problem is None:
            raise
        return await _elections_page(
            request, user, status=problem.status, problem=problem, values=values
        )
    return _done(request)


# --- Audit log -----------------------------------------------------------------------------------


@router.get(f"{ADMIN_HOME}/journal")
async def admin_audit(request: Request) -> HTMLResponse:
    user = await admin_user(request)
    params = request.query_params
    values = {key: (params.get(key) or "").strip() for key in ("case_id", "action", "outcome")}
    role_text = (params.get("actor_role") or "").strip()
    problem = None
    entries: list[Any] = []
    try:
        if role_text and role_text not in Role.__members__.values():
            raise ApiError(ErrorCode.INVALID_INPUT, field="actor_role", message="Rôle inconnu.")
        entries = await admin.read_audit(
            services_of(request),
            user,
            case_id=values["case_id"] or None,
            limit=200,
            action=values["action"] or None,
            actor_role=Role(role_text) if role_text else None,
            outcome=values["outcome"] or None,
        )
    except ApiError as error:
        problem = problem_of(error)
    return await render(
        request,
        "admin_audit.html",
        _page("Journal d’audit"),
        status=problem.status if problem else 200,
        entries=entries,
        values={**values, "actor_role": role_text},
        role_options=[(role.value, ROLE_LABELS.get(role, role.value)) for role in Role],
        role_labels={role.value: label for role, label in ROLE_LABELS.items()},
        problem=problem,
        errors=field_errors(problem),
        now=dt.datetime.now(dt.UTC),
    )
