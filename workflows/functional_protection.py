"""``FunctionalProtectionWorkflow``: an official's automatic functional protection.

Filed with the collectivité (by the official or its staff), acknowledged by email; the staff
record the transmission to the prefect and the information of the council members. Once both are
done the first day of protection is known (``domain.protection.start_once_done`` on the last day
of the jours francs the API computed at filing): a timer waits for it and the official is told the
moment protection begins. For four months the council may withdraw or abrogate it by a motivated
deliberation (kind, date, reason); then the protection is final. Meanwhile the staff record the
members' request to convene the council and its convocation (the session must fall within the four
months: ``domain.elus.convening_deadline``, shown, not enforced, as a late session is still a fact).

Versioning: the two convening Updates were added after histories were recorded. They change the
stage of nothing and schedule no command (an entry in the state's history, no email, no timer), and
old runs never receive them, so older histories replay unchanged without a ``patched`` marker
(``tests/workflows/test_replay.py`` replays the ``v5-elus_*`` histories, recorded under the
label the case's histories had then). The reminder of a convening request without convocation
(``domain.elus.convening_reminder_due``) does schedule a timer and an email: a request recorded
under ``PATCH_CONVENING_REMINDER`` owes it, one recorded before (a replayed history without the
marker) does not.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from temporalio import workflow

from workflows.elus_common import SYSTEM_ACTOR, ElusWorkflowBase, refuse

with workflow.unsafe.imports_passed_through():
    from domain.calendar import french_date, last_paris_day
    from domain.elus import (
        WORKFLOW_TYPES,
        Deliberation,
        ElusAction,
        ElusActionResult,
        ElusActor,
        ElusEmailTemplate,
        ElusOutcome,
        ElusRecipient,
        ElusResult,
        ElusStage,
        FileProtectionRequestInput,
        Procedure,
        ProtectionState,
        RecordConveningRequestInput,
        RecordCouncilConvenedInput,
        RecordDeliberationInput,
        RecordObligationInput,
        convening_deadline,
        convening_reminder_due,
        procedure_workflow_id,
        protection_next_due,
    )
    from domain.errors import DomainError, ErrorCode
    from domain.protection import start_of_day, start_once_done, withdrawal_window_end
    from domain.stages import Role


PATCH_CONVENING_REMINDER = "fp-convening-reminder-v1"
"""A convening request recorded from this version on owes the collectivité a reminder."""


@workflow.defn(name=WORKFLOW_TYPES[Procedure.FUNCTIONAL_PROTECTION])
class FunctionalProtectionWorkflow(ElusWorkflowBase):
    """One request (id: ``protection-{request_id}``)."""

    _state: ProtectionState

    @workflow.init
    def __init__(self, input: FileProtectionRequestInput) -> None:
        self._init_base()
        now = workflow.now()
        self._state = ProtectionState(
            procedure_id=procedure_workflow_id(Procedure.FUNCTIONAL_PROTECTION, input.request_id),
            request=input,
            filed_at=now,
        )

    @workflow.run
    async def run(self, input: FileProtectionRequestInput) -> ElusResult:
        state = self._state
        if not state.history:
            self._transition(ElusAction.FILE_PROTECTION_REQUEST, input.actor.role, input.actor.id)
            # _transition moved from the initial stage to itself: record it as the filing.
            state.history[-1].from_stage = None
            self._notify(
                ElusEmailTemplate.FP_ACKNOWLEDGED, ElusRecipient.REQUESTER, security_pack=True
            )
            self._notify(ElusEmailTemplate.FP_NEW_REQUEST, ElusRecipient.COLLECTIVITE)
        return await self._run_loop()

    @workflow.query
    def state(self) -> ProtectionState:
        return self._state

    # --- Timers -------------------------------------------------------------------------------

    def _next_wakeup(self) -> dt.datetime | None:
        return protection_next_due(self._state)

    def _fire_due(self, now: dt.datetime) -> None:
        state = self._state
        reminder_at = convening_reminder_due(state)
        if reminder_at is not None and now >= reminder_at:
            state.convening.reminded_at = now
            self._notify(
                ElusEmailTemplate.FP_CONVENING_REMINDER,
                ElusRecipient.COLLECTIVITE,
                convening_requested_on=state.convening.requested_on,
                window_ends_on=convening_deadline(state),
            )
        if (
            state.stage == ElusStage.FP_SCHEDULED
            and state.starts_at is not None
            and now >= state.starts_at
        ):
            self._begin(
                ElusAction.PROTECTION_BEGINS, ElusOutcome.DEFAULT, Role.SYSTEM, SYSTEM_ACTOR
            )
        if (
            state.stage == ElusStage.FP_PROTECTED
            and state.window_ends_at is not None
            and now >= state.window_ends_at
        ):
            self._transition(ElusAction.WITHDRAWAL_WINDOW_ENDS, Role.SYSTEM, SYSTEM_ACTOR)
            self._notify(ElusEmailTemplate.FP_FINAL, ElusRecipient.REQUESTER, security_pack=True)

    def _begin(self, action: ElusAction, outcome: ElusOutcome, role: Role, actor_id: str) -> None:
        state = self._state
        assert state.starts_on is not None and state.starts_at is not None
        window = state.request.policy.withdrawal_window
        state.window_ends_at = (
            state.starts_at + window
            if window is not None
            else withdrawal_window_end(state.starts_on)
        )
        self._transition(action, role, actor_id, outcome)
        self._notify(
            ElusEmailTemplate.FP_PROTECTION_BEGINS, ElusRecipient.REQUESTER, security_pack=True
        )

    # --- Updates ------------------------------------------------------------------------------

    @workflow.update(name=ElusAction.RECORD_TRANSMISSION.value)
    async def record_transmission(self, input: RecordObligationInput) -> ElusActionResult:
        self._state.transmitted_on = input.done_on
        self._notify(ElusEmailTemplate.FP_TRANSMITTED, ElusRecipient.PREFECTURE)
        self._after_obligation(ElusAction.RECORD_TRANSMISSION, input.actor)
        return self._result()

    @record_transmission.validator
    def _validate_record_transmission(self, input: RecordObligationInput) -> None:
        self._validate_obligation(ElusAction.RECORD_TRANSMISSION, input, self._state.transmitted_on)

    @workflow.update(name=ElusAction.RECORD_COUNCIL_INFORMATION.value)
    async def record_council_information(self, input: RecordObligationInput) -> ElusActionResult:
        self._state.informed_on = input.done_on
        self._after_obligation(ElusAction.RECORD_COUNCIL_INFORMATION, input.actor)
        return self._result()

    @record_council_information.validator
    def _validate_record_council_information(self, input: RecordObligationInput) -> None:
        self._validate_obligation(
            ElusAction.RECORD_COUNCIL_INFORMATION, input, self._state.informed_on
        )

    def _validate_obligation(
        self, action: ElusAction, input: RecordObligationInput, already: dt.date | None
    ) -> None:
        self._authorise(action, input.actor)
        if already is not None:
            refuse(ErrorCode.WRONG_STAGE, "Cette étape est déjà enregistrée pour cette demande.")
        self._check_day(
            input.done_on, self._state.request.received_on, "done_on", "La date d'accomplissement"
        )

    def _after_obligation(self, action: ElusAction, actor: ElusActor) -> None:
        state = self._state
        request = state.request
        starts_on = start_once_done(request.delay_ends_on, state.transmitted_on, state.informed_on)
        if starts_on is None:
            self._transition(action, actor.role, actor.id, ElusOutcome.PENDING)
            return
        state.starts_on = starts_on
        in_time = starts_on == request.delay_ends_on + dt.timedelta(days=1)
        # In time: the instant the filing carried (00:00 Paris after the fifth jour franc);
        # late: 00:00 Paris on the day the later obligation was done, already past.
        state.starts_at = request.delay_ends_at if in_time else start_of_day(starts_on)
        if state.starts_at > workflow.now():
            self._transition(action, actor.role, actor.id, ElusOutcome.SCHEDULED)
        else:
            self._begin(action, ElusOutcome.STARTED, actor.role, actor.id)

    @workflow.update(name=ElusAction.RECORD_DELIBERATION.value)
    async def record_deliberation(self, input: RecordDeliberationInput) -> ElusActionResult:
        state = self._state
        state.deliberation = Deliberation(
            kind=input.kind,
            deliberation_on=input.deliberation_on,
            reason=input.reason,
            recorded_at=workflow.now(),
            recorded_by=input.actor.id,
        )
        self._transition(ElusAction.RECORD_DELIBERATION, input.actor.role, input.actor.id)
        self._notify(
            ElusEmailTemplate.FP_WITHDRAWN,
            ElusRecipient.REQUESTER,
            security_pack=True,
            deliberation_on=input.deliberation_on,
            deliberation_kind=input.kind,
            reason=input.reason,
        )
        return self._result()

    @record_deliberation.validator
    def _validate_record_deliberation(self, input: RecordDeliberationInput) -> None:
        state = self._state
        self._authorise(ElusAction.RECORD_DELIBERATION, input.actor)
        if state.window_ends_at is not None and workflow.now() >= state.window_ends_at:
            refuse(
                ErrorCode.WRONG_STAGE,
                "Le délai de quatre mois pendant lequel le conseil pouvait retirer ou abroger "
                "la protection est expiré : elle est définitive.",
            )
        self._check_day(
            input.deliberation_on,
            state.request.received_on,
            "deliberation_on",
            "La date de la délibération",
        )
        if state.window_ends_at is not None:
            last_day = last_paris_day(state.window_ends_at)
            if input.deliberation_on > last_day:
                refuse(
                    ErrorCode.INVALID_DATE_RANGE,
                    "La délibération doit intervenir dans les quatre mois du début de la "
                    f"protection, au plus tard le {french_date(last_day)}.",
                    "deliberation_on",
                )

    @workflow.update(name=ElusAction.RECORD_CONVENING_REQUEST.value)
    async def record_convening_request(
        self, input: RecordConveningRequestInput
    ) -> ElusActionResult:
        convening = self._state.convening
        convening.requested_on = input.requested_on
        convening.request_recorded_by = input.actor.id
        convening.reminder_owed = workflow.patched(PATCH_CONVENING_REMINDER)
        self._transition(ElusAction.RECORD_CONVENING_REQUEST, input.actor.role, input.actor.id)
        return self._result()

    @record_convening_request.validator
    def _validate_record_convening_request(self, input: RecordConveningRequestInput) -> None:
        state = self._state
        self._validate_within_window(ElusAction.RECORD_CONVENING_REQUEST, input.actor)
        if state.convening.requested_on is not None:
            refuse(
                ErrorCode.WRONG_STAGE,
                "La demande de convocation du conseil est déjà enregistrée pour cette demande.",
            )
        self._check_day(
            input.requested_on,
            state.request.received_on,
            "requested_on",
            "La date de la demande de convocation",
        )

    @workflow.update(name=ElusAction.RECORD_COUNCIL_CONVENED.value)
    async def record_council_convened(self, input: RecordCouncilConvenedInput) -> ElusActionResult:
        convening = self._state.convening
        convening.convened_on = input.convened_on
        convening.session_on = input.session_on
        convening.convocation_recorded_by = input.actor.id
        self._transition(ElusAction.RECORD_COUNCIL_CONVENED, input.actor.role, input.actor.id)
        return self._result()

    @record_council_convened.validator
    def _validate_record_council_convened(self, input: RecordCouncilConvenedInput) -> None:
        state = self._state
        self._validate_within_window(ElusAction.RECORD_COUNCIL_CONVENED, input.actor)
        if state.convening.convened_on is not None:
            refuse(
                ErrorCode.WRONG_STAGE,
                "La convocation du conseil est déjà enregistrée pour cette demande.",
            )
        self._check_day(
            input.convened_on,
            state.convening.requested_on or state.request.received_on,
            "convened_on",
            "La date de la convocation",
        )
        if input.session_on < input.convened_on:
            refuse(
                ErrorCode.INVALID_DATE_RANGE,
                "La séance ne peut pas précéder la convocation.",
                "session_on",
            )

    def _validate_within_window(self, action: ElusAction, actor: ElusActor) -> None:
        """The stage table, then the four months (the timer may not have fired yet)."""
        self._authorise(action, actor)
        window_ends_at = self._state.window_ends_at
        if window_ends_at is not None and workflow.now() >= window_ends_at:
            refuse(
                ErrorCode.WRONG_STAGE,
                "Le délai de quatre mois est expiré : la protection est définitive.",
            )

    # --- What the base needs ------------------------------------------------------------------

    def _departement(self) -> str:
        return self._state.request.collectivite.departement

    def _collectivite(self) -> str | None:
        return self._state.request.collectivite.collectivite_id

    def _requester_account(self) -> str | None:
        return self._state.request.official.account_id

    def _check_scope(self, actor: ElusActor) -> None:
        request = self._state.request
        if actor.role == Role.COLLECTIVITE and (
            request.collectivite.collectivite_id not in actor.collectivites
        ):
            raise DomainError(ErrorCode.OUT_OF_SCOPE)
        if actor.role == Role.PREFECTURE and self._departement() not in actor.departements:
            raise DomainError(ErrorCode.OUT_OF_SCOPE)
        if actor.role == Role.ELU and actor.id != request.official.account_id:
            raise DomainError(ErrorCode.NOT_YOUR_CASE)

    def _addresses(self) -> dict[ElusRecipient, str]:
        request = self._state.request
        return {
            ElusRecipient.REQUESTER: request.official.email,
            ElusRecipient.COLLECTIVITE: request.collectivite.email,
            ElusRecipient.PREFECTURE: request.prefecture_email,
        }

    def _give_up_after(self) -> dt.timedelta:
        return self._state.request.policy.email_give_up_after

    def _base_facts(self) -> dict[str, Any]:
        state = self._state
        request = state.request
        window_last = (
            last_paris_day(state.window_ends_at) if state.window_ends_at is not None else None
        )
        return {
            "reference": state.procedure_id,
            "departement": request.collectivite.departement,
            "requester_name": request.official.name,
            "collectivite_name": request.collectivite.name,
            "received_on": request.received_on,
            "delay_ends_on": request.delay_ends_on,
            "starts_on": state.starts_on,
            "window_ends_on": window_last,
        }
