"""``CandidateProtectionWorkflow``: a candidate's request for the State's functional protection.

Code électoral R. 39-11 (décret 2026-8): the request goes to the prefect. Its text was not in
our sources, so the model is the plainest one: the request (conditions checked by the API from
settings), reminders to the prefecture while no decision is recorded, the decision (granted, or
refused with its reasons) and its notice to the candidate with the voies et délais de recours.
The candidate may withdraw the request before the decision.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from temporalio import workflow

from workflows.elus_common import ElusWorkflowBase, refuse

with workflow.unsafe.imports_passed_through():
    from domain.calendar import PARIS
    from domain.elus import (
        WORKFLOW_TYPES,
        CandidateProtectionState,
        DecideStateProtectionInput,
        ElusAction,
        ElusActionResult,
        ElusActor,
        ElusEmailTemplate,
        ElusOutcome,
        ElusRecipient,
        ElusResult,
        Procedure,
        RequestStateProtectionInput,
        StateProtectionDecision,
        WithdrawStateProtectionInput,
        procedure_workflow_id,
        state_protection_next_due,
        state_protection_reminders_owed,
    )
    from domain.errors import DomainError, ErrorCode
    from domain.stages import Role


@workflow.defn(name=WORKFLOW_TYPES[Procedure.CANDIDATE_PROTECTION])
class CandidateProtectionWorkflow(ElusWorkflowBase):
    """One request (id: ``protection-candidat-{request_id}``)."""

    _state: CandidateProtectionState

    @workflow.init
    def __init__(self, input: RequestStateProtectionInput) -> None:
        self._init_base()
        self._state = CandidateProtectionState(
            procedure_id=procedure_workflow_id(Procedure.CANDIDATE_PROTECTION, input.request_id),
            request=input,
            requested_at=workflow.now(),
        )

    @workflow.run
    async def run(self, input: RequestStateProtectionInput) -> ElusResult:
        state = self._state
        if not state.history:
            self._transition(ElusAction.REQUEST_STATE_PROTECTION, input.actor.role, input.actor.id)
            state.history[-1].from_stage = None
            self._notify(ElusEmailTemplate.CP_REQUESTED, ElusRecipient.PREFECTURE)
            self._notify(
                ElusEmailTemplate.CP_ACKNOWLEDGED, ElusRecipient.REQUESTER, security_pack=True
            )
        return await self._run_loop()

    @workflow.query
    def state(self) -> CandidateProtectionState:
        return self._state

    # --- Timers -------------------------------------------------------------------------------

    def _next_wakeup(self) -> dt.datetime | None:
        return state_protection_next_due(self._state)

    def _fire_due(self, now: dt.datetime) -> None:
        state = self._state
        due = self._next_wakeup()
        if due is None or now < due:
            return
        # After a long outage, one reminder stands for all the missed ones.
        state.reminders_sent = state_protection_reminders_owed(state, now)
        self._notify(
            ElusEmailTemplate.CP_REMINDER,
            ElusRecipient.PREFECTURE,
            str(state.reminders_sent),
            reminder_number=state.reminders_sent,
        )
        self._changed()

    # --- Updates ------------------------------------------------------------------------------

    @workflow.update(name=ElusAction.DECIDE_STATE_PROTECTION.value)
    async def decide_state_protection(self, input: DecideStateProtectionInput) -> ElusActionResult:
        state = self._state
        state.decision = StateProtectionDecision(
            granted=input.granted,
            decided_on=input.decided_on,
            reasons=input.reasons,
            decided_by=input.actor.id,
            recorded_at=workflow.now(),
        )
        outcome = ElusOutcome.GRANTED if input.granted else ElusOutcome.REFUSED
        self._transition(
            ElusAction.DECIDE_STATE_PROTECTION, input.actor.role, input.actor.id, outcome
        )
        self._notify(
            ElusEmailTemplate.CP_DECISION,
            ElusRecipient.REQUESTER,
            security_pack=True,
            recourse=True,
            granted=input.granted,
            decided_on=input.decided_on,
            reason=input.reasons,
        )
        return self._result()

    @decide_state_protection.validator
    def _validate_decide_state_protection(self, input: DecideStateProtectionInput) -> None:
        self._authorise(ElusAction.DECIDE_STATE_PROTECTION, input.actor)
        requested_on = self._state.requested_at.astimezone(PARIS).date()
        self._check_day(input.decided_on, requested_on, "decided_on", "La date de la décision")
        if not input.granted and not input.reasons:
            refuse(
                ErrorCode.REASONS_REQUIRED,
                "Un refus de protection doit être motivé : indiquez ses motifs.",
                "reasons",
            )

    @workflow.update(name=ElusAction.WITHDRAW_STATE_PROTECTION_REQUEST.value)
    async def withdraw_state_protection_request(
        self, input: WithdrawStateProtectionInput
    ) -> ElusActionResult:
        self._transition(
            ElusAction.WITHDRAW_STATE_PROTECTION_REQUEST, input.actor.role, input.actor.id
        )
        self._notify(ElusEmailTemplate.CP_WITHDRAWN, ElusRecipient.REQUESTER, security_pack=True)
        self._notify(ElusEmailTemplate.CP_WITHDRAWN, ElusRecipient.PREFECTURE)
        return self._result()

    @withdraw_state_protection_request.validator
    def _validate_withdraw(self, input: WithdrawStateProtectionInput) -> None:
        self._authorise(ElusAction.WITHDRAW_STATE_PROTECTION_REQUEST, input.actor)

    # --- What the base needs ------------------------------------------------------------------

    def _departement(self) -> str:
        return self._state.request.departement

    def _requester_account(self) -> str | None:
        return self._state.request.candidate.account_id

    def _check_scope(self, actor: ElusActor) -> None:
        if actor.role == Role.PREFECTURE and self._departement() not in actor.departements:
            raise DomainError(ErrorCode.OUT_OF_SCOPE)
        if actor.role == Role.CANDIDATE and actor.id != self._state.request.candidate.account_id:
            raise DomainError(ErrorCode.NOT_YOUR_CASE)

    def _addresses(self) -> dict[ElusRecipient, str]:
        request = self._state.request
        return {
            ElusRecipient.REQUESTER: request.candidate.email,
            ElusRecipient.PREFECTURE: request.prefecture_email,
        }

    def _give_up_after(self) -> dt.timedelta:
        return self._state.request.policy.email_give_up_after

    def _base_facts(self) -> dict[str, Any]:
        state = self._state
        return {
            "reference": state.procedure_id,
            "departement": state.request.departement,
            "requester_name": state.request.candidate.name,
            "election_label": state.request.election_label,
            "received_on": state.requested_at.astimezone(PARIS).date(),
        }
