"""Staff sign-in through OpenID Connect (ProConnect in production): two browser routes.

``GET /auth/staff/sign-in`` sends the browser to the provider; ``GET /auth/staff/callback`` is
where the provider sends it back. The address the provider vouches for must be that of an
existing, enabled staff account (admin, operator, prefecture, CNCCFP): there is no self-service
staff account, and candidates and third parties keep their emailed links. The session opened is
the app's ordinary session, held in the pages' HttpOnly cookie (``api.web.session``), and audited
as ``sign_in_oidc``; the browser goes on to the staff member's home page. A token for scripts
(``Authorization: Bearer``) is opened on the page ``/agents/jeton`` and shown there once.

Every refusal is a French page with its stable code; an unknown address, a candidate's address
and a disabled account get the same one (``oidc_account_unknown``). Callbacks count against the
client's ``sign_in_form`` rate limit, like the emailed link's form.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from typing import Annotated

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import audit, oidc
from api.deps import ServicesDep
from api.errors import status_for
from api.pages import message_page, page
from api.ratelimit import Bucket, RateLimited, limiter_of
from api.staff import IDENTITY_PROVIDER_ROLES
from api.web import routes_public
from api.web.session import set_session_cookie
from core.settings import Settings
from domain.contracts import Actor
from domain.errors import ErrorCode

log = logging.getLogger(__name__)

router = APIRouter(tags=["Connexion"])

_TITLE = "Sécu'Pol — connexion des agents"
_PARAMETER = 2048
"""Longest accepted query parameter (codes and states are far shorter)."""


def _client(request: Request, settings: Settings) -> oidc.OidcClient:
    """The application's one relying party (it caches the provider's metadata and keys)."""
    client: oidc.OidcClient | None = getattr(request.app.state, "staff_oidc", None)
    if client is None:
        client = oidc.OidcClient(settings)
        request.app.state.staff_oidc = client
    return client


def _secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def _refusal(settings: Settings, code: ErrorCode, message: str) -> HTMLResponse:
    response = page(
        f"<p>{html.escape(message)}</p>"
        f"<p><small>Code : {html.escape(code.value)}</small></p>"
        '<p><a href="/auth/staff/sign-in">Recommencer la connexion</a></p>',
        title=_TITLE,
        status=status_for(code.value),
    )
    # A sign-in is tried once: whatever happened, its state is spent.
    response.delete_cookie(
        oidc.STATE_COOKIE,
        path=oidc.STATE_COOKIE_PATH,
        secure=_secure(settings),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(
    "/auth/staff/sign-in",
    response_class=RedirectResponse,
    status_code=303,
    summary="Connexion des agents (fédération d'identité)",
    description="Redirige le navigateur de l'agent vers le fournisseur d'identité (ProConnect en "
    "production). Au retour, l'agent arrive connecté sur sa page d'accueil. "
    "Seuls les comptes d'agents existants et actifs peuvent se connecter ainsi. Page pour un "
    "navigateur : un refus est une page HTML en français avec son code (404 "
    "`oidc_not_configured`, 502 `oidc_provider_error`).",
    responses={303: {"description": "Vers le fournisseur d'identité."}},
)
async def staff_sign_in(request: Request, services: ServicesDep) -> Response:
    settings = services.settings
    if not oidc.is_configured(settings):
        code = ErrorCode.OIDC_NOT_CONFIGURED
        return _refusal(settings, code, oidc.OidcError(code).message)
    try:
        url, pending = await _client(request, settings).start()
    except oidc.OidcError as error:
        log.warning("staff sign-in not started: %s (%s)", error.code, error.reason)
        return _refusal(settings, error.code, error.message)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        oidc.STATE_COOKIE,
        oidc.seal(settings, pending),
        max_age=oidc.STATE_TTL_S,
        path=oidc.STATE_COOKIE_PATH,
        secure=_secure(settings),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(
    "/auth/staff/callback",
    response_class=RedirectResponse,
    status_code=303,
    responses={303: {"description": "Vers la page d'accueil de l'agent, connecté."}},
    summary="Retour du fournisseur d'identité",
    description="Le fournisseur d'identité y renvoie l'agent. Vérifie l'état, échange le code, "
    "vérifie le jeton d'identité et ouvre une session pour le compte d'agent de l'adresse "
    "confirmée : un cookie de session des pages, puis la page d'accueil de l'agent ; un jeton "
    "d'API pour les scripts s'obtient ensuite sur la page « Jeton d'API » (/agents/jeton). "
    "Page pour un navigateur : "
    "un refus est une page HTML en français avec son code (400 `oidc_state_invalid`, 401 "
    "`oidc_denied` ou `oidc_token_invalid`, 403 `oidc_account_unknown` ou "
    "`oidc_email_unverified`, 404 `oidc_not_configured`, 502 `oidc_provider_error`).",
)
async def staff_callback(
    request: Request,
    services: ServicesDep,
    code: Annotated[str | None, Query(max_length=_PARAMETER)] = None,
    state: Annotated[str | None, Query(max_length=_PARAMETER)] = None,
    iss: Annotated[str | None, Query(max_length=_PARAMETER)] = None,
    error: Annotated[str | None, Query(max_length=_PARAMETER)] = None,
    sealed: Annotated[str | None, Cookie(alias=oidc.STATE_COOKIE, max_length=4096)] = None,
) -> Response:
    settings = services.settings
    accounts = services.accounts
    # Each callback may cost the provider a code exchange: counted like the emailed link's form.
    limiter = limiter_of(request)
    try:
        await limiter.hit(Bucket.SIGN_IN_FORM, limiter.client(request))
    except RateLimited as limited:
        answer = message_page(limited.message, title=_TITLE, status=429)
        answer.headers.update(limited.headers or {})
        return answer
    if not oidc.is_configured(settings):
        refused = ErrorCode.OIDC_NOT_CONFIGURED
        return _refusal(settings, refused, oidc.OidcError(refused).message)
    actor: Actor | None = None
    try:
        pending = oidc.unseal(settings, sealed, state)
        if error is not None or code is None:
            raise oidc.OidcError(ErrorCode.OIDC_DENIED, "the provider answered an error")
        identity = await _client(request, settings).finish(code, pending, issuer=iss)
        account = await accounts.find_by_email(identity.email)
        if account is not None:
            actor = Actor(role=account.role, id=account.account_id)
        if account is None or account.disabled or account.role not in IDENTITY_PROVIDER_ROLES:
            # One answer for the three: the page tells nobody which addresses have accounts.
            raise oidc.OidcError(ErrorCode.OIDC_ACCOUNT_UNKNOWN, "no enabled staff account")
        token = await accounts.open_session(
            account.account_id, dt.timedelta(hours=settings.session_ttl_hours)
        )
    except oidc.OidcError as refused:
        log.warning("staff sign-in refused: %s (%s)", refused.code, refused.reason)
        if actor is not None:
            await audit.record(services.engine, actor, "sign_in_oidc", refused.code.value)
        return _refusal(settings, refused.code, refused.message)
    assert actor is not None
    await audit.record(services.engine, actor, "sign_in_oidc", audit.OK)
    # The session is the pages' (an HttpOnly cookie): on to the staff member's home page. A
    # token for scripts is asked for on the page "Jeton d'API" (``/agents/jeton``).
    response = RedirectResponse(routes_public.HOME_BY_ROLE.get(account.role, "/"), status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(
        oidc.STATE_COOKIE,
        path=oidc.STATE_COOKIE_PATH,
        secure=_secure(settings),
        httponly=True,
        samesite="lax",
    )
    return response
