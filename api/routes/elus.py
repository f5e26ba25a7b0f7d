"""The élus' side (``/elus``): automatic functional protection, alert-button loans, and the
candidate's State functional protection (R. 39-11).

Every action of ``domain.elus.ELUS_RULES`` that a person takes has its route here, named after
the action, allowing the rule's roles (``ELUS_ACTION_ROUTES``; the pages send actions through
``perform_elus_action``, the same path). Starts, reads and lists go through ``ElusGateway``.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations, which name
# body models held by local variables.

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel

from api.deps import Allow, CurrentUser, IdempotencyKeyDep, Services, ServicesDep
from api.elus_gateway import ELUS_ROLES, ActionContext, ElusGateway, view
from api.elus_schemas import (
    ActionDone,
    AlertButtonCreate,
    CollectiviteCreate,
    CollectivitePublic,
    CollectiviteStaffCreate,
    ConveningRequestBody,
    CouncilConvenedBody,
    DeliberationBody,
    EmptyBody,
    HandoverBody,
    ObligationBody,
    OfficialCreate,
    OfficialPublic,
    ProcedurePublic,
    ProcedureSummary,
    ProtectionRequestCreate,
    RenewalBody,
    ReturnBody,
    StaffTokenPublic,
    StateProtectionCreate,
    StateProtectionDecisionBody,
)
from api.errors import PROBLEM_RESPONSES, ApiError
from api.gateway import build_input
from core.elus import grant_collectivite, list_collectivites, save_collectivite
from domain.calendar import PARIS
from domain.elus import (
    ELUS_RULES,
    CollectiviteInfo,
    DecideStateProtectionInput,
    ElusAction,
    ElusActionInput,
    LoanState,
    Procedure,
    RecordConveningRequestInput,
    RecordCouncilConvenedInput,
    RecordDeliberationInput,
    RecordHandoverInput,
    RecordObligationInput,
    RecordReturnInput,
    RenewLoanInput,
    WithdrawStateProtectionInput,
)
from domain.errors import DomainError, ErrorCode
from domain.protection import loan_period_end
from domain.stages import Role

router = APIRouter(tags=["Élus"])

ProcedureIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=120,
        description="Identifiant de la procédure (protection-…, bouton-…, protection-candidat-…).",
    ),
]
_RESPONSES = {code: PROBLEM_RESPONSES[code] for code in (401, 403, 404, 409, 422, 503)}


# --- Actions --------------------------------------------------------------------------------------


def _renewal(context: ActionContext, body: RenewalBody) -> RenewLoanInput:
    state = context.state
    months = context.services.settings.alert_button_loan_months
    assert isinstance(state, LoanState)
    if not state.periods:
        # Not handed over yet: the workflow refuses it with the stage's code.
        ends_at = loan_period_end(body.renewed_on, months)
    else:
        previous_end = state.periods[-1].ends_at.astimezone(PARIS).date()
        # Renewed before the end: the new period follows the current one; after it: from the
        # renewal.
        ends_at = loan_period_end(max(previous_end, body.renewed_on), months)
    return RenewLoanInput(actor=context.actor, renewed_on=body.renewed_on, period_ends_at=ends_at)


@dataclass(frozen=True)
class ElusActionRoute:
    action: ElusAction
    segment: str
    body: type[BaseModel]
    to_input: Callable[[ActionContext, Any], ElusActionInput]
    summary: str
    description: str


ELUS_ACTION_ROUTES: dict[ElusAction, ElusActionRoute] = {
    route.action: route
    for route in (
        ElusActionRoute(
            ElusAction.RECORD_TRANSMISSION,
            "transmission",
            ObligationBody,
            lambda c, b: RecordObligationInput(actor=c.actor, done_on=b.done_on),
            "Enregistrer la transmission de la demande au préfet",
            "La collectivité indique le jour où elle a transmis la demande au représentant de "
            "l'État ; la préfecture en est informée par courriel.",
        ),
        ElusActionRoute(
            ElusAction.RECORD_COUNCIL_INFORMATION,
            "council-information",
            ObligationBody,
            lambda c, b: RecordObligationInput(actor=c.actor, done_on=b.done_on),
            "Enregistrer l'information des membres du conseil",
            "La collectivité indique le jour où les membres du conseil ont été informés. Une "
            "fois les deux formalités enregistrées, le début de la protection est connu.",
        ),
        ElusActionRoute(
            ElusAction.RECORD_DELIBERATION,
            "deliberation",
            DeliberationBody,
            lambda c, b: RecordDeliberationInput(
                actor=c.actor, kind=b.kind, deliberation_on=b.deliberation_on, reason=b.reason
            ),
            "Enregistrer la délibération de retrait ou d'abrogation",
            "Dans les quatre mois du début de la protection, le conseil peut la retirer ou "
            "l'abroger par une délibération motivée (date, nature, motifs).",
        ),
        ElusActionRoute(
            ElusAction.RECORD_CONVENING_REQUEST,
            "convening-request",
            ConveningRequestBody,
            lambda c, b: RecordConveningRequestInput(actor=c.actor, requested_on=b.requested_on),
            "Enregistrer la demande de convocation du conseil",
            "Des membres du conseil demandent à l'exécutif de le convoquer : il doit le faire "
            "dans les quatre mois du début de la protection (la date limite de la séance est "
            "indiquée dans la procédure).",
        ),
        ElusActionRoute(
            ElusAction.RECORD_COUNCIL_CONVENED,
            "council-convened",
            CouncilConvenedBody,
            lambda c, b: RecordCouncilConvenedInput(
                actor=c.actor, convened_on=b.convened_on, session_on=b.session_on
            ),
            "Enregistrer la convocation du conseil",
            "Le jour de la convocation et celui de la séance ; une séance fixée après les quatre "
            "mois est enregistrée et signalée hors délai.",
        ),
        ElusActionRoute(
            ElusAction.RECORD_HANDOVER,
            "handover",
            HandoverBody,
            lambda c, b: RecordHandoverInput(
                actor=c.actor,
                handed_over_on=b.handed_over_on,
                period_ends_at=loan_period_end(
                    b.handed_over_on, c.services.settings.alert_button_loan_months
                ),
            ),
            "Enregistrer la remise du bouton d'appel",
            "La première période de prêt (trois mois par défaut) court du jour de la remise.",
        ),
        ElusActionRoute(
            ElusAction.RENEW_LOAN,
            "renewal",
            RenewalBody,
            _renewal,
            "Renouveler le prêt du bouton d'appel",
            "Ouvre une nouvelle période de prêt, qui suit la période en cours (ou court du jour "
            "du renouvellement si la période était échue).",
        ),
        ElusActionRoute(
            ElusAction.RECORD_RETURN,
            "return",
            ReturnBody,
            lambda c, b: RecordReturnInput(actor=c.actor, returned_on=b.returned_on),
            "Enregistrer la restitution du bouton d'appel",
            "Clôt le prêt.",
        ),
        ElusActionRoute(
            ElusAction.DECIDE_STATE_PROTECTION,
            "decision",
            StateProtectionDecisionBody,
            lambda c, b: DecideStateProtectionInput(
                actor=c.actor, granted=b.granted, decided_on=b.decided_on, reasons=b.reasons
            ),
            "Statuer sur une demande de protection fonctionnelle (R. 39-11)",
            "Accorde ou refuse (avec ses motifs) la protection ; le candidat reçoit la décision "
            "avec les voies et délais de recours.",
        ),
        ElusActionRoute(
            ElusAction.WITHDRAW_STATE_PROTECTION_REQUEST,
            "withdrawal",
            EmptyBody,
            lambda c, b: WithdrawStateProtectionInput(actor=c.actor),
            "Retirer sa demande de protection fonctionnelle",
            "Avant la décision du préfet.",
        ),
    )
}


async def perform_elus_action(
    services: Services,
    user: CurrentUser,
    procedure_id: str,
    action: ElusAction,
    data: BaseModel,
    key: str | None = None,
) -> ActionDone:
    """What the route of ``action`` does: the pages call it with the body their form made."""
    route = ELUS_ACTION_ROUTES[action]
    return await ElusGateway(services).act(user, procedure_id, action, route.to_input, data, key)


def _declare(route: ElusActionRoute) -> None:
    allow = Allow(*ELUS_RULES[route.action].roles)
    model = route.body
    action = route.action

    async def endpoint(
        procedure_id: ProcedureIdPath,
        data: model,  # type: ignore[valid-type]
        services: ServicesDep,
        user: Annotated[CurrentUser, Depends(allow)],
        key: IdempotencyKeyDep,
    ) -> ActionDone:
        return await perform_elus_action(services, user, procedure_id, action, data, key)

    rule = ELUS_RULES[action]
    router.add_api_route(
        f"/elus/procedures/{{procedure_id}}/{route.segment}",
        endpoint,
        methods=["POST"],
        response_model=ActionDone,
        summary=route.summary,
        description=route.description
        + f"\n\nRéservé à : {', '.join(sorted(role.value for role in rule.roles))}.",
        responses=_RESPONSES,  # type: ignore[arg-type]
        name=action.value,
        openapi_extra={"x-secupol-elus-action": action.value},
    )


for _route in ELUS_ACTION_ROUTES.values():
    _declare(_route)


# --- Starts, reads, lists -------------------------------------------------------------------------


@router.post(
    "/elus/protections",
    status_code=status.HTTP_201_CREATED,
    response_model=ProcedurePublic,
    summary="Déposer une demande de protection fonctionnelle",
    description="Un élu (pour lui-même) ou un agent de la collectivité (pour un élu, avec le "
    "jour de réception) dépose la demande ; l'élu en reçoit l'accusé de réception et la "
    "collectivité la liste de ses deux formalités.",
    responses=_RESPONSES,  # type: ignore[arg-type]
    name=ElusAction.FILE_PROTECTION_REQUEST.value,
)
async def file_protection_request(
    body: ProtectionRequestCreate,
    services: ServicesDep,
    user: Annotated[
        CurrentUser, Depends(Allow(*ELUS_RULES[ElusAction.FILE_PROTECTION_REQUEST].roles))
    ],
    key: IdempotencyKeyDep,
) -> ProcedurePublic:
    return await ElusGateway(services).file_protection(user, body, key)


@router.post(
    "/elus/alert-buttons",
    status_code=status.HTTP_201_CREATED,
    response_model=ProcedurePublic,
    summary="Enregistrer l'attribution d'un bouton d'appel",
    description="La préfecture enregistre la décision du préfet, prise après l'évaluation du "
    "référent ; l'élu en est informé.",
    responses=_RESPONSES,  # type: ignore[arg-type]
    name=ElusAction.DECIDE_ALERT_BUTTON.value,
)
async def decide_alert_button(
    body: AlertButtonCreate,
    services: ServicesDep,
    user: Annotated[CurrentUser, Depends(Allow(*ELUS_RULES[ElusAction.DECIDE_ALERT_BUTTON].roles))],
    key: IdempotencyKeyDep,
) -> ProcedurePublic:
    return await ElusGateway(services).decide_alert_button(user, body, key)


@router.post(
    "/elus/state-protections",
    status_code=status.HTTP_201_CREATED,
    response_model=ProcedurePublic,
    summary="Demander la protection fonctionnelle de l'État (R. 39-11)",
    description="Un candidat demande au préfet du département la protection fonctionnelle de "
    "l'État. Les conditions exigées (référence de plainte, date de déclaration de candidature) "
    "sont des réglages.",
    responses=_RESPONSES,  # type: ignore[arg-type]
    name=ElusAction.REQUEST_STATE_PROTECTION.value,
)
async def request_state_protection(
    body: StateProtectionCreate,
    services: ServicesDep,
    user: Annotated[
        CurrentUser, Depends(Allow(*ELUS_RULES[ElusAction.REQUEST_STATE_PROTECTION].roles))
    ],
    key: IdempotencyKeyDep,
) -> ProcedurePublic:
    return await ElusGateway(services).request_state_protection(user, body, key)


@router.get(
    "/elus/procedures",
    response_model=list[ProcedureSummary],
    summary="Lister les procédures que l'on peut voir",
    description="Élus : leurs demandes et prêts ; candidats : leurs demandes (R. 39-11) ; agents "
    "de collectivité : les demandes de leurs collectivités ; préfecture : les procédures de ses "
    "départements.",
    responses=_RESPONSES,  # type: ignore[arg-type]
)
async def list_procedures(
    services: ServicesDep,
    user: Annotated[CurrentUser, Depends(Allow(*ELUS_ROLES))],
    procedure: Annotated[
        Literal["protection", "bouton", "protection-candidat"] | None,
        Query(description="Une seule procédure : protection, bouton ou protection-candidat."),
    ] = None,
) -> list[ProcedureSummary]:
    return await ElusGateway(services).list(user, Procedure(procedure) if procedure else None)


@router.get(
    "/elus/procedures/{procedure_id}",
    response_model=ProcedurePublic,
    summary="Lire une procédure",
    description="Une procédure que l'on ne peut pas voir répond 404, qu'elle existe ou non.",
    responses=_RESPONSES,  # type: ignore[arg-type]
)
async def read_procedure(
    procedure_id: ProcedureIdPath,
    services: ServicesDep,
    user: Annotated[CurrentUser, Depends(Allow(*ELUS_ROLES))],
) -> ProcedurePublic:
    actor, state = await ElusGateway(services).read(user, procedure_id)
    return view(actor, state)


# --- Collectivités, their staff, officials' accounts ---------------------------------------------


@router.post(
    "/elus/collectivites",
    status_code=status.HTTP_201_CREATED,
    response_model=CollectivitePublic,
    summary="Enregistrer une collectivité",
    description="Ajoute une collectivité, ou change son nom, son département ou son adresse.",
    responses=_RESPONSES,  # type: ignore[arg-type]
)
async def put_collectivite(
    body: CollectiviteCreate,
    services: ServicesDep,
    user: Annotated[CurrentUser, Depends(Allow(Role.ADMIN))],
) -> CollectivitePublic:
    info = build_input(lambda: CollectiviteInfo(**body.model_dump()))
    try:
        await save_collectivite(services.engine, info)
    except DomainError as error:
        raise ApiError(error.code, field=error.field, message=error.message) from None
    return CollectivitePublic.model_validate(info, from_attributes=True)


@router.get(
    "/elus/collectivites",
    response_model=list[CollectivitePublic],
    summary="Lister les collectivités",
    description="Les collectivités auxquelles une demande peut être adressée.",
    responses=_RESPONSES,  # type: ignore[arg-type]
)
async def get_collectivites(
    services: ServicesDep,
    user: Annotated[CurrentUser, Depends(Allow(Role.ADMIN, Role.COLLECTIVITE, Role.ELU))],
) -> list[CollectivitePublic]:
    return [
        CollectivitePublic.model_validate(info, from_attributes=True)
        for info in await list_collectivites(services.engine)
    ]


@router.post(
    "/elus/collectivite-staff",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffTokenPublic,
    summary="Créer le compte d'un agent de collectivité",
    description="Crée le compte, le rattache à ses collectivités et rend son premier jeton de "
    "session, montré une seule fois.",
    responses=_RESPONSES,  # type: ignore[arg-type]
)
async def create_collectivite_staff(
    body: CollectiviteStaffCreate,
    services: ServicesDep,
    user: Annotated[CurrentUser, Depends(Allow(Role.ADMIN))],
) -> StaffTokenPublic:
    try:
        account = await services.accounts.create(
            email=body.email, display_name=body.display_name, role=Role.COLLECTIVITE
        )
        for collectivite_id in body.collectivites:
            await grant_collectivite(services.engine, account.account_id, collectivite_id)
    except DomainError as error:
        raise ApiError(error.code, field=error.field, message=error.message) from None
    token = await services.accounts.open_session(account.account_id)
    return StaffTokenPublic(account_id=account.account_id, token=token)


@router.post(
    "/elus/officials",
    status_code=status.HTTP_201_CREATED,
    response_model=OfficialPublic,
    summary="Créer le compte d'un élu",
    description="Un agent de collectivité crée le compte d'un élu, qui reçoit un lien de "
    "connexion par courriel. Si l'élu a déjà un compte, c'est celui-ci qui est rendu.",
    responses=_RESPONSES,  # type: ignore[arg-type]
)
async def create_official(
    body: OfficialCreate,
    services: ServicesDep,
    user: Annotated[CurrentUser, Depends(Allow(Role.COLLECTIVITE))],
) -> OfficialPublic:
    existing = await services.accounts.find_by_email(body.email)
    if existing is not None:
        if existing.role != Role.ELU:
            raise ApiError(ErrorCode.ACCOUNT_EXISTS, field="email")
        return OfficialPublic(account_id=existing.account_id)
    try:
        account = await services.accounts.create(
            email=body.email, display_name=body.name, role=Role.ELU
        )
    except DomainError as error:
        raise ApiError(error.code, field=error.field, message=error.message) from None
    services.sign_in_links.request(account.email)
    return OfficialPublic(account_id=account.account_id)


for _api_route in router.routes:
    # Stable operation ids for generated clients: the endpoint's name.
    _api_route.operation_id = _api_route.name  # type: ignore[attr-defined]
