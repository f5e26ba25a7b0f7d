"""Accounts, sign-in links and sessions; the elections open to requests (no sign-in needed)."""

from __future__ import annotations

import datetime as dt
import html
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, status
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from api import audit
from api.deps import CurrentUserDep, ServicesDep
from api.errors import PROBLEM_RESPONSES
from api.gateway import build_input
from api.mail import send_sign_in_link
from api.pages import message_page, page
from api.schemas import (
    Accepted,
    AccountPublic,
    CandidateAccountCreate,
    ElectionPublic,
    SessionCreate,
    SessionPublic,
    SignInLinkCreate,
)
from core.db import elections
from domain.calendar import deposit_deadline
from domain.contracts import CandidateContact
from domain.errors import DomainError, ErrorCode
from domain.stages import Role

router = APIRouter(tags=["Connexion"])

LINK_SENT = (
    "Si cette adresse correspond à un compte, un lien de connexion vient d'y être envoyé. "
    "Il est valable peu de temps et ne sert qu'une fois."
)


async def _send_link(services: ServicesDep, email: str, background: BackgroundTasks) -> None:
    token = await services.accounts.issue_sign_in_link(email)
    if token is None:
        return
    account = await services.accounts.find_by_email(email)
    if account is None:
        return
    # After the answer: its timing must not tell whether the address has an account.
    background.add_task(
        send_sign_in_link,
        services.settings,
        to=account.email,
        name=account.display_name,
        token=token,
    )


@router.post(
    "/auth/accounts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Créer un compte de candidat",
    description="Crée le compte d'un candidat et lui envoie un lien de connexion par courriel. "
    "La réponse est la même si un compte existe déjà pour cette adresse (le lien est alors "
    "envoyé au titulaire du compte) : elle ne révèle pas quelles adresses sont inscrites.",
    responses={422: PROBLEM_RESPONSES[422]},
)
async def create_candidate_account(
    body: CandidateAccountCreate, services: ServicesDep, background: BackgroundTasks
) -> Accepted:
    contact = build_input(lambda: CandidateContact(name=body.name, email=body.email))
    try:
        await services.accounts.create(
            email=contact.email, display_name=contact.name, role=Role.CANDIDATE
        )
    except DomainError as error:
        if error.code != ErrorCode.ACCOUNT_EXISTS:
            raise
    await _send_link(services, contact.email, background)
    return Accepted(detail=LINK_SENT)


@router.post(
    "/auth/sign-in-links",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Recevoir un lien de connexion",
    description="Envoie un lien de connexion à usage unique à l'adresse d'un compte existant. "
    "La réponse ne dit pas si l'adresse correspond à un compte.",
    responses={422: PROBLEM_RESPONSES[422]},
)
async def request_sign_in_link(
    body: SignInLinkCreate, services: ServicesDep, background: BackgroundTasks
) -> Accepted:
    await _send_link(services, body.email, background)
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
    responses={401: PROBLEM_RESPONSES[401], 422: PROBLEM_RESPONSES[422]},
)
async def open_session(body: SessionCreate, services: ServicesDep) -> SessionPublic:
    return await _open_session(services, body.token)


_TITLE = "Sécu'Pol — connexion"


@router.get(
    "/auth/sign-in",
    response_class=HTMLResponse,
    summary="Page du lien de connexion",
    description="Page ouverte depuis le courriel. Elle ne consomme pas le lien (les logiciels "
    "qui inspectent les liens des courriels l'ouvriraient sinon) : le bouton le fait.",
)
async def sign_in_page(token: str = "") -> HTMLResponse:
    content = (
        "<p>Pour ouvrir votre session, confirmez :</p>"
        '<form method="post" action="/auth/sign-in">'
        f'<input type="hidden" name="token" value="{html.escape(token[:200], quote=True)}">'
        '<button type="submit">Me connecter</button></form>'
    )
    return page(content, title=_TITLE)


@router.post(
    "/auth/sign-in",
    response_class=HTMLResponse,
    summary="Se connecter depuis la page du lien",
    description="Consomme le lien et affiche le jeton de session (formulaire de la page "
    "précédente).",
)
async def sign_in_form(
    token: Annotated[str, Form(max_length=200, description="Le jeton du lien de connexion.")],
    services: ServicesDep,
) -> HTMLResponse:
    try:
        session = await _open_session(services, token)
    except DomainError as error:
        return message_page(error.message, title=_TITLE, status=401)
    content = (
        f"<p>Bonjour {html.escape(session.account.display_name)}, vous êtes connecté(e).</p>"
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
