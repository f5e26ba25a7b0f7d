"""Accounts, sign-in links and sessions; the elections open to requests (no sign-in needed)."""

from __future__ import annotations

import datetime as dt
import html
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from api import audit
from api.deps import CurrentUserDep, ServicesDep
from api.errors import PROBLEM_RESPONSES
from api.gateway import build_input
from api.pages import message_page, page
from api.ratelimit import Bucket, RateLimited, limiter_of, per_client
from api.schemas import (
    Accepted,
    AccountPublic,
    AccountUpdate,
    CandidateAccountCreate,
    ElectionPublic,
    SessionCreate,
    SessionPublic,
    SignInLinkCreate,
)
from api.web.landing import sign_in_landing
from core.db import elections
from domain.calendar import deposit_deadline
from domain.contracts import CandidateContact
from domain.errors import DomainError

router = APIRouter(tags=["Connexion"])

LINK_SENT = (
    "Si cette adresse correspond à un compte, un lien de connexion vient d'y être envoyé. "
    "Il est valable peu de temps et ne sert qu'une fois."
)


_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Trop de requêtes (voir l'en-tête Retry-After)."}
}


async def limit_target(request: Request, email: str) -> None:
    """Count a request naming ``email`` against that address (whoever sends it)."""
    limiter = limiter_of(request)
    await limiter.hit(Bucket.TARGET, limiter.target_key(email))


@router.post(
    "/auth/accounts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Créer un compte de candidat",
    description="Crée le compte d'un candidat et lui envoie un lien de connexion par courriel. "
    "La réponse est la même si un compte existe déjà pour cette adresse (le lien est alors "
    "envoyé au titulaire du compte) : elle ne révèle pas quelles adresses sont inscrites. Le "
    "nom éventuellement transmis n'est pas retenu : le titulaire de l'adresse l'indique une fois "
    "connecté (PATCH /auth/me), ce qui confirme le compte. Nombre de demandes limité par client, "
    "par adresse et pour l'ensemble du service (429).",
    responses={422: PROBLEM_RESPONSES[422], **_LIMITED},
    dependencies=[Depends(per_client(Bucket.EMAILS))],
)
async def create_candidate_account(
    body: CandidateAccountCreate, request: Request, services: ServicesDep
) -> Accepted:
    contact = build_input(lambda: CandidateContact(name=body.name or "Candidat", email=body.email))
    await limit_target(request, contact.email)
    await limiter_of(request).hit(Bucket.NEW_ACCOUNTS, "service")
    services.sign_in_links.create_and_request(contact.email)
    return Accepted(detail=LINK_SENT)


@router.post(
    "/auth/sign-in-links",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Recevoir un lien de connexion",
    description="Envoie un lien de connexion à usage unique à l'adresse d'un compte existant. "
    "La réponse ne dit pas si l'adresse correspond à un compte.",
    responses={422: PROBLEM_RESPONSES[422], **_LIMITED},
    dependencies=[Depends(per_client(Bucket.EMAILS))],
)
async def request_sign_in_link(
    body: SignInLinkCreate, request: Request, services: ServicesDep
) -> Accepted:
    await limit_target(request, body.email)
    services.sign_in_links.request(body.email)
    return Accepted(detail=LINK_SENT)


async def _open_session(services: ServicesDep, token: str) -> SessionPublic:
    session_token = await services.accounts.exchange_sign_in_link(token)
    account, actor = await services.accounts.authenticate(session_token)
    await audit.record(services.engine, actor, "sign_in", audit.OK)
    return SessionPublic(
        token=session_token,
        expires_at=dt.datetime.now(dt.UTC)
        + dt.timedelta(hours=services.settings.session_ttl_hours),
        account=AccountPublic.model_validate(account, from_attributes=True),
    )


@router.post(
    "/auth/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionPublic,
    summary="Ouvrir une session avec un lien de connexion",
    description="Échange le jeton d'un lien de connexion (à usage unique, de courte durée) contre "
    "un jeton de session, à joindre ensuite à chaque requête (`Authorization: Bearer …`).",
    responses={401: PROBLEM_RESPONSES[401], 422: PROBLEM_RESPONSES[422], **_LIMITED},
    dependencies=[Depends(per_client(Bucket.SESSIONS))],
)
async def open_session(body: SessionCreate, services: ServicesDep) -> SessionPublic:
    return await _open_session(services, body.token)


_TITLE = "Sécu'Pol — connexion"


@router.get(
    "/auth/sign-in",
    response_class=HTMLResponse,
    summary="Page du lien de connexion",
    description="Page ouverte depuis le courriel. Elle ne consomme pas le lien (les logiciels "
    "qui inspectent les liens des courriels l'ouvriraient sinon) : son bouton « Me connecter » "
    "ouvre une session dans le navigateur ; « Obtenir un jeton d'API » affiche un jeton de "
    "session pour l'API.",
)
async def sign_in_page(request: Request, token: str = "") -> HTMLResponse:
    # The page is the web pages' (api/web): it opens a page session, or gives an API token.
    return await sign_in_landing(request, token)


@router.post(
    "/auth/sign-in",
    response_class=HTMLResponse,
    summary="Se connecter depuis la page du lien",
    description="Consomme le lien et affiche le jeton de session (formulaire de la page "
    "précédente).",
)
async def sign_in_form(
    token: Annotated[str, Form(max_length=200, description="Le jeton du lien de connexion.")],
    request: Request,
    services: ServicesDep,
) -> HTMLResponse:
    limiter = limiter_of(request)
    try:
        await limiter.hit(Bucket.SIGN_IN_FORM, limiter.client(request))
    except RateLimited as limited:
        answer = message_page(limited.message, title=_TITLE, status=429)
        answer.headers.update(limited.headers or {})
        return answer
    try:
        session = await _open_session(services, token)
    except DomainError as error:
        return message_page(error.message, title=_TITLE, status=401)
    content = (
        "<p>Vous êtes connecté(e).</p>"
        "<p>Votre jeton de session (à garder pour vous) :</p>"
        f"<pre>{html.escape(session.token)}</pre>"
        "<p>Joignez-le à chaque requête : <code>Authorization: Bearer &lt;jeton&gt;</code>.</p>"
    )
    return page(content, title=_TITLE, status=201)


@router.get(
    "/auth/me",
    response_model=AccountPublic,
    summary="Mon compte",
    description="Le compte de la session en cours.",
    responses={401: PROBLEM_RESPONSES[401]},
)
async def me(user: CurrentUserDep) -> AccountPublic:
    return AccountPublic.model_validate(user.account, from_attributes=True)


@router.patch(
    "/auth/me",
    response_model=AccountPublic,
    summary="Indiquer mon nom",
    description="Le titulaire du compte indique (ou corrige) son nom, tel qu'il figurera sur ses "
    "dossiers ; un compte ouvre un dossier une fois son nom ainsi confirmé.",
    responses={401: PROBLEM_RESPONSES[401], 422: PROBLEM_RESPONSES[422]},
)
async def update_me(
    body: AccountUpdate, user: CurrentUserDep, services: ServicesDep
) -> AccountPublic:
    contact = build_input(
        lambda: CandidateContact(name=body.display_name, email=user.account.email)
    )
    await services.accounts.set_display_name(user.account.account_id, contact.name)
    await audit.record(services.engine, user.actor, "set_display_name", audit.OK)
    account = await services.accounts.get(user.account.account_id)
    return AccountPublic.model_validate(account, from_attributes=True)


@router.delete(
    "/auth/sessions/current",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Se déconnecter",
    description="Ferme la session en cours : son jeton ne sert plus.",
    responses={401: PROBLEM_RESPONSES[401]},
)
async def sign_out(user: CurrentUserDep, services: ServicesDep) -> None:
    await services.accounts.revoke_session(user.token)


@router.get(
    "/elections",
    response_model=list[ElectionPublic],
    tags=["Élections"],
    summary="Élections",
    description="Les élections connues de Sécu'Pol, avec leur date limite de dépôt.",
)
async def list_elections(services: ServicesDep) -> list[ElectionPublic]:
    async with services.engine.connect() as connection:
        rows = (await connection.execute(select(elections).order_by(elections.c.first_round))).all()
    return [
        ElectionPublic(
            election_id=row.election_id,
            election_type=row.election_type,
            label=row.label,
            first_round=row.first_round,
            second_round=row.second_round,
            covered=row.covered,
            deposit_deadline=deposit_deadline(row.first_round),
        )
        for row in rows
    ]
