"""What the JSON routes and the pages do with an élus' procedure: scope, read, act, start, list.

Scope rules (a procedure that is not yours answers 404 ``case_not_found``, never 403):

- an official (``elu``) sees the functional-protection requests and alert-button loans that name
  their account;
- a candidate sees their own State functional-protection requests (R. 39-11);
- collectivité staff see the functional-protection requests of the collectivités they serve;
- prefecture staff see every procedure of their départements.

Every action and every start is in the audit log. Values that depend on the law and the calendar
(the end of the jours francs, the end of a loan period) are computed here with
``domain.protection`` and carried in the workflows' inputs. The workflows check the same scope
and stage again in their validators.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from api import audit
from api.deps import CurrentUser, Services
from api.elus_schemas import (
    ActionDone,
    ActionLink,
    AlertButtonCreate,
    PeriodPublic,
    ProcedurePublic,
    ProcedureSummary,
    ProtectionRequestCreate,
    StageChangePublic,
    StateProtectionCreate,
)
from api.errors import ApiError, error_code
from api.gateway import build_input, quoted
from core.accounts import AccountRecord
from core.cases import CaseNotFound
from core.db import elections, prefectures
from core.elus import DEPARTEMENT_KEY as _DEPARTEMENT
from core.elus import STAGE_KEY as _STAGE
from core.elus import ElusClient, ProcedureState, collectivites_of, get_collectivite
from domain.calendar import PARIS, last_paris_day
from domain.elus import (
    ELUS_RULES,
    ELUS_STAGE_LABELS,
    WORKFLOW_TYPES,
    CandidateProtectionPolicy,
    DecideAlertButtonInput,
    ElusAction,
    ElusActionInput,
    ElusActor,
    ElusStage,
    FileProtectionRequestInput,
    LoanPolicy,
    LoanState,
    Person,
    Procedure,
    ProtectionPolicy,
    ProtectionState,
    RequestStateProtectionInput,
    convening_deadline,
    elus_actions_for,
    procedure_of,
    procedure_workflow_id,
)
from domain.errors import ErrorCode
from domain.identifiers import is_valid_departement
from domain.protection import delay_end, received_day, start_of_day
from domain.stages import Role

ELUS_ROLES = frozenset({Role.ELU, Role.COLLECTIVITE, Role.PREFECTURE, Role.CANDIDATE})


@dataclass(frozen=True)
class ActionContext:
    """What building an action's input may use."""

    actor: ElusActor
    state: ProcedureState
    services: Services


InputMaker = Callable[[ActionContext, Any], ElusActionInput]


def _not_found() -> ApiError:
    return ApiError(ErrorCode.CASE_NOT_FOUND)


def _reference(user: CurrentUser, key: str | None) -> str:
    """The procedure's reference: derived from the caller's idempotency key when there is one,
    so that a retried request starts nothing new."""
    if key is None:
        return uuid.uuid4().hex[:20]
    return hashlib.sha256(f"{user.account.account_id}:{key}".encode()).hexdigest()[:20]


def visible(actor: ElusActor, state: ProcedureState) -> bool:
    if actor.role == Role.PREFECTURE:
        return _departement(state) in actor.departements
    if isinstance(state, ProtectionState):
        request = state.request
        if actor.role == Role.COLLECTIVITE:
            return request.collectivite.collectivite_id in actor.collectivites
        return actor.role == Role.ELU and request.official.account_id == actor.id
    if isinstance(state, LoanState):
        return actor.role == Role.ELU and state.decision.official.account_id == actor.id
    return actor.role == Role.CANDIDATE and state.request.candidate.account_id == actor.id


def _departement(state: ProcedureState) -> str:
    if isinstance(state, ProtectionState):
        return state.request.collectivite.departement
    if isinstance(state, LoanState):
        return state.decision.departement
    return state.request.departement


def _paris_day(at: dt.datetime) -> dt.date:
    return at.astimezone(PARIS).date()


def view(actor: ElusActor, state: ProcedureState) -> ProcedurePublic:
    """The procedure as ``actor`` may read it."""
    stage = state.stage
    common: dict[str, Any] = {
        "procedure_id": state.procedure_id,
        "stage": stage,
        "stage_label": ELUS_STAGE_LABELS[stage],
        "departement": _departement(state),
        "history": [
            StageChangePublic(
                at=change.at,
                action=change.action,
                label=ELUS_RULES[change.action].label,
                to_stage=change.to_stage,
            )
            for change in state.history
        ],
        "actions": [
            ActionLink(action=action, label=ELUS_RULES[action].label)
            for action in elus_actions_for(stage, actor.role)
        ],
    }
    if isinstance(state, ProtectionState):
        request = state.request
        deliberation = state.deliberation
        convening = state.convening
        deadline = convening_deadline(state)
        return ProcedurePublic(
            procedure=Procedure.FUNCTIONAL_PROTECTION,
            requester_name=request.official.name,
            collectivite_name=request.collectivite.name,
            mandate=request.mandate,
            facts=request.facts,
            received_on=request.received_on,
            delay_ends_on=request.delay_ends_on,
            transmitted_on=state.transmitted_on,
            informed_on=state.informed_on,
            starts_on=state.starts_on,
            window_last_day=last_paris_day(state.window_ends_at) if state.window_ends_at else None,
            convening_requested_on=convening.requested_on,
            council_convened_on=convening.convened_on,
            council_session_on=convening.session_on,
            convening_deadline=deadline,
            council_session_late=(
                convening.session_on > deadline
                if convening.session_on is not None and deadline is not None
                else None
            ),
            convening_reminded_on=(
                _paris_day(convening.reminded_at) if convening.reminded_at else None
            ),
            deliberation_kind=deliberation.kind if deliberation else None,
            deliberation_on=deliberation.deliberation_on if deliberation else None,
            deliberation_reason=deliberation.reason if deliberation else None,
            **common,
        )
    if isinstance(state, LoanState):
        decision = state.decision
        return ProcedurePublic(
            procedure=Procedure.ALERT_BUTTON,
            requester_name=decision.official.name,
            mandate=decision.mandate,
            decided_on=decision.decided_on,
            handed_over_on=state.handed_over_on,
            periods=[
                PeriodPublic(
                    number=period.number,
                    starts_on=period.starts_on,
                    ends_on=last_paris_day(period.ends_at),
                )
                for period in state.periods
            ],
            returned_on=state.returned_on,
            **common,
        )
    cp_decision = state.decision
    return ProcedurePublic(
        procedure=Procedure.CANDIDATE_PROTECTION,
        requester_name=state.request.candidate.name,
        facts=state.request.facts,
        election_label=state.request.election_label,
        received_on=_paris_day(state.requested_at),
        decided_on=cp_decision.decided_on if cp_decision else None,
        granted=cp_decision.granted if cp_decision else None,
        reasons=cp_decision.reasons if cp_decision else None,
        **common,
    )


class ElusGateway:
    """The one path of the JSON routes and the pages to the élus' workflows."""

    def __init__(self, services: Services):
        self.services = services

    async def client(self) -> ElusClient:
        cases = await self.services.cases()
        return ElusClient(cases.client, cases.task_queue)

    async def actor(self, user: CurrentUser) -> ElusActor:
        """The caller with the scopes the workflows check."""
        actor = user.actor
        collectivites: list[str] = []
        if actor.role == Role.COLLECTIVITE:
            collectivites = await collectivites_of(self.services.engine, actor.id)
        return ElusActor(
            role=actor.role,
            id=actor.id,
            departements=actor.departements,
            collectivites=collectivites,
        )

    async def read(self, user: CurrentUser, procedure_id: str) -> tuple[ElusActor, ProcedureState]:
        """The procedure, if the caller may see it (else 404)."""
        actor = await self.actor(user)
        if procedure_of(procedure_id) is None or len(procedure_id) > 120:
            raise _not_found()
        try:
            state = await (await self.client()).state(procedure_id)
        except CaseNotFound:
            raise _not_found() from None
        if not visible(actor, state):
            raise _not_found()
        return actor, state

    async def act(
        self,
        user: CurrentUser,
        procedure_id: str,
        action: ElusAction,
        make_input: InputMaker,
        data: BaseModel,
        key: str | None = None,
    ) -> ActionDone:
        """Scope first, then the audit row, then the Update (its validator has the last word)."""
        actor, state = await self.read(user, procedure_id)
        if procedure_of(procedure_id) != ELUS_RULES[action].procedure:
            raise _not_found()
        input = build_input(lambda: make_input(ActionContext(actor, state, self.services), data))
        entry = await audit.begin(
            self.services.engine, user.actor, action.value, case_id=procedure_id, request_id=key
        )
        try:
            result = await (await self.client()).act(procedure_id, action, input, request_id=key)
        except Exception as error:
            await audit.finish(self.services.engine, entry, error_code(error))
            raise
        await audit.finish(self.services.engine, entry, audit.OK)
        return ActionDone(
            procedure_id=result.procedure_id,
            stage=result.stage,
            stage_label=ELUS_STAGE_LABELS[result.stage],
        )

    async def _start(
        self,
        user: CurrentUser,
        action: ElusAction,
        reference: str,
        input: FileProtectionRequestInput | DecideAlertButtonInput | RequestStateProtectionInput,
        **attributes: Any,
    ) -> ProcedurePublic:
        rule = ELUS_RULES[action]
        client = await self.client()
        procedure_id = procedure_workflow_id(rule.procedure, reference)
        entry = await audit.begin(
            self.services.engine, user.actor, action.value, case_id=procedure_id
        )
        try:
            await client.start(rule.procedure, reference, input, stage=rule.to[0][1], **attributes)
        except Exception as error:
            await audit.finish(self.services.engine, entry, error_code(error))
            raise
        await audit.finish(self.services.engine, entry, audit.OK)
        _, state = await self.read(user, procedure_id)
        return view(input.actor, state)

    async def _prefecture_email(self, departement: str) -> str:
        async with self.services.engine.connect() as connection:
            email = (
                await connection.execute(
                    select(prefectures.c.email).where(prefectures.c.departement == departement)
                )
            ).scalar_one_or_none()
        if email is None:
            raise ApiError(ErrorCode.PREFECTURE_UNKNOWN, field="departement")
        return str(email)

    async def file_protection(
        self, user: CurrentUser, body: ProtectionRequestCreate, key: str | None
    ) -> ProcedurePublic:
        """File a functional-protection request (an official for themselves, or staff)."""
        actor = await self.actor(user)
        settings = self.services.settings
        collectivite = await get_collectivite(self.services.engine, body.collectivite_id)
        if collectivite is None or (
            actor.role == Role.COLLECTIVITE
            and collectivite.collectivite_id not in actor.collectivites
        ):
            raise ApiError(
                ErrorCode.PREFECTURE_UNKNOWN,
                field="collectivite_id",
                message="Cette collectivité n'est pas enregistrée dans Sécu'Pol, ou vous ne la "
                "servez pas.",
            )
        now = dt.datetime.now(dt.UTC)
        today = received_day(now)
        if actor.role == Role.ELU:
            official = Person(
                name=user.account.display_name,
                email=user.account.email,
                account_id=user.account.account_id,
            )
            received_on = today  # an official's request is received when the API receives it
        else:
            if body.official_name is None or body.official_email is None:
                raise ApiError(
                    ErrorCode.EMPTY_FIELD,
                    field="official_email",
                    message="Indiquez le nom et l'adresse de l'élu.",
                )
            account = await self.services.accounts.find_by_email(body.official_email)
            official = Person(
                name=body.official_name,
                email=body.official_email,
                account_id=_elu_account(account),
            )
            received_on = body.received_on or today
            if received_on > today:
                raise ApiError(
                    ErrorCode.INVALID_DATE_RANGE,
                    field="received_on",
                    message="La date de réception ne peut pas être dans le futur.",
                )
        last = delay_end(
            received_on,
            extend_to_working_day=settings.protection_extend_to_working_day,
            departement=collectivite.departement,
        )
        prefecture_email = await self._prefecture_email(collectivite.departement)
        reference = _reference(user, key)
        input = build_input(
            lambda: FileProtectionRequestInput(
                actor=actor,
                request_id=reference,
                official=official,
                mandate=body.mandate,
                collectivite=collectivite,
                prefecture_email=prefecture_email,
                facts=body.facts,
                received_on=received_on,
                delay_ends_on=last,
                delay_ends_at=start_of_day(last + dt.timedelta(days=1)),
                extend_to_working_day=settings.protection_extend_to_working_day,
                policy=ProtectionPolicy(
                    email_give_up_after=dt.timedelta(days=settings.email_give_up_days),
                    convening_reminder_before=dt.timedelta(
                        days=settings.protection_convening_reminder_days
                    ),
                ),
            )
        )
        return await self._start(
            user,
            ElusAction.FILE_PROTECTION_REQUEST,
            reference,
            input,
            departement=collectivite.departement,
            collectivite=collectivite.collectivite_id,
            requester=official.account_id,
        )

    async def decide_alert_button(
        self, user: CurrentUser, body: AlertButtonCreate, key: str | None
    ) -> ProcedurePublic:
        actor = await self.actor(user)
        settings = self.services.settings
        if not is_valid_departement(body.departement):
            raise ApiError(ErrorCode.INVALID_DEPARTEMENT, field="departement")
        if body.departement not in actor.departements:
            raise ApiError(
                ErrorCode.INVALID_DEPARTEMENT,
                field="departement",
                message="Vous ne servez pas ce département.",
            )
        today = received_day(dt.datetime.now(dt.UTC))
        if body.decided_on > today or body.referent_evaluated_on > body.decided_on:
            raise ApiError(
                ErrorCode.INVALID_DATE_RANGE,
                field="decided_on",
                message="La décision suit l'évaluation du référent et n'est pas dans le futur.",
            )
        account = await self.services.accounts.find_by_email(body.official_email)
        prefecture_email = await self._prefecture_email(body.departement)
        reference = _reference(user, key)
        input = build_input(
            lambda: DecideAlertButtonInput(
                actor=actor,
                loan_id=reference,
                official=Person(
                    name=body.official_name,
                    email=body.official_email,
                    account_id=_elu_account(account),
                ),
                mandate=body.mandate,
                departement=body.departement,
                prefecture_email=prefecture_email,
                referent_evaluated_on=body.referent_evaluated_on,
                decided_on=body.decided_on,
                policy=LoanPolicy(
                    renewal_reminder_before=dt.timedelta(days=settings.alert_button_reminder_days),
                    overdue_reminder_every=dt.timedelta(
                        days=settings.alert_button_overdue_reminder_days
                    ),
                    email_give_up_after=dt.timedelta(days=settings.email_give_up_days),
                ),
            )
        )
        return await self._start(
            user,
            ElusAction.DECIDE_ALERT_BUTTON,
            reference,
            input,
            departement=body.departement,
            requester=input.official.account_id,
        )

    async def request_state_protection(
        self, user: CurrentUser, body: StateProtectionCreate, key: str | None
    ) -> ProcedurePublic:
        actor = await self.actor(user)
        settings = self.services.settings
        if not is_valid_departement(body.departement):
            raise ApiError(ErrorCode.INVALID_DEPARTEMENT, field="departement")
        if settings.state_protection_requires_complaint and body.complaint_reference is None:
            raise ApiError(
                ErrorCode.EVALUATION_PROOFS_REQUIRED,
                field="complaint_reference",
                message="Indiquez la référence de votre plainte (procès-verbal).",
            )
        if settings.state_protection_requires_candidacy_date and (
            body.candidacy_declared_on is None
        ):
            raise ApiError(
                ErrorCode.CANDIDACY_DATE_INVALID,
                field="candidacy_declared_on",
                message="Indiquez la date à laquelle votre candidature a été rendue publique.",
            )
        async with self.services.engine.connect() as connection:
            label = (
                await connection.execute(
                    select(elections.c.label).where(elections.c.election_id == body.election_id)
                )
            ).scalar_one_or_none()
        if label is None:
            raise ApiError(ErrorCode.ELECTION_UNKNOWN, field="election_id")
        prefecture_email = await self._prefecture_email(body.departement)
        reference = _reference(user, key)
        input = build_input(
            lambda: RequestStateProtectionInput(
                actor=actor,
                request_id=reference,
                candidate=Person(
                    name=user.account.display_name,
                    email=user.account.email,
                    account_id=user.account.account_id,
                ),
                departement=body.departement,
                prefecture_email=prefecture_email,
                election_label=str(label),
                facts=body.facts,
                complaint_reference=body.complaint_reference,
                candidacy_declared_on=body.candidacy_declared_on,
                policy=CandidateProtectionPolicy(
                    decision_reminder_every=dt.timedelta(
                        days=settings.state_protection_reminder_days
                    ),
                    email_give_up_after=dt.timedelta(days=settings.email_give_up_days),
                ),
            )
        )
        return await self._start(
            user,
            ElusAction.REQUEST_STATE_PROTECTION,
            reference,
            input,
            departement=body.departement,
            requester=user.account.account_id,
        )

    async def list(
        self, user: CurrentUser, procedure: Procedure | None = None, limit: int = 200
    ) -> list[ProcedureSummary]:
        """The procedures the caller may see, newest first, from Temporal visibility."""
        actor = await self.actor(user)
        types: list[Procedure]
        if actor.role == Role.ELU:
            types = [Procedure.FUNCTIONAL_PROTECTION, Procedure.ALERT_BUTTON]
            scope = f"SecupolRequester = '{actor.id}'"
        elif actor.role == Role.CANDIDATE:
            types = [Procedure.CANDIDATE_PROTECTION]
            scope = f"SecupolRequester = '{actor.id}'"
        elif actor.role == Role.COLLECTIVITE:
            types = [Procedure.FUNCTIONAL_PROTECTION]
            if not actor.collectivites:
                return []
            scope = f"SecupolCollectivite IN ({quoted(actor.collectivites)})"
        else:
            types = list(Procedure)
            if not actor.departements:
                return []
            scope = f"SecupolDepartement IN ({quoted(actor.departements)})"
        if procedure is not None:
            types = [kind for kind in types if kind == procedure]
            if not types:
                return []
        client = await self.client()
        names = quoted([WORKFLOW_TYPES[kind] for kind in types])
        query = f"WorkflowType IN ({names}) AND TaskQueue = '{client.task_queue}' AND {scope}"
        found: list[ProcedureSummary] = []
        async for execution in client.client.list_workflows(query, limit=limit):
            kind = procedure_of(execution.id)
            stage_value = execution.typed_search_attributes.get(_STAGE)
            if kind is None or stage_value not in _STAGE_VALUES:
                continue
            stage = ElusStage(stage_value)
            departement = execution.typed_search_attributes.get(_DEPARTEMENT) or ""
            found.append(
                ProcedureSummary(
                    procedure_id=execution.id,
                    procedure=kind,
                    stage=stage,
                    stage_label=ELUS_STAGE_LABELS[stage],
                    departement=departement,
                )
            )
        return found


def _elu_account(account: AccountRecord | None) -> str | None:
    """The official's account, when the address is an official's: they then see the request."""
    if account is not None and account.role == Role.ELU and not account.disabled:
        return account.account_id
    return None


_STAGE_VALUES = {stage.value for stage in ElusStage}
