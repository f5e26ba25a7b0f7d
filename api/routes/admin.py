"""What admins do: staff accounts, prefecture services, elections, the audit log."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from sqlalchemy import select

from api import audit
from api.deps import Allow, CurrentUser, ServicesDep
from api.errors import PROBLEM_RESPONSES, ApiError
from api.schemas import (
    AccountPublic,
    AuditEntryPublic,
    ElectionCreate,
    ElectionPublic,
    PrefecturePublic,
    PrefectureUpdate,
    StaffAccountCreate,
    StaffAccountPublic,
)
from api.staff import STAFF_ROLES, add_election, create_staff, set_prefecture
from core.db import accounts, audit_log, prefectures
from domain.calendar import deposit_deadline
from domain.errors import ErrorCode
from domain.identifiers import is_opaque_id
from domain.stages import Role

router = APIRouter(prefix="/admin", tags=["Administration"])

Admin = Annotated[CurrentUser, Depends(Allow(Role.ADMIN))]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: PROBLEM_RESPONSES[code] for code in (401, 403, 409, 422, 503)
}
_CODE = re.compile(r"[a-z0-9_]{1,64}")
_ONLY_ADMINS = "\n\nRéservé à : administrateur."


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffAccountPublic,
    summary="Créer un compte d'agent",
    description="Crée le compte d'un agent de préfecture (avec ses départements), d'un rapporteur "
    "de la CNCCFP, d'un administrateur ou d'un exploitant, et renvoie son jeton : il n'est "
    "affiché qu'une fois." + _ONLY_ADMINS,
    responses=_RESPONSES,
)
async def create_staff_account(
    body: StaffAccountCreate, services: ServicesDep, user: Admin
) -> StaffAccountPublic:
    account, token = await create_staff(
        services.accounts,
        email=body.email,
        display_name=body.display_name,
        role=body.role,
        departements=body.departements,
    )
    await audit.record(services.engine, user.actor, "create_account", audit.OK)
    return StaffAccountPublic(
        account=AccountPublic.model_validate(account, from_attributes=True),
        token=token,
        expires_at=dt.datetime.now(dt.UTC)
        + dt.timedelta(days=services.settings.staff_token_ttl_days),
    )


@router.post(
    "/accounts/{account_id}/disable",
    response_model=AccountPublic,
    summary="Désactiver un compte",
    description="Le compte ne peut plus se connecter et ses sessions cessent aussitôt."
    + _ONLY_ADMINS,
    responses={**_RESPONSES, 404: PROBLEM_RESPONSES[404]},
)
async def disable_account(
    account_id: Annotated[str, Path(min_length=1, max_length=64)],
    services: ServicesDep,
    user: Admin,
) -> AccountPublic:
    if await services.accounts.get(account_id) is None:
        raise ApiError(ErrorCode.ACCOUNT_NOT_FOUND)
    await services.accounts.disable(account_id)
    await audit.record(services.engine, user.actor, "disable_account", audit.OK)
    account = await services.accounts.get(account_id)
    return AccountPublic.model_validate(account, from_attributes=True)


@router.put(
    "/prefectures/{departement}",
    response_model=PrefecturePublic,
    summary="Inscrire le service d'une préfecture",
    description="Enregistre l'adresse du service de la préfecture d'un département, à laquelle "
    "les dossiers de ce département adressent leurs demandes." + _ONLY_ADMINS,
    responses=_RESPONSES,
)
async def put_prefecture(
    departement: Annotated[str, Path(min_length=1, max_length=3)],
    body: PrefectureUpdate,
    services: ServicesDep,
    user: Admin,
) -> PrefecturePublic:
    await set_prefecture(services.engine, departement, body.email)
    await audit.record(services.engine, user.actor, "set_prefecture", audit.OK)
    return PrefecturePublic(departement=departement, email=body.email)


@router.post(
    "/elections",
    status_code=status.HTTP_201_CREATED,
    response_model=ElectionPublic,
    summary="Ajouter une élection",
    description="Ajoute une élection, avec ses dates de scrutin : la date limite de dépôt en "
    "découle.\n\nLe dispositif s'applique ou non selon le seul type d'élection, par la même "
    "règle que la commande « python -m api.admin add-election » : oui pour les législatives, "
    "départementales, municipales, communautaires et métropolitaines de Lyon (partie du code "
    "électoral commune à ces élections, articles L. 52-18 à L. 52-18-4) ; non pour les autres "
    "types. Aucun champ ne permet de le décider autrement." + _ONLY_ADMINS,
    responses=_RESPONSES,
)
async def create_election(
    body: ElectionCreate, services: ServicesDep, user: Admin
) -> ElectionPublic:
    covered = await add_election(services.engine, **body.model_dump())
    await audit.record(services.engine, user.actor, "add_election", audit.OK)
    return ElectionPublic(
        **body.model_dump(),
        covered=covered,
        deposit_deadline=deposit_deadline(body.first_round),
    )


@router.get(
    "/audit",
    response_model=list[AuditEntryPublic],
    summary="Journal d'audit",
    description="Les actions faites par l'API, les plus récentes d'abord." + _ONLY_ADMINS,
    responses=_RESPONSES,
)
async def read_audit(
    services: ServicesDep,
    user: Admin,
    case_id: Annotated[str | None, Query(max_length=140, description="Dossier.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Nombre de lignes.")] = 100,
    action: Annotated[str | None, Query(max_length=64, description="Action.")] = None,
    actor_role: Annotated[Role | None, Query(description="Rôle de qui a agi.")] = None,
    outcome: Annotated[
        str | None, Query(max_length=64, description="Issue : ok, pending ou un code de refus.")
    ] = None,
) -> list[AuditEntryPublic]:
    query = select(audit_log).order_by(audit_log.c.entry_id.desc()).limit(limit)
    if case_id is not None:
        if not is_opaque_id(case_id):
            raise ApiError(ErrorCode.INVALID_IDENTIFIER, field="case_id")
        query = query.where(audit_log.c.case_id == case_id)
    # Action names and outcome codes are snake_case; compared as bound parameters.
    for field, value, column in (
        ("action", action, audit_log.c.action),
        ("outcome", outcome, audit_log.c.outcome),
    ):
        if value is not None:
            if not _CODE.fullmatch(value):
                raise ApiError(ErrorCode.INVALID_IDENTIFIER, field=field)
            query = query.where(column == value)
    if actor_role is not None:
        query = query.where(audit_log.c.actor_role == actor_role.value)
    async with services.engine.connect() as connection:
        rows = await connection.execute(query)
        return [AuditEntryPublic.model_validate(row, from_attributes=True) for row in rows]


@router.get(
    "/accounts",
    response_model=list[AccountPublic],
    summary="Comptes d'agents",
    description="Les comptes des agents (préfecture, CNCCFP, administration, exploitation), par "
    "rôle puis adresse ; les comptes des candidats et des tiers n'y sont pas." + _ONLY_ADMINS,
    responses=_RESPONSES,
)
async def list_staff_accounts(services: ServicesDep, user: Admin) -> list[AccountPublic]:
    async with services.engine.connect() as connection:
        ids = (
            await connection.execute(
                select(accounts.c.account_id)
                .where(accounts.c.role.in_([role.value for role in STAFF_ROLES]))
                .order_by(accounts.c.role, accounts.c.email)
            )
        ).scalars()
        account_ids = list(ids)
    found = [await services.accounts.get(account_id) for account_id in account_ids]
    return [
        AccountPublic.model_validate(account, from_attributes=True)
        for account in found
        if account is not None
    ]


@router.get(
    "/prefectures",
    response_model=list[PrefecturePublic],
    summary="Services des préfectures",
    description="L'adresse du service de chaque préfecture inscrite, par département."
    + _ONLY_ADMINS,
    responses=_RESPONSES,
)
async def list_prefectures(services: ServicesDep, user: Admin) -> list[PrefecturePublic]:
    async with services.engine.connect() as connection:
        rows = await connection.execute(select(prefectures).order_by(prefectures.c.departement))
        return [PrefecturePublic(departement=row.departement, email=row.email) for row in rows]
