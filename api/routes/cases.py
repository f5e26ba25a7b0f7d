"""What every audience of a case shares: read it, list cases in scope, documents, messages."""

from __future__ import annotations

import asyncio
import datetime as dt
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode

from api import audit
from api.deps import Allow, CurrentUser, Services, ServicesDep
from api.errors import PROBLEM_RESPONSES, ApiError
from api.gateway import CaseGateway, document_visible, election_of, quoted
from api.routes.actions import CaseIdPath
from api.schemas import (
    CasePublic,
    CaseSummaryPublic,
    DocumentPublic,
    MessageCreate,
    MessagePublic,
)
from core.db import elections
from core.messages import CaseMessage, MessageStore, MessageUnreadable
from domain import visibility
from domain.contracts import MESSAGE_POSTED_SIGNAL, CaseState, MessagePostedInput
from domain.documents import ContentType, DocumentInfo, DocumentKind, check_uploadable
from domain.errors import DomainError, ErrorCode
from domain.identifiers import is_opaque_id, is_valid_departement
from domain.ids import case_workflow_id
from domain.stages import Role, Stage
from domain.text import CleanLine

router = APIRouter(tags=["Dossiers"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: PROBLEM_RESPONSES[code] for code in (401, 403, 404, 422, 503)
}
_READERS = Allow(Role.CANDIDATE, Role.THIRD_PARTY, Role.PREFECTURE, Role.CNCCFP)
_CASE_READERS = Allow(Role.CANDIDATE, Role.THIRD_PARTY, Role.PREFECTURE, Role.CNCCFP, Role.OPERATOR)
"""Who reads a case (each their own view of it, rule 9): the operator too, without personal
data; documents stay with ``_READERS``."""
_UPLOADERS = Allow(Role.CANDIDATE, Role.THIRD_PARTY, Role.PREFECTURE)
_CORRESPONDENTS = Allow(Role.CANDIDATE, Role.THIRD_PARTY, Role.CNCCFP)

Readers = Annotated[CurrentUser, Depends(_READERS)]
CaseReaders = Annotated[CurrentUser, Depends(_CASE_READERS)]

CNCCFP_SCOPE = (
    f"({visibility.RECOGNISED} = true OR "
    f"{visibility.STAGE} = '{Stage.AWAITING_ADMINISTRATION.value}')"
)
"""The cases the CNCCFP lists (rule 9): recognised threats, and cases waiting for it after
their deadline passed."""


@router.get(
    "/cases",
    response_model=list[CaseSummaryPublic],
    summary="Lister les dossiers",
    description="Les dossiers que la personne connectée peut voir — le candidat : les siens ; le "
    "tiers mandaté : celui qui l'a mandaté ; la préfecture : ceux de ses départements ; la "
    "CNCCFP : ceux dont la menace a été reconnue, et ceux dont l'échéance est passée en attente "
    "de l'administration ; l'exploitation : tous. Filtres facultatifs par étape, élection et "
    "département ; tri par prochaine échéance. La liste vient de l'index des dossiers et peut "
    "avoir une seconde de retard.",
    responses=_RESPONSES,
)
async def list_cases(
    services: ServicesDep,
    user: CaseReaders,
    stage: Annotated[Stage | None, Query(description="Étape.")] = None,
    election_id: Annotated[
        str | None, Query(max_length=64, description="Identifiant de l'élection.")
    ] = None,
    departement: Annotated[str | None, Query(max_length=3, description="Département.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Nombre maximal de dossiers.")] = 200,
) -> list[CaseSummaryPublic]:
    query = await scoped_query(services, user, stage, election_id, departement)
    if query is None:
        return []
    return await CaseGateway(services).list(query, limit)


async def scoped_query(
    services: Services,
    user: CurrentUser,
    stage: Stage | None = None,
    election_id: str | None = None,
    departement: str | None = None,
) -> str | None:
    """The visibility query of the cases ``user`` may list, with the filters given (None: the
    caller has no case). The pages and the exports list cases through it too."""
    # Every value placed in the query is checked to be a plain identifier first.
    if election_id is not None and not is_opaque_id(election_id):
        raise ApiError(ErrorCode.INVALID_IDENTIFIER, field="election_id")
    if departement is not None and not is_valid_departement(departement):
        raise ApiError(ErrorCode.INVALID_DEPARTEMENT, field="departement")
    clauses: list[str] = []
    actor = user.actor
    if actor.role == Role.CANDIDATE:
        async with services.engine.connect() as connection:
            election_ids = (await connection.execute(select(elections.c.election_id))).scalars()
            ids = [case_workflow_id(election, actor.id) for election in election_ids]
        if not ids:
            return None
        clauses.append(f"WorkflowId IN ({quoted(ids)})")
    elif actor.role == Role.THIRD_PARTY:
        ids = [
            case_id
            for case_id in await services.accounts.mandated_cases(actor.id)
            if is_opaque_id(case_id)
        ]
        if not ids:
            return None
        clauses.append(f"WorkflowId IN ({quoted(ids)})")
    elif actor.role == Role.PREFECTURE:
        clauses.append(f"SecupolDepartement IN ({quoted(actor.departements)})")
    elif actor.role == Role.CNCCFP:
        clauses.append(CNCCFP_SCOPE)
    if stage is not None:
        clauses.append(f"SecupolStage = '{stage.value}'")
    if election_id is not None:
        clauses.append(f"SecupolElection = '{election_id}'")
    if departement is not None:
        clauses.append(f"SecupolDepartement = '{departement}'")
    return " AND ".join(clauses)


@router.get(
    "/cases/{case_id}",
    response_model=CasePublic,
    summary="Consulter un dossier",
    description="Le dossier tel que la personne connectée peut le voir, avec les actions "
    "possibles maintenant pour elle. Chacun n'en voit que ce que sa mission demande : le "
    "candidat et son tiers mandaté, tout le dossier ; la préfecture, l'évaluation de la menace et "
    "le paiement ; la CNCCFP, le dossier à partir de la reconnaissance de la menace, sans la "
    "plainte ni le justificatif de candidature ; l'exploitation, les étapes, dates, échéances et "
    "courriels, sans donnée personnelle.",
    responses=_RESPONSES,
)
async def read_case(case_id: CaseIdPath, services: ServicesDep, user: CaseReaders) -> CasePublic:
    gateway = CaseGateway(services)
    state = await gateway.read(user, case_id)
    return await gateway.view(user, state)


async def _ensure_case_for_documents(services: Services, user: CurrentUser, case_id: str) -> None:
    """Scope, and for a candidate whose case is not open yet, an election that exists."""
    await CaseGateway(services).ensure_visible(user, case_id)
    if user.role == Role.CANDIDATE:
        election = election_of(case_id)
        async with services.engine.connect() as connection:
            known = (
                await connection.execute(
                    select(elections.c.election_id).where(elections.c.election_id == election)
                )
            ).first()
        if known is None:
            raise ApiError(ErrorCode.CASE_NOT_FOUND)


_BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.post(
    "/cases/{case_id}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentPublic,
    summary="Déposer une pièce",
    description="Dépose une pièce (PDF, JPEG ou PNG ; 20 Mo au plus ; 200 Mo par dossier) : le "
    "corps de la requête est le fichier lui-même (`curl --data-binary @facture.pdf`). Le type "
    "est reconnu au contenu, non au nom. La pièce est chiffrée au repos ; son identifiant sert "
    "ensuite dans les actions. Le candidat peut déposer ses pièces avant d'ouvrir son dossier."
    "\n\nRéservé à : candidat, tiers mandaté, préfecture.",
    responses={
        **_RESPONSES,
        409: PROBLEM_RESPONSES[409],
        413: {"description": "Fichier trop volumineux"},
        415: {"description": "Type de fichier non accepté"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {content_type.value: _BINARY for content_type in ContentType},
        }
    },
)
async def upload_document(
    case_id: CaseIdPath,
    request: Request,
    services: ServicesDep,
    user: Annotated[CurrentUser, Depends(_UPLOADERS)],
    kind: Annotated[DocumentKind, Query(description="Nature de la pièce.")],
    filename: Annotated[
        CleanLine, Query(min_length=1, max_length=255, description="Nom du fichier (affichage).")
    ],
) -> DocumentPublic:
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise ApiError(
            ErrorCode.DOCUMENT_TYPE_NOT_ALLOWED,
            message="Envoyez le fichier lui-même comme corps de la requête "
            "(curl --data-binary @fichier.pdf), non un formulaire multipart.",
        )
    declared = request.headers.get("content-length")
    if (
        declared is not None
        and declared.isdigit()
        and int(declared) > (services.settings.max_document_bytes)
    ):
        raise ApiError(ErrorCode.DOCUMENT_TOO_LARGE)
    info = await store_document(services, user, case_id, kind, filename, request.stream())
    return DocumentPublic.model_validate(info, from_attributes=True)


async def store_document(
    services: Services,
    user: CurrentUser,
    case_id: str,
    kind: DocumentKind,
    filename: str,
    chunks: AsyncIterator[bytes],
) -> DocumentInfo:
    """Scope, kind, limits and type checks, storage and audit of one upload (the JSON route's
    and the pages' uploads alike)."""
    await _ensure_case_for_documents(services, user, case_id)
    try:
        check_uploadable(user.role, kind)
        info = await services.storage.ingest(
            case_id=case_id,
            kind=kind,
            filename=filename,
            uploaded_by=user.actor.id,
            chunks=chunks,
            uploader_role=user.role.value,
        )
    except DomainError as refusal:
        await audit.record(
            services.engine, user.actor, "upload_document", refusal.code.value, case_id=case_id
        )
        raise
    await audit.record(services.engine, user.actor, "upload_document", audit.OK, case_id=case_id)
    return info


@router.get(
    "/cases/{case_id}/documents",
    response_model=list[DocumentPublic],
    summary="Lister les pièces",
    description="Les pièces déposées dans le dossier que la personne connectée peut voir, les "
    "plus anciennes d'abord. La CNCCFP ne voit jamais le procès-verbal de plainte, le "
    "justificatif de candidature ni les autres pièces d'une demande d'évaluation ; la préfecture "
    "voit les pièces de l'évaluation, les relevés d'identité bancaire et les pièces qu'elle a "
    "déposées.",
    responses=_RESPONSES,
)
async def list_documents(
    case_id: CaseIdPath, services: ServicesDep, user: Readers
) -> list[DocumentPublic]:
    state = await _state_for_documents(services, user, case_id)
    return [
        DocumentPublic.model_validate(info, from_attributes=True)
        for info in await services.storage.list_for_case(case_id)
        if document_visible(info, state, user.actor.id, user.role)
    ]


async def _state_for_documents(
    services: ServicesDep, user: CurrentUser, case_id: str
) -> CaseState | None:
    """Check the scope; for staff, the case's state, which decides what documents they see."""
    gateway = CaseGateway(services)
    if user.role in (Role.CANDIDATE, Role.THIRD_PARTY):
        # The candidate side sees every document, also before the case is opened.
        await gateway.ensure_visible(user, case_id)
        return None
    return await gateway.read(user, case_id)


@router.get(
    "/cases/{case_id}/documents/{document_id}",
    response_class=StreamingResponse,
    summary="Télécharger une pièce",
    description="Le contenu de la pièce, vérifié (empreinte et taille) pendant la lecture.",
    responses={**_RESPONSES, 200: {"content": {ct.value: _BINARY for ct in ContentType}}},
)
async def download_document(
    case_id: CaseIdPath,
    document_id: Annotated[str, Path(min_length=1, max_length=128)],
    services: ServicesDep,
    user: Readers,
) -> StreamingResponse:
    state = await _state_for_documents(services, user, case_id)
    try:
        info = await services.storage.get(document_id)
    except DomainError:
        raise ApiError(ErrorCode.DOCUMENT_NOT_FOUND) from None
    if info.case_id != case_id or not document_visible(info, state, user.actor.id, user.role):
        raise ApiError(ErrorCode.DOCUMENT_NOT_FOUND)
    stream = await services.storage.open(document_id)

    async def content() -> Any:
        async with aclosing(stream) as chunks:
            async for chunk in chunks:
                yield chunk

    quoted_name = urllib.parse.quote(info.filename)
    return StreamingResponse(
        content(),
        media_type=info.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quoted_name}",
            "Content-Length": str(info.size),
            "X-Content-Type-Options": "nosniff",
        },
    )


Correspondents = Annotated[CurrentUser, Depends(_CORRESPONDENTS)]


@router.get(
    "/cases/{case_id}/messages",
    response_model=list[MessagePublic],
    tags=["Messages"],
    summary="Lire les messages du dossier",
    description="Les messages échangés entre le candidat (ou son tiers mandaté) et la CNCCFP."
    "\n\nRéservé à : candidat, tiers mandaté, CNCCFP.",
    responses=_RESPONSES,
)
async def list_messages(
    case_id: CaseIdPath, services: ServicesDep, user: Correspondents
) -> list[MessagePublic]:
    await CaseGateway(services).ensure_visible(user, case_id)
    try:
        stored = await MessageStore(services.engine, services.settings).list_for_case(case_id)
    except MessageUnreadable:
        # Logged by the store with the message and key ids; the reader gets a stable code.
        raise ApiError(ErrorCode.MESSAGE_UNREADABLE) from None
    return [
        MessagePublic(
            message_id=message.message_id,
            author_role=message.author_role,
            body=message.body,
            created_at=message.created_at,
        )
        for message in stored
    ]


@router.post(
    "/cases/{case_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=MessagePublic,
    tags=["Messages"],
    summary="Écrire sur le dossier",
    description="Envoie un message à l'autre partie. Quand la CNCCFP écrit, le candidat est "
    "prévenu par courriel (sans le contenu du message).\n\nRéservé à : candidat, tiers "
    "mandaté, CNCCFP.",
    responses=_RESPONSES,
)
async def post_message(
    case_id: CaseIdPath,
    body: MessageCreate,
    services: ServicesDep,
    user: Correspondents,
) -> MessagePublic:
    gateway = CaseGateway(services)
    # Reading the case proves it exists (no message on a case that was never opened).
    state = await gateway.read(user, case_id)
    message = MessagePublic(
        message_id=uuid.uuid4().hex,
        author_role=user.role.value,
        body=body.body,
        created_at=dt.datetime.now(dt.UTC),
    )
    entry = await audit.begin(services.engine, user.actor, "post_message", case_id=case_id)
    outcome = "error"
    try:
        async with services.engine.begin() as connection:
            await MessageStore(services.engine, services.settings).write(
                CaseMessage(case_id=case_id, author_id=user.actor.id, **message.model_dump()),
                connection,
            )
            if user.role == Role.CNCCFP and not state.stage.is_terminal:
                # The notice goes through the case's durable outbox; told before the message is
                # committed, so that a Temporal outage stores neither (503, nothing half-done).
                await _signal_message_posted(services, case_id, message.message_id, user.role)
        outcome = audit.OK
    except (TimeoutError, RPCError):
        outcome = ErrorCode.SERVICE_UNAVAILABLE.value
        raise
    finally:
        await audit.finish(services.engine, entry, outcome)
    return message


async def _signal_message_posted(
    services: ServicesDep, case_id: str, message_id: str, author: Role
) -> None:
    cases = await services.cases()
    async with asyncio.timeout(services.settings.api_request_timeout_s):
        try:
            await cases.handle(case_id).signal(
                MESSAGE_POSTED_SIGNAL, MessagePostedInput(message_id=message_id, author_role=author)
            )
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            # The case ended meanwhile: the message is kept, no notice is owed.
