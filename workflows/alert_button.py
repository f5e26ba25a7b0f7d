"""``AlertButtonLoanWorkflow``: the loan of an alert button (bouton d'appel) to an official.

The prefecture records its decision (after the référent's evaluation), the hand-over, and each
renewal (a new period) or the return. Before a period ends the prefecture and the official are
reminded; a period that ends with neither renewal nor return moves the loan to ``ab_overdue``
and the prefecture is reminded again every ``overdue_reminder_every`` until it acts: a loan
never lapses silently. Period ends are computed by the API (``domain.protection.loan_period_end``)
and carried in the inputs.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from temporalio import workflow

from workflows.elus_common import SYSTEM_ACTOR, ElusWorkflowBase, refuse

with workflow.unsafe.imports_passed_through():
    from domain.calendar import PARIS, last_paris_day
    from domain.elus import (
        WORKFLOW_TYPES,
        DecideAlertButtonInput,
        ElusAction,
        ElusActionResult,
        ElusActor,
        ElusEmailTemplate,
        ElusRecipient,
        ElusResult,
        ElusStage,
        LoanPeriod,
        LoanState,
        Procedure,
        RecordHandoverInput,
        RecordReturnInput,
        RenewLoanInput,
        loan_next_due,
        overdue_reminder_at,
        overdue_reminders_owed,
        procedure_workflow_id,
        renewal_reminder_at,
    )
    from domain.errors import DomainError, ErrorCode
    from domain.protection import start_of_day
    from domain.stages import Role


@workflow.defn(name=WORKFLOW_TYPES[Procedure.ALERT_BUTTON])
class AlertButtonLoanWorkflow(ElusWorkflowBase):
    """One loan (id: ``bouton-{loan_id}``)."""

    _state: LoanState

    @workflow.init
    def __init__(self, input: DecideAlertButtonInput) -> None:
        self._init_base()
        self._state = LoanState(
            procedure_id=procedure_workflow_id(Procedure.ALERT_BUTTON, input.loan_id),
            decision=input,
            decided_at=workflow.now(),
        )

    @workflow.run
    async def run(self, input: DecideAlertButtonInput) -> ElusResult:
        state = self._state
        if not state.history:
            self._transition(ElusAction.DECIDE_ALERT_BUTTON, input.actor.role, input.actor.id)
            state.history[-1].from_stage = None
            self._notify(ElusEmailTemplate.AB_DECIDED, ElusRecipient.REQUESTER, security_pack=True)
        return await self._run_loop()

    @workflow.query
    def state(self) -> LoanState:
        return self._state

    # --- Timers -------------------------------------------------------------------------------

    def _period(self) -> LoanPeriod | None:
        return self._state.periods[-1] if self._state.periods else None

    def _next_wakeup(self) -> dt.datetime | None:
        return loan_next_due(self._state)

    def _fire_due(self, now: dt.datetime) -> None:
        state = self._state
        period = self._period()
        if period is None:
            return
        if state.stage == ElusStage.AB_LENT:
            if not period.renewal_reminded and now >= renewal_reminder_at(state, period):
                period.renewal_reminded = True
                if now < period.ends_at:
                    days_left = math.ceil((period.ends_at - now) / dt.timedelta(days=1))
                    for recipient in (ElusRecipient.PREFECTURE, ElusRecipient.REQUESTER):
                        self._notify(
                            ElusEmailTemplate.AB_RENEWAL_REMINDER,
                            recipient,
                            str(period.number),
                            security_pack=recipient == ElusRecipient.REQUESTER,
                            days_left=days_left,
                        )
                self._changed()
            if now >= period.ends_at:
                state.overdue_since = now
                self._transition(ElusAction.LOAN_PERIOD_ENDS, Role.SYSTEM, SYSTEM_ACTOR)
        if state.stage == ElusStage.AB_OVERDUE and now >= overdue_reminder_at(state, period):
            period.overdue_reminders = overdue_reminders_owed(state, period, now)
            self._notify(
                ElusEmailTemplate.AB_OVERDUE,
                ElusRecipient.PREFECTURE,
                f"{period.number}-{period.overdue_reminders}",
                reminder_number=period.overdue_reminders,
            )
            self._changed()

    # --- Updates ------------------------------------------------------------------------------

    @workflow.update(name=ElusAction.RECORD_HANDOVER.value)
    async def record_handover(self, input: RecordHandoverInput) -> ElusActionResult:
        state = self._state
        state.handed_over_on = input.handed_over_on
        state.periods.append(
            LoanPeriod(number=1, starts_on=input.handed_over_on, ends_at=input.period_ends_at)
        )
        self._transition(ElusAction.RECORD_HANDOVER, input.actor.role, input.actor.id)
        self._notify(
            ElusEmailTemplate.AB_HANDED_OVER, ElusRecipient.REQUESTER, "1", security_pack=True
        )
        return self._result()

    @record_handover.validator
    def _validate_record_handover(self, input: RecordHandoverInput) -> None:
        self._authorise(ElusAction.RECORD_HANDOVER, input.actor)
        decision = self._state.decision
        self._check_day(
            input.handed_over_on, decision.decided_on, "handed_over_on", "La date de remise"
        )
        self._check_period_end(input.period_ends_at, input.handed_over_on)

    def _check_period_end(self, ends_at: dt.datetime, starts_on: dt.date) -> None:
        if ends_at.tzinfo is None or ends_at <= start_of_day(starts_on):
            refuse(
                ErrorCode.INVALID_DATE_RANGE,
                "La fin de la période de prêt doit suivre son début.",
                "period_ends_at",
            )

    @workflow.update(name=ElusAction.RENEW_LOAN.value)
    async def renew_loan(self, input: RenewLoanInput) -> ElusActionResult:
        state = self._state
        previous = self._period()
        assert previous is not None
        previous_end = previous.ends_at.astimezone(PARIS).date()
        state.periods.append(
            LoanPeriod(
                number=previous.number + 1,
                starts_on=max(previous_end, input.renewed_on),
                ends_at=input.period_ends_at,
            )
        )
        state.overdue_since = None
        self._transition(ElusAction.RENEW_LOAN, input.actor.role, input.actor.id)
        self._notify(
            ElusEmailTemplate.AB_RENEWED,
            ElusRecipient.REQUESTER,
            str(previous.number + 1),
            security_pack=True,
        )
        return self._result()

    @renew_loan.validator
    def _validate_renew_loan(self, input: RenewLoanInput) -> None:
        self._authorise(ElusAction.RENEW_LOAN, input.actor)
        period = self._period()
        assert period is not None  # lent or overdue: handed over
        self._check_day(
            input.renewed_on, period.starts_on, "renewed_on", "La date du renouvellement"
        )
        if input.period_ends_at <= period.ends_at:
            refuse(
                ErrorCode.INVALID_DATE_RANGE,
                "La nouvelle période doit finir après la période en cours.",
                "period_ends_at",
            )
        self._check_period_end(input.period_ends_at, input.renewed_on)

    @workflow.update(name=ElusAction.RECORD_RETURN.value)
    async def record_return(self, input: RecordReturnInput) -> ElusActionResult:
        self._state.returned_on = input.returned_on
        self._transition(ElusAction.RECORD_RETURN, input.actor.role, input.actor.id)
        self._notify(ElusEmailTemplate.AB_RETURNED, ElusRecipient.REQUESTER, security_pack=True)
        return self._result()

    @record_return.validator
    def _validate_record_return(self, input: RecordReturnInput) -> None:
        self._authorise(ElusAction.RECORD_RETURN, input.actor)
        state = self._state
        since = state.handed_over_on or state.decision.decided_on
        self._check_day(input.returned_on, since, "returned_on", "La date de restitution")

    # --- What the base needs ------------------------------------------------------------------

    def _departement(self) -> str:
        return self._state.decision.departement

    def _requester_account(self) -> str | None:
        return self._state.decision.official.account_id

    def _check_scope(self, actor: ElusActor) -> None:
        if actor.role == Role.PREFECTURE and self._departement() not in actor.departements:
            raise DomainError(ErrorCode.OUT_OF_SCOPE)
        if actor.role == Role.ELU and actor.id != self._state.decision.official.account_id:
            raise DomainError(ErrorCode.NOT_YOUR_CASE)

    def _addresses(self) -> dict[ElusRecipient, str]:
        decision = self._state.decision
        return {
            ElusRecipient.REQUESTER: decision.official.email,
            ElusRecipient.PREFECTURE: decision.prefecture_email,
        }

    def _give_up_after(self) -> dt.timedelta:
        return self._state.decision.policy.email_give_up_after

    def _base_facts(self) -> dict[str, Any]:
        state = self._state
        period = self._period()
        return {
            "reference": state.procedure_id,
            "departement": state.decision.departement,
            "requester_name": state.decision.official.name,
            "decided_on": state.decision.decided_on,
            "handed_over_on": state.handed_over_on,
            "period_number": period.number if period else None,
            "period_ends_on": last_paris_day(period.ends_at) if period else None,
            "returned_on": state.returned_on,
        }
