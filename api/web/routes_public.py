"""Pages anyone opens: home, sign-in (the emailed link's landing page too), account, sign-out."""

from __future__ import annotations

import urllib.parse

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from api import audit
from api.gateway import build_input
from api.ratelimit import Bucket, limiter_of
from api.routes import auth
from api.schemas import AccountUpdate, CandidateAccountCreate, SignInLinkCreate
from api.web.problems import problem_of
from api.web.routing import PageRoute
from api.web.session import (
    checked_form,
    clear_session_cookie,
    finish_response,
    page_user,
    require_user,
    services_of,
    set_session_cookie,
)
from api.web.templating import Crumb, PageContext, render
from domain.stages import Role

router = APIRouter(route_class=PageRoute, include_in_schema=False)

HOME_BY_ROLE: dict[Role, str] = {Role.CANDIDATE: "/dossiers", Role.THIRD_PARTY: "/dossiers"}
"""Where a person lands once signed in (staff pages add theirs)."""

DONE_MESSAGES = {
    "deconnexion": "Vous êtes déconnecté(e).",
    "nom": "Votre nom est enregistré.",
}


def _next_path(value: object) -> str:
    """A local path to return to after signing in (never another site)."""
    path = value if isinstance(value, str) else ""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 300:
        return ""
    return path


@router.get("/")
async def home(request: Request) -> HTMLResponse:
    done = DONE_MESSAGES.get(request.query_params.get("fait", ""))
    return await render(
        request, "home.html", PageContext(title="Accueil"), done=done, home_by_role=HOME_BY_ROLE
    )


@router.get("/connexion")
async def sign_in_form(request: Request) -> HTMLResponse:
    return await render(
        request,
        "connexion.html",
        PageContext(title="Se connecter", crumbs=[Crumb("Se connecter")]),
        mode="connexion",
        email="",
        sent=False,
        errors={},
        problem=None,
        suite=_next_path(request.query_params.get("suite")),
    )


@router.get("/creer-un-compte")
async def create_account_form(request: Request) -> HTMLResponse:
    return await render(
        request,
        "connexion.html",
        PageContext(title="Créer un compte", crumbs=[Crumb("Créer un compte")]),
        mode="compte",
        email="",
        sent=False,
        errors={},
        problem=None,
        suite="",
    )


async def _email_form(request: Request, mode: str) -> HTMLResponse:
    """Both email forms: the same limits and the same uniform answer as the JSON routes."""
    form = await checked_form(request)
    email = str(form.get("email", ""))[:254]
    title = "Se connecter" if mode == "connexion" else "Créer un compte"
    services = services_of(request)
    try:
        limiter = limiter_of(request)
        await limiter.hit(Bucket.EMAILS, limiter.client(request))
        if mode == "connexion":
            body = build_input(lambda: SignInLinkCreate(email=email))
            await auth.request_sign_in_link(body, request, services)
        else:
            created = build_input(lambda: CandidateAccountCreate(email=email))
            await auth.create_candidate_account(created, request, services)
    except Exception as error:
        problem = problem_of(error)
        if problem is None:
            raise
        errors = {"email": problem.detail} if problem.status == 422 else {}
        return await render(
            request,
            "connexion.html",
            PageContext(title=title, crumbs=[Crumb(title)]),
            status=problem.status,
            mode=mode,
            email=email,
            sent=False,
            errors=errors,
            problem=problem,
            suite="",
        )
    return await render(
        request,
        "connexion.html",
        PageContext(title=title, crumbs=[Crumb(title)]),
        mode=mode,
        email=email,
        sent=True,
        errors={},
        problem=None,
        suite="",
        sent_text=auth.LINK_SENT,
    )


@router.post("/connexion")
async def sign_in_post(request: Request) -> HTMLResponse:
    return await _email_form(request, "connexion")


@router.post("/creer-un-compte")
async def create_account_post(request: Request) -> HTMLResponse:
    return await _email_form(request, "compte")


@router.post("/connexion/lien")
async def sign_in_with_link(request: Request) -> Response:
    """Spend the emailed link and open a page session (cookie), then go to "Mes dossiers"."""
    form = await checked_form(request)
    token = str(form.get("token", ""))[:200]
    services = services_of(request)
    limiter = limiter_of(request)
    try:
        await limiter.hit(Bucket.SIGN_IN_FORM, limiter.client(request))
        session = await services.accounts.exchange_sign_in_link(token)
        account, actor = await services.accounts.authenticate(session)
    except Exception as error:
        problem = problem_of(error)
        if problem is None:
            raise
        refusal = await render(
            request,
            "sign_in_link.html",
            PageContext(title="Connexion", crumbs=[Crumb("Connexion")], scripts=False),
            status=problem.status,
            token="",
            problem=problem,
        )
        refusal.headers.update(getattr(error, "headers", None) or {})
        return refusal
    await audit.record(services.engine, actor, "sign_in", audit.OK)
    target = _next_path(form.get("suite")) or HOME_BY_ROLE.get(account.role, "/")
    if not account.name_confirmed and account.role in (Role.CANDIDATE, Role.THIRD_PARTY):
        target = "/compte?" + urllib.parse.urlencode({"suite": target})
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, session)
    finish_response(request, response)
    return response


@router.post("/deconnexion")
async def sign_out(request: Request) -> Response:
    await checked_form(request)
    user = await page_user(request)
    if user is not None:
        await services_of(request).accounts.revoke_session(user.token)
    response = RedirectResponse("/?fait=deconnexion", status_code=303)
    clear_session_cookie(request, response)
    return finish_response(request, response)


@router.get("/compte")
async def account_page(request: Request) -> HTMLResponse:
    user = await require_user(request)
    return await render(
        request,
        "compte.html",
        PageContext(title="Mon compte", crumbs=[Crumb("Mon compte")]),
        account=user.account,
        display_name=user.account.display_name if user.account.name_confirmed else "",
        errors={},
        problem=None,
        done=DONE_MESSAGES.get(request.query_params.get("fait", "")),
        suite=_next_path(request.query_params.get("suite")),
    )


@router.post("/compte")
async def account_post(request: Request) -> Response:
    user = await require_user(request)
    form = await checked_form(request)
    name = str(form.get("display_name", ""))
    suite = _next_path(form.get("suite"))
    services = services_of(request)
    try:
        body = build_input(lambda: AccountUpdate(display_name=name))
        await auth.update_me(body, user, services)
    except Exception as error:
        problem = problem_of(error)
        if problem is None:
            raise
        return await render(
            request,
            "compte.html",
            PageContext(title="Mon compte", crumbs=[Crumb("Mon compte")]),
            status=problem.status,
            account=user.account,
            display_name=name,
            errors={"display_name": problem.detail},
            problem=problem,
            done=None,
            suite=suite,
        )
    response = RedirectResponse(suite or "/compte?fait=nom", status_code=303)
    return finish_response(request, response)


@router.get("/accessibilite")
async def accessibility(request: Request) -> HTMLResponse:
    return await render(
        request,
        "accessibilite.html",
        PageContext(title="Accessibilité", crumbs=[Crumb("Accessibilité")]),
    )
