"""What the élus' workflows share: the timer loop, the stage table's checks, the outbox.

Not a workflow itself: ``FunctionalProtectionWorkflow``, ``AlertButtonLoanWorkflow`` and
``CandidateProtectionWorkflow`` inherit these helpers and keep their handlers and timers. The
loop is the case's: one timer at a time, replaced only when the next due time moves, raced
against the people's Updates; emails go out from a mailer coroutine, one at a time per
recipient and recipients side by side, each given up after the policy's delay so that no
recipient holds the others.

Deterministic: time from ``workflow.now()``, no I/O.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import visibility
    from domain.calendar import PARIS, french_date
    from domain.contracts import SendEmailResult
    from domain.elus import (
        ELUS_EMAIL_PERMANENT_ERRORS,
        ELUS_STAGE_LABELS,
        CandidateProtectionState,
        ElusAction,
        ElusActionResult,
        ElusActor,
        ElusEmailFacts,
        ElusEmailTemplate,
        ElusNotification,
        ElusOutcome,
        ElusRecipient,
        ElusResult,
        ElusStageChange,
        LoanState,
        ProtectionState,
        SendElusEmailInput,
        check_elus_role,
        check_elus_stage,
        next_elus_stage,
    )
    from domain.errors import DomainError, ErrorCode
    from domain.stages import Role

SYSTEM_ACTOR = "system"
SEND_ELUS_EMAIL = "send_elus_email"
EMAIL_TIMEOUT = dt.timedelta(seconds=60)
EMAIL_RETRY = RetryPolicy(
    initial_interval=dt.timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=dt.timedelta(minutes=10),
    non_retryable_error_types=ELUS_EMAIL_PERMANENT_ERRORS,
)

STAGE_KEY = SearchAttributeKey.for_keyword(visibility.STAGE)
DEPARTEMENT_KEY = SearchAttributeKey.for_keyword(visibility.DEPARTEMENT)
COLLECTIVITE_KEY = SearchAttributeKey.for_keyword(visibility.COLLECTIVITE)
REQUESTER_KEY = SearchAttributeKey.for_keyword(visibility.REQUESTER)
NEXT_DEADLINE_KEY = SearchAttributeKey.for_datetime(visibility.NEXT_DEADLINE)

ElusState = ProtectionState | LoanState | CandidateProtectionState


def refusal(error: DomainError) -> ApplicationError:
    """The failure a refused update carries: its type is the stable code, its message French."""
    return ApplicationError(
        error.message, {"field": error.field}, type=error.code.value, non_retryable=True
    )


def refuse(code: ErrorCode, message: str | None = None, field: str | None = None) -> None:
    raise refusal(DomainError(code, message=message, field=field))


class ElusWorkflowBase:
    """Helpers of the élus' workflows; subclasses set ``_state`` in their ``@workflow.init``."""

    _state: ElusState

    def _init_base(self) -> None:
        self._outbox: list[SendElusEmailInput] = []
        self._in_flight: set[str] = set()
        self._version = 0
        self._published: tuple[object, ...] = ()

    # --- To be provided by each workflow ------------------------------------------------------

    def _fire_due(self, now: dt.datetime) -> None:
        raise NotImplementedError

    def _next_wakeup(self) -> dt.datetime | None:
        raise NotImplementedError

    def _departement(self) -> str:
        raise NotImplementedError

    def _collectivite(self) -> str | None:
        return None

    def _requester_account(self) -> str | None:
        return None

    def _check_scope(self, actor: ElusActor) -> None:
        """Refuse an actor outside the procedure's scope (raise ``DomainError``)."""
        raise NotImplementedError

    def _addresses(self) -> dict[ElusRecipient, str]:
        raise NotImplementedError

    def _give_up_after(self) -> dt.timedelta:
        raise NotImplementedError

    def _base_facts(self) -> dict[str, Any]:
        raise NotImplementedError

    # --- Run loop -------------------------------------------------------------------------------

    async def _run_loop(self) -> ElusResult:
        mailer = asyncio.create_task(self._mailer())
        timer: asyncio.Task[None] | None = None
        timer_at: dt.datetime | None = None
        self._publish()
        while not self._state.stage.is_terminal:
            self._fire_due(workflow.now())
            self._publish()
            if self._state.stage.is_terminal:
                break
            wake_at = self._next_wakeup()
            if wake_at != timer_at:
                if timer is not None:
                    timer.cancel()
                timer = None if wake_at is None else self._start_timer(wake_at)
                timer_at = wake_at
            seen = self._version
            await workflow.wait_condition(
                lambda seen=seen, timer=timer: (
                    self._version != seen  # type: ignore[misc]
                    or (timer is not None and timer.done())
                )
            )
            if timer is not None and timer.done():
                timer, timer_at = None, None
        # Every accepted action has finished and every email is out before the procedure ends.
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._outbox)
        mailer.cancel()
        if timer is not None:
            timer.cancel()
        return ElusResult(
            stage=self._state.stage, closed_at=self._state.closed_at or workflow.now()
        )

    def _start_timer(self, at: dt.datetime) -> asyncio.Task[None]:
        delay = max(at - workflow.now(), dt.timedelta(milliseconds=1))
        return asyncio.create_task(workflow.sleep(delay, summary="prochaine échéance"))

    # --- Checks and transitions -----------------------------------------------------------------

    def _authorise(self, action: ElusAction, actor: ElusActor) -> None:
        """Refuse a wrong role, an actor outside the scope, or a wrong stage, in that order."""
        try:
            check_elus_role(action, actor.role)
            self._check_scope(actor)
            check_elus_stage(self._state.stage, action)
        except DomainError as error:
            raise refusal(error) from None

    def _today(self) -> dt.date:
        return workflow.now().astimezone(PARIS).date()

    def _check_day(self, day: dt.date, not_before: dt.date, field: str, what: str) -> None:
        """A day a person records: not in the future, not before ``not_before``."""
        if day > self._today():
            refuse(ErrorCode.INVALID_DATE_RANGE, f"{what} ne peut pas être dans le futur.", field)
        if day < not_before:
            refuse(
                ErrorCode.INVALID_DATE_RANGE,
                f"{what} ne peut pas précéder le {french_date(not_before)}.",
                field,
            )

    def _transition(
        self,
        action: ElusAction,
        role: Role,
        actor_id: str,
        outcome: ElusOutcome = ElusOutcome.DEFAULT,
    ) -> None:
        state = self._state
        before = state.stage
        after = next_elus_stage(before, action, outcome)
        now = workflow.now()
        state.history.append(
            ElusStageChange(
                at=now,
                action=action,
                role=role,
                actor_id=actor_id,
                from_stage=before,
                to_stage=after,
            )
        )
        state.stage = after
        if after.is_terminal:
            state.closed_at = now
        self._changed()

    def _changed(self) -> None:
        self._version += 1
        self._state.version = self._version
        self._publish()

    def _result(self) -> ElusActionResult:
        state = self._state
        return ElusActionResult(
            procedure_id=state.procedure_id, stage=state.stage, version=state.version
        )

    def _publish(self) -> None:
        """Upsert the search attributes when what they show has changed (no personal data)."""
        state = self._state
        next_deadline = None if state.stage.is_terminal else self._next_wakeup()
        shown = (state.stage, next_deadline)
        if shown == self._published:
            return
        updates: list[SearchAttributeUpdate[Any]] = [
            STAGE_KEY.value_set(state.stage.value),
            DEPARTEMENT_KEY.value_set(self._departement()),
            NEXT_DEADLINE_KEY.value_set(next_deadline)
            if next_deadline is not None
            else NEXT_DEADLINE_KEY.value_unset(),
        ]
        collectivite = self._collectivite()
        if collectivite is not None:
            updates.append(COLLECTIVITE_KEY.value_set(collectivite))
        requester = self._requester_account()
        if requester is not None:
            updates.append(REQUESTER_KEY.value_set(requester))
        workflow.upsert_search_attributes(updates)
        summary = f"{ELUS_STAGE_LABELS[state.stage]} · département {self._departement()}"
        workflow.set_current_details(summary)
        workflow.upsert_memo({"summary": summary})
        self._published = shown

    # --- Outbox ---------------------------------------------------------------------------------

    def _notify(
        self,
        template: ElusEmailTemplate,
        recipient: ElusRecipient,
        discriminator: str = "1",
        *,
        security_pack: bool = False,
        recourse: bool = False,
        **facts: Any,
    ) -> None:
        """Queue an email; its key (procedure, event, round) makes sending it idempotent."""
        state = self._state
        key = f"{state.procedure_id}:{template.value}:{recipient.value}:{discriminator}"
        if any(record.key == key for record in state.notifications):
            return
        to = self._addresses().get(recipient)
        if to is None:
            return
        state.notifications.append(
            ElusNotification(
                key=key, template=template, recipient=recipient, requested_at=workflow.now()
            )
        )
        self._outbox.append(
            SendElusEmailInput(
                idempotency_key=key,
                template=template,
                to=to,
                security_pack=security_pack,
                recourse=recourse,
                facts=ElusEmailFacts(**(self._base_facts() | facts)),
            )
        )

    async def _mailer(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        while True:
            await workflow.wait_condition(lambda: bool(self._next_sends()))
            for request in self._next_sends():
                self._in_flight.add(request.idempotency_key)
                task = asyncio.create_task(self._send(request))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    def _next_sends(self) -> list[SendElusEmailInput]:
        """The first email of each recipient's queue, when none of theirs is being sent."""
        first: dict[str, SendElusEmailInput] = {}
        busy: set[str] = set()
        for request in self._outbox:
            if request.idempotency_key in self._in_flight:
                busy.add(request.to)
            first.setdefault(request.to, request)
        return [
            request
            for to, request in first.items()
            if to not in busy and request.idempotency_key not in self._in_flight
        ]

    async def _send(self, request: SendElusEmailInput) -> None:
        record = next(r for r in self._state.notifications if r.key == request.idempotency_key)
        try:
            await workflow.execute_activity(
                SEND_ELUS_EMAIL,
                request,
                result_type=SendEmailResult,
                start_to_close_timeout=EMAIL_TIMEOUT,
                schedule_to_close_timeout=self._give_up_after(),
                retry_policy=EMAIL_RETRY,
                summary=request.template.value,
            )
            record.sent = True
        except ActivityError as error:
            cause = error.cause
            code = cause.type if isinstance(cause, ApplicationError) and cause.type else "gave_up"
            record.failed = True
            workflow.logger.error("email %s failed for good: %s", request.idempotency_key, code)
        record.done_at = workflow.now()
        self._outbox.remove(request)
        self._in_flight.discard(request.idempotency_key)
        self._version += 1
