"""``CandidateCaseWorkflow``: one candidate's case in one election, from evaluation to payment.

Every human action is an Update whose validator refuses a wrong actor, a wrong stage or bad input
before anything reaches the history; handlers change the state and queue emails, and return the
new ``CaseState`` at once. Emails go out from a mailer coroutine so that a slow or unreachable
SMTP server never holds a person's action nor a deadline. Deadlines are timers raced against
those actions in ``run``: reminders and time bar before the deposit deadline, the answer delay of
each round of observations, the payment follow-up after the decision.

Deterministic: time comes from ``workflow.now()``, ids from ``workflow.uuid4()``, no I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
from collections.abc import Callable, Coroutine
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from domain import visibility
    from domain.calendar import PARIS, decision_due, deposit_deadline, french_date
    from domain.contracts import (
        EMAIL_PERMANENT_ERRORS,
        MESSAGE_POSTED_SIGNAL,
        SEAL_PERMANENT_ERRORS,
        ActionInput,
        Actor,
        AddExpenseLineInput,
        AddNoteInput,
        AddNoteUpdate,
        AnswerObservationsInput,
        CaseResult,
        CaseState,
        CloseCaseInput,
        ContactPrefectureInput,
        CorrectDepositDeadlineInput,
        CorrectDepositDeadlineUpdate,
        CorrectFirstRoundInput,
        CorrectFirstRoundUpdate,
        CorrectRoundsAttendedInput,
        DecideInput,
        Decision,
        EmailFacts,
        EmailTemplate,
        Evaluation,
        EvaluationRequest,
        LateWindow,
        LineVerdict,
        MandateThirdPartyInput,
        MessagePostedInput,
        NotificationRecord,
        NotificationStatus,
        ObservationRound,
        OpenCaseInput,
        OpenLateWindowInput,
        OpenSpaceInput,
        OperatorNote,
        Payment,
        RecipientKind,
        RecordEvaluationInput,
        RecordLineVerdictInput,
        RecordManualVerificationInput,
        RecordPaymentInput,
        ReevaluateThreatInput,
        RemoveExpenseLineInput,
        RequestEvaluationInput,
        RequestReevaluationInput,
        RequestSpaceInput,
        RetryRegistryChecksInput,
        RetryRegistryChecksUpdate,
        SealDossierInput,
        SealDossierResult,
        SendEmailInput,
        SendEmailResult,
        SendObservationsInput,
        StageChange,
        SubmitInput,
        ThirdParty,
        WithdrawInput,
    )
    from domain.errors import DomainError, ErrorCode
    from domain.expenses import ExpenseLine, check_line_for_case, lines_after
    from domain.ids import CASE_WORKFLOW_TYPE, case_workflow_id
    from domain.money import DecisionOutcome, ceiling_cents, decision_outcome, format_eur
    from domain.registries import (
        REGISTRY_PERMANENT_ERRORS,
        CheckCnapsInput,
        CheckSireneInput,
        CnapsCheckResult,
        LineCheck,
        ManualVerification,
        RegistryOutcome,
        SireneCheckResult,
    )
    from domain.reminders import before_deadline_at, owed_staff_reminders
    from domain.review import check_decision, check_line_verdict
    from domain.stages import (
        BEFORE_SUBMISSION,
        STAGE_LABELS,
        UNDER_EXAMINATION,
        WAITING_ON_ADMINISTRATION,
        Action,
        Outcome,
        Role,
        Stage,
        check_role,
        check_stage,
        next_stage,
    )

SYSTEM_ACTOR = "system"

EMAIL_TIMEOUT = dt.timedelta(seconds=60)
EMAIL_RETRY = RetryPolicy(
    initial_interval=dt.timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=dt.timedelta(minutes=10),
    # No maximum of attempts: an email the case owes is owed until the relay takes it; operators
    # see the pending activity and its last failure in the Web UI.
    non_retryable_error_types=EMAIL_PERMANENT_ERRORS,
)

EMAIL_IN_TASK_TIMEOUT = dt.timedelta(seconds=3)
"""Cases at ``LEAN_PROCEDURE_VERSION`` first send an email as a local activity, in the workflow
task that queued it: the action that queued it is answered when the relay has answered (a few
milliseconds on a healthy relay), and at worst after this timeout (a relay that hangs), after
which today's durable activity takes over. The session inside gives up well before
(``activities.email.sender.SESSION_MARGIN``), so the fallback never talks to the relay at the
same time as the local attempt."""
EMAIL_IN_TASK_QUEUED = dt.timedelta(seconds=1)
EMAIL_IN_TASK_RETRY = RetryPolicy(maximum_attempts=1)
"""One attempt in the task: every retry belongs to the durable activity, which backs off."""

SEAL_TIMEOUT = dt.timedelta(minutes=2)
SEAL_RETRY_AT_SUBMISSION = RetryPolicy(
    initial_interval=dt.timedelta(milliseconds=500),
    maximum_interval=dt.timedelta(seconds=1),
    maximum_attempts=3,
    non_retryable_error_types=SEAL_PERMANENT_ERRORS,
)
"""A few quick attempts while the candidate waits; after that the seal goes on in the background."""
SEAL_AT_SUBMISSION_WITHIN = dt.timedelta(seconds=5)
"""The whole in-request part of the seal: far below the API's wait, so that the person gets an
answer (the deposit stands either way; the receipt follows from the background seal)."""
SEAL_RETRY_IN_BACKGROUND = RetryPolicy(
    initial_interval=dt.timedelta(seconds=5),
    maximum_interval=dt.timedelta(minutes=10),
    non_retryable_error_types=SEAL_PERMANENT_ERRORS,
)
REGISTRY_TIMEOUT = dt.timedelta(seconds=30)
REGISTRY_SETTLE = dt.timedelta(seconds=10)
"""How long a forced retry waits for the checks under way to settle before choosing its lines."""

# Behaviour added after cases had started: running cases replay their old path.
PATCH_SEALED_DOSSIER = "sealed-dossier-v1"
PATCH_REGISTRY_CHECKS = "registry-checks-v1"
PATCH_MEMO_SUMMARY = "memo-summary-v1"
PATCH_ADMINISTRATION_DELAY = "administration-delay-v1"
"""Rule 3 and 4 at the deposit deadline: asked only when a deadline falls due, so that running
cases take the new rule from the next deadline on, and histories that passed one replay."""

EMAILS_GIVEN_UP_METRIC = "secupol_emails_given_up"
"""Counter of the worker's metrics (``SECUPOL_WORKER_METRICS_ADDRESS``): emails given up."""

PATCH_OPERATOR_UPDATES = "operator-updates-v1"
"""Operator corrections are updates; the signals of the same names are refused from then on."""
PATCH_MAILER_PER_RECIPIENT = "mailer-per-recipient-v1"
"""Emails sent side by side across recipients, each given up after a delay (issue 11)."""

LEAN_PROCEDURE_VERSION = 3
"""Cases opened at this ``procedure_version`` or later take every patch above without its
marker, write no memo, and send their emails in the workflow task that queued them
(``EMAIL_IN_TASK_TIMEOUT``). A change of their running logic from now on is a new version in the
input, not a ``patched()`` marker."""

COPIED_TEMPLATES = frozenset(
    {
        EmailTemplate.EVALUATION_RECORDED,
        EmailTemplate.SPACE_OPENED,
        EmailTemplate.DEPOSIT_REMINDER,
        EmailTemplate.OBSERVATIONS_RECEIVED,
        EmailTemplate.DECISION,
        EmailTemplate.PAYMENT_FOLLOWUP,
        EmailTemplate.LATE_WINDOW_OPENED,
        EmailTemplate.THREAT_REEVALUATED,
        EmailTemplate.ADMINISTRATION_DELAY,
        EmailTemplate.NEW_MESSAGE,
    }
)
"""Emails to the candidate that ask for an action or set a deadline: the mandated third party
gets a copy (DOMAIN.md, "Emails")."""

_STAGE_KEY = SearchAttributeKey.for_keyword(visibility.STAGE)
_DEPARTEMENT_KEY = SearchAttributeKey.for_keyword(visibility.DEPARTEMENT)
_ELECTION_KEY = SearchAttributeKey.for_keyword(visibility.ELECTION)
_DEPOSIT_DEADLINE_KEY = SearchAttributeKey.for_datetime(visibility.DEPOSIT_DEADLINE)
_NEXT_DEADLINE_KEY = SearchAttributeKey.for_datetime(visibility.NEXT_DEADLINE)
_DECISION_DUE_KEY = SearchAttributeKey.for_datetime(visibility.DECISION_DUE)
_RECOGNISED_KEY = SearchAttributeKey.for_bool(visibility.RECOGNISED)


def _refusal(error: DomainError) -> ApplicationError:
    """The failure a refused update carries: its type is the stable code, its message French."""
    return ApplicationError(
        error.message, {"field": error.field}, type=error.code.value, non_retryable=True
    )


def _activity_failure(error: FailureError) -> BaseException | None:
    """What made an activity fail: the cause of an ``ActivityError``; a local activity's
    failure may also come as the error itself (an ``ApplicationError``, a timeout)."""
    return error.cause if isinstance(error, ActivityError) else error


def _conclusive(check: LineCheck) -> bool:
    """Whether both registries answered for the line (or a reviewer verified it by hand)."""
    answered = check.cnaps is not None and check.sirene is not None
    return (answered or check.manual is not None) and not check.needs_manual_verification


@workflow.defn(name=CASE_WORKFLOW_TYPE)
class CandidateCaseWorkflow:
    """One candidate's case in one election (id: ``case-{election_id}-{candidate_id}``)."""

    @workflow.init
    def __init__(self, input: OpenCaseInput) -> None:
        if input.carried_state is not None:
            self._state = input.carried_state
        else:
            now = workflow.now()
            self._state = CaseState(
                case_id=case_workflow_id(input.election.election_id, input.candidate_id),
                election=input.election,
                candidate_id=input.candidate_id,
                candidate=input.candidate,
                departement=input.departement,
                prefecture_email=input.prefecture_email,
                candidacy_declared_on=input.candidacy_declared_on,
                attended_second_round=input.attended_second_round,
                policy=input.policy,
                opened_at=now,
                cnccfp_email=input.cnccfp_email,
                procedure_version=input.procedure_version,
                deposit_deadline=input.legal_deposit_deadline(),
                deadline_set_at=now,
            )
        # Emails asked for and not yet sent. A run continues as new only with an empty outbox, so
        # no email is ever left behind in a previous run.
        self._outbox: list[SendEmailInput] = []
        self._in_flight: set[str] = set()
        self._line_check_sequence: dict[str, int] = {}
        """Per line, the number of registry checks started in this run."""
        """Keys of the emails being sent."""
        self._per_recipient_mail: bool | None = None
        """Whether ``PATCH_MAILER_PER_RECIPIENT`` applies; asked when the first email is sent."""
        self._submitting = False
        """True while a submission is being sealed: nothing else may change the case meanwhile."""
        self._background: set[asyncio.Task[None]] = set()
        """Seals and registry checks under way; the case does not end before they do."""
        self._version = 0
        self._published: tuple[object, ...] = ()
        self._administration_delay: bool | None = None
        """Whether ``PATCH_ADMINISTRATION_DELAY`` applies; unknown until a deadline falls due."""

    @property
    def _lean(self) -> bool:
        """Whether the case opened at ``LEAN_PROCEDURE_VERSION`` or later."""
        return self._state.procedure_version >= LEAN_PROCEDURE_VERSION

    def _patched(self, patch_id: str) -> bool:
        """``workflow.patched``, except that cases at the lean version take every patch without
        a marker: the version in their input already says which code they run, and each marker
        costs an event and a search-attribute upsert."""
        return self._lean or workflow.patched(patch_id)

    # --- Run: timers raced against people ------------------------------------------------------

    @workflow.run
    async def run(self, input: OpenCaseInput) -> CaseResult:
        mailer = asyncio.create_task(self._mailer())
        timer: asyncio.Task[None] | None = None
        timer_at: dt.datetime | None = None
        self._publish()
        while not self._state.stage.is_terminal:
            self._fire_due_timers()
            self._publish()
            if self._state.stage.is_terminal:
                break
            if (
                workflow.info().is_continue_as_new_suggested()
                and workflow.all_handlers_finished()
                and not self._background
                and not self._outbox
            ):
                workflow.continue_as_new(input.model_copy(update={"carried_state": self._state}))
            wake_at = self._next_wakeup()
            if wake_at != timer_at:
                # One timer at a time, replaced only when the next due time moves: most actions
                # leave it where it is, and a timer restarted at each action would double the
                # history of a case.
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
        # Nothing is lost: every accepted action has finished and every email is out.
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._background and not self._outbox
        )
        mailer.cancel()
        if timer is not None:
            timer.cancel()
        closed_at = self._state.closed_at or workflow.now()
        paid = self._state.payment.amount_cents if self._state.payment else None
        return CaseResult(stage=self._state.stage, closed_at=closed_at, paid_cents=paid)

    def _start_timer(self, at: dt.datetime) -> asyncio.Task[None]:
        delay = max(at - workflow.now(), dt.timedelta(milliseconds=1))
        return asyncio.create_task(workflow.sleep(delay, summary="prochaine échéance du dossier"))

    def _due_reminders(self) -> list[tuple[str, dt.datetime]]:
        """Reminders of the current deadline not yet sent, with the time each falls due."""
        state = self._state
        if state.stage not in BEFORE_SUBMISSION:
            return []
        due = []
        for offset in state.policy.reminder_offsets:
            key = f"{int(offset.total_seconds())}s@{state.deposit_deadline.isoformat()}"
            if (
                state.deposit_deadline - offset >= state.deadline_set_at
                and key not in state.reminders_sent
            ):
                due.append((key, before_deadline_at(state, state.deposit_deadline, offset)))
        return due

    def _followup_due(self) -> dt.datetime | None:
        state = self._state
        if state.stage != Stage.DECIDED or state.decision is None:
            return None
        if state.payment_followups_sent >= state.policy.payment_followup_max:
            return None
        return state.decision.decided_at + state.policy.payment_followup_delay * (
            state.payment_followups_sent + 1
        )

    def _next_deadline(self) -> dt.datetime | None:
        """The next legal or procedural deadline of the case (reminders excluded)."""
        state = self._state
        if state.stage in BEFORE_SUBMISSION:
            return state.deposit_deadline
        if state.open_round is not None:
            return state.open_round.answer_due
        if state.stage in UNDER_EXAMINATION and state.decision_due is not None:
            return state.decision_due
        return self._followup_due()

    def _grace(self) -> dt.timedelta:
        """How long after the deposit deadline actions received in time are still taken."""
        return self._state.policy.receipt_grace if self._administration_delay else dt.timedelta(0)

    def _next_wakeup(self) -> dt.datetime | None:
        state = self._state
        times = [at for _, at in self._due_reminders()]
        times += [reminder.at for reminder in owed_staff_reminders(state)]
        deadline = self._next_deadline()
        if deadline is not None:
            times.append(deadline)
        if state.stage in BEFORE_SUBMISSION and self._administration_delay:
            times.append(state.deposit_deadline + self._grace())
        return min(times, default=None)

    def _fire_due_timers(self) -> None:
        now = workflow.now()
        state = self._state
        if (
            state.stage in BEFORE_SUBMISSION
            and now >= state.deposit_deadline
            # A submission that started before the deadline is being sealed: it decides.
            and not self._submitting
        ):
            if self._administration_delay is None:
                self._administration_delay = self._patched(PATCH_ADMINISTRATION_DELAY)
            if not self._administration_delay:
                self._transition(Action.DEPOSIT_DEADLINE_EXPIRED, Role.SYSTEM, SYSTEM_ACTOR)
                self._notify(EmailTemplate.TIME_BARRED, RecipientKind.CANDIDATE, "1")
                return
            if now >= state.deposit_deadline + self._grace():
                self._deposit_deadline_passed()
                return
        due = [(key, at) for key, at in self._due_reminders() if at <= now]
        if due:
            # After a long outage only the latest reminder is worth sending; the others are spent.
            for key, _ in due:
                state.reminders_sent.append(key)
            days_left = math.ceil((state.deposit_deadline - now) / dt.timedelta(days=1))
            self._notify(
                EmailTemplate.DEPOSIT_REMINDER,
                RecipientKind.CANDIDATE,
                due[-1][0],
                days_left=max(days_left, 1),
                stage=state.stage,
            )
        self._fire_staff_reminders(now)
        open_round = state.open_round
        if open_round is not None and now >= open_round.answer_due:
            open_round.expired_unanswered = True
            self._transition(Action.ANSWER_DELAY_EXPIRED, Role.SYSTEM, SYSTEM_ACTOR)
        followup = self._followup_due()
        if followup is not None and now >= followup:
            state.payment_followups_sent += 1
            self._notify(
                EmailTemplate.PAYMENT_FOLLOWUP,
                RecipientKind.CANDIDATE,
                str(state.payment_followups_sent),
                followup_number=state.payment_followups_sent,
            )

    def _deposit_deadline_passed(self) -> None:
        """Rule 3: time-bar only a case whose next step was the candidate's."""
        state = self._state
        before = state.stage
        round_number = str(len(state.late_windows) + 1)
        if before in WAITING_ON_ADMINISTRATION:
            state.awaited_stage = before
            self._transition(Action.ADMINISTRATION_DEADLINE_PASSED, Role.SYSTEM, SYSTEM_ACTOR)
            self._notify(
                EmailTemplate.ADMINISTRATION_DELAY,
                RecipientKind.CANDIDATE,
                round_number,
                awaited_stage=before,
            )
            self._notify(
                EmailTemplate.ADMINISTRATION_DELAY_STAFF,
                RecipientKind.CNCCFP,
                round_number,
                awaited_stage=before,
            )
            return
        self._transition(Action.DEPOSIT_DEADLINE_EXPIRED, Role.SYSTEM, SYSTEM_ACTOR)
        self._notify(EmailTemplate.TIME_BARRED, RecipientKind.CANDIDATE, round_number, stage=before)

    def _fire_staff_reminders(self, now: dt.datetime) -> None:
        state = self._state
        due = [reminder for reminder in owed_staff_reminders(state) if reminder.at <= now]
        latest = {}
        for reminder in due:
            # After a long outage only the latest of each kind is worth sending.
            state.staff_reminders_sent.append(reminder.key)
            latest[reminder.template] = reminder
        for reminder in latest.values():
            days_left = math.ceil((state.deposit_deadline - now) / dt.timedelta(days=1))
            if reminder.template == EmailTemplate.DECISION_DUE_REMINDER and state.decision_due:
                days_left = math.ceil((state.decision_due - now) / dt.timedelta(days=1))
            requested_at = state.evaluation_requests[-1].requested_at
            if reminder.template == EmailTemplate.SPACE_REMINDER:
                requested_at = state.history[-1].at
            self._notify(
                reminder.template,
                reminder.recipient,
                reminder.key,
                days_left=max(days_left, 0),
                decision_due=state.decision_due,
                requested_at=requested_at,
            )

    # --- Queries -------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> CaseState:
        """The whole case."""
        return self._state

    # --- Checks shared by every validator ------------------------------------------------------

    def _authorise(
        self, action: Action, actor: Actor, received_at: dt.datetime | None = None
    ) -> None:
        """Refuse a wrong role, an actor outside the case's scope, or a wrong stage.

        Order matters: someone the case does not concern learns nothing about its stage.
        """
        state = self._state
        try:
            check_role(action, actor.role)
            if actor.role == Role.CANDIDATE and actor.id != state.candidate_id:
                raise DomainError(ErrorCode.NOT_YOUR_CASE)
            if actor.role == Role.THIRD_PARTY and (
                state.third_party is None or state.third_party.id != actor.id
            ):
                raise DomainError(ErrorCode.NOT_YOUR_CASE)
            if actor.role == Role.PREFECTURE and state.departement not in actor.departements:
                raise DomainError(ErrorCode.OUT_OF_SCOPE)
            if self._submitting:
                raise DomainError(
                    ErrorCode.WRONG_STAGE,
                    message="Le dépôt de la demande est en cours d'enregistrement ; "
                    "réessayez dans un instant.",
                )
            check_stage(state.stage, action)
            if (
                state.stage in BEFORE_SUBMISSION
                and action != Action.WITHDRAW
                and actor.role != Role.OPERATOR  # corrections of the deadline itself
                and self._received_at(received_at) >= state.deposit_deadline
            ):
                raise DomainError(ErrorCode.DEPOSIT_DEADLINE_PASSED)
        except DomainError as error:
            raise _refusal(error) from None

    def _received_at(self, received_at: dt.datetime | None) -> dt.datetime:
        """When an action counts (rule 4): when the API received it, if that is recent.

        The API's clock is trusted within the receipt grace: an action received before a
        deadline and processed after it still counts as in time. Anything older (or a clock in
        the future) is judged on the workflow's own clock.
        """
        now = workflow.now()
        grace = self._state.policy.receipt_grace
        if received_at is None or received_at.tzinfo is None:
            return now
        if now - grace <= received_at <= now + dt.timedelta(seconds=5):
            return min(received_at, now)
        return now

    def _action_time(self, input: ActionInput) -> dt.datetime:
        return self._received_at(input.received_at)

    def _check(self, check: Callable[[], None]) -> None:
        try:
            check()
        except DomainError as error:
            raise _refusal(error) from None

    # --- Updates: one per human action ---------------------------------------------------------

    @workflow.update(name=Action.REQUEST_EVALUATION.value)
    async def request_evaluation(self, input: RequestEvaluationInput) -> CaseState:
        state = self._state
        number = len(state.evaluation_requests) + 1
        state.evaluation_requests.append(
            EvaluationRequest(
                number=number,
                requested_at=workflow.now(),
                document_refs=input.complaint_document_refs
                + ([input.candidacy_proof_ref] if input.candidacy_proof_ref else []),
                new_facts=input.new_facts,
                complaint_document_refs=input.complaint_document_refs,
                candidacy_proof_ref=input.candidacy_proof_ref,
            )
        )
        self._transition(Action.REQUEST_EVALUATION, input.actor.role, input.actor.id)
        self._notify(
            EmailTemplate.EVALUATION_REQUESTED,
            RecipientKind.PREFECTURE,
            str(number),
            evaluation_number=number,
        )
        return state

    @request_evaluation.validator
    def _validate_request_evaluation(self, input: RequestEvaluationInput) -> None:
        self._authorise(Action.REQUEST_EVALUATION, input.actor, input.received_at)
        state = self._state
        self._check_candidacy_date(state.candidacy_declared_on, input)
        if not state.evaluation_requests:
            # Rule 6 (R. 39-12): the first request carries the complaint and the proof.
            if not input.complaint_document_refs or not input.candidacy_proof_ref:
                raise _refusal(DomainError(ErrorCode.EVALUATION_PROOFS_REQUIRED))
        elif not (input.new_facts or input.complaint_document_refs):
            raise _refusal(
                DomainError(
                    ErrorCode.EMPTY_FIELD,
                    field="new_facts",
                    message="Une nouvelle demande d'évaluation expose les faits nouveaux ou "
                    "joint de nouvelles pièces.",
                )
            )

    def _check_candidacy_date(self, declared_on: dt.date | None, input: ActionInput) -> None:
        if declared_on is None:
            return
        today = self._action_time(input).astimezone(PARIS).date()
        if declared_on > today or declared_on > self._state.election.first_round:
            raise _refusal(
                DomainError(ErrorCode.CANDIDACY_DATE_INVALID, field="candidacy_declared_on")
            )

    @workflow.update(name=Action.RECORD_EVALUATION.value)
    async def record_evaluation(self, input: RecordEvaluationInput) -> CaseState:
        state = self._state
        number = len(state.evaluations) + 1
        if input.candidacy_declared_on is not None:
            # Rule 6: the prefecture checked the date the candidate typed; its date stands.
            state.candidacy_declared_on = input.candidacy_declared_on
        ceiling = None
        if input.level is not None:
            ceiling = input.ceiling_cents or ceiling_cents(input.level)
        state.evaluations.append(
            Evaluation(
                number=number,
                recognised=input.recognised,
                level=input.level,
                decided_on=input.decided_on,
                decision_document=input.decision_document,
                recorded_at=workflow.now(),
                recorded_by=input.actor.id,
                ceiling_cents=ceiling,
                candidacy_declared_on=input.candidacy_declared_on,
            )
        )
        outcome = Outcome.RECOGNISED if input.recognised else Outcome.NOT_RECOGNISED
        self._transition(Action.RECORD_EVALUATION, input.actor.role, input.actor.id, outcome)
        self._notify(
            EmailTemplate.EVALUATION_RECORDED,
            RecipientKind.CANDIDATE,
            str(number),
            recognised=input.recognised,
            evaluation_number=number,
            ceiling_cents=ceiling,
        )
        return state

    @record_evaluation.validator
    def _validate_record_evaluation(self, input: RecordEvaluationInput) -> None:
        self._authorise(Action.RECORD_EVALUATION, input.actor, input.received_at)
        self._check_decided_on(input.decided_on, input)
        self._check_candidacy_date(input.candidacy_declared_on, input)

    def _check_decided_on(self, decided_on: dt.date, input: ActionInput) -> None:
        if decided_on > self._action_time(input).astimezone(PARIS).date():
            raise _refusal(
                DomainError(
                    ErrorCode.INVALID_INPUT,
                    field="decided_on",
                    message="La date de la décision ne peut pas être dans le futur.",
                )
            )

    @workflow.update(name=Action.REQUEST_REEVALUATION.value)
    async def request_reevaluation(self, input: RequestReevaluationInput) -> CaseState:
        state = self._state
        number = len(state.evaluation_requests) + 1
        state.evaluation_requests.append(
            EvaluationRequest(
                number=number,
                requested_at=workflow.now(),
                document_refs=input.document_refs,
                new_facts=input.new_facts,
                complaint_document_refs=input.document_refs,
                reevaluation=True,
            )
        )
        self._changed()
        self._notify(
            EmailTemplate.REEVALUATION_REQUESTED,
            RecipientKind.PREFECTURE,
            str(number),
            evaluation_number=number,
        )
        return state

    @request_reevaluation.validator
    def _validate_request_reevaluation(self, input: RequestReevaluationInput) -> None:
        self._authorise(Action.REQUEST_REEVALUATION, input.actor, input.received_at)

    @workflow.update(name=Action.REEVALUATE_THREAT.value)
    async def reevaluate_threat(self, input: ReevaluateThreatInput) -> CaseState:
        state = self._state
        previous = state.threat_level
        number = len(state.evaluations) + 1
        ceiling = input.ceiling_cents or ceiling_cents(input.level)
        state.evaluations.append(
            Evaluation(
                number=number,
                recognised=True,
                level=input.level,
                decided_on=input.decided_on,
                decision_document=input.decision_document,
                recorded_at=workflow.now(),
                recorded_by=input.actor.id,
                ceiling_cents=ceiling,
                reevaluation=True,
                reason=input.reason,
            )
        )
        self._changed()
        self._notify(
            EmailTemplate.THREAT_REEVALUATED,
            RecipientKind.CANDIDATE,
            str(number),
            evaluation_number=number,
            previous_level=previous,
            ceiling_cents=ceiling,
            reason=input.reason,
        )
        return state

    @reevaluate_threat.validator
    def _validate_reevaluate_threat(self, input: ReevaluateThreatInput) -> None:
        self._authorise(Action.REEVALUATE_THREAT, input.actor, input.received_at)
        self._check_decided_on(input.decided_on, input)

    @workflow.update(name=Action.MANDATE_THIRD_PARTY.value)
    async def mandate_third_party(self, input: MandateThirdPartyInput) -> CaseState:
        self._state.third_party = ThirdParty(
            id=input.third_party_id,
            name=input.name,
            email=input.email,
            mandate_document=input.mandate_document,
            mandated_at=workflow.now(),
        )
        self._changed()
        return self._state

    @mandate_third_party.validator
    def _validate_mandate_third_party(self, input: MandateThirdPartyInput) -> None:
        self._authorise(Action.MANDATE_THIRD_PARTY, input.actor, input.received_at)

    @workflow.update(name=Action.REQUEST_SPACE.value)
    async def request_space(self, input: RequestSpaceInput) -> CaseState:
        self._transition(Action.REQUEST_SPACE, input.actor.role, input.actor.id)
        if self._state.procedure_version >= 2:
            self._notify(
                EmailTemplate.SPACE_REQUESTED,
                RecipientKind.CNCCFP,
                str(len(self._state.history)),
            )
        return self._state

    @request_space.validator
    def _validate_request_space(self, input: RequestSpaceInput) -> None:
        self._authorise(Action.REQUEST_SPACE, input.actor, input.received_at)

    @workflow.update(name=Action.OPEN_SPACE.value)
    async def open_space(self, input: OpenSpaceInput) -> CaseState:
        self._state.space_opened_at = workflow.now()
        self._transition(Action.OPEN_SPACE, input.actor.role, input.actor.id)
        self._notify(EmailTemplate.SPACE_OPENED, RecipientKind.CANDIDATE, "1")
        return self._state

    @open_space.validator
    def _validate_open_space(self, input: OpenSpaceInput) -> None:
        self._authorise(Action.OPEN_SPACE, input.actor, input.received_at)

    @workflow.update(name=Action.ADD_EXPENSE_LINE.value)
    async def add_expense_line(self, input: AddExpenseLineInput) -> CaseState:
        line = ExpenseLine(
            **input.line.model_dump(), line_id=str(workflow.uuid4()), added_at=workflow.now()
        )
        self._state.expense_lines.append(line)
        self._changed()
        if self._patched(PATCH_REGISTRY_CHECKS):
            self._start_line_check(line, at_submission=False)
        return self._state

    @add_expense_line.validator
    def _validate_add_expense_line(self, input: AddExpenseLineInput) -> None:
        self._authorise(Action.ADD_EXPENSE_LINE, input.actor, input.received_at)
        state = self._state
        self._check(
            lambda: check_line_for_case(input.line, state.expense_lines, state.eligible_period)
        )

    @workflow.update(name=Action.REMOVE_EXPENSE_LINE.value)
    async def remove_expense_line(self, input: RemoveExpenseLineInput) -> CaseState:
        state = self._state
        state.expense_lines = [
            line for line in state.expense_lines if line.line_id != input.line_id
        ]
        self._changed()
        return state

    @remove_expense_line.validator
    def _validate_remove_expense_line(self, input: RemoveExpenseLineInput) -> None:
        self._authorise(Action.REMOVE_EXPENSE_LINE, input.actor, input.received_at)
        self._require_lines([input.line_id])

    @workflow.update(name=Action.SUBMIT.value)
    async def submit(self, input: SubmitInput) -> CaseState:
        state = self._state
        # The deposit's legal time (rule 4): when the API received it, before sealing takes any.
        submitted_at = self._action_time(input)
        sealing = self._patched(PATCH_SEALED_DOSSIER)
        seal: SealDossierResult | None = None
        if sealing:
            self._submitting = True
            try:
                seal = await self._seal(
                    submitted_at, SEAL_RETRY_AT_SUBMISSION, SEAL_AT_SUBMISSION_WITHIN
                )
            except DomainError as error:
                raise _refusal(error) from None
            finally:
                self._submitting = False
                self._changed()
        state.submitted_at = submitted_at
        if input.rounds_attended is not None:
            state.rounds_attended = input.rounds_attended
        if state.procedure_version >= 2:
            state.decision_due = input.decision_due or decision_due(submitted_at)
        state.seal = seal
        self._transition(Action.SUBMIT, input.actor.role, input.actor.id)
        if sealing and seal is None:
            # Storage is unavailable: the deposit stands, the seal and its receipt follow.
            self._in_background(self._seal_later(submitted_at))
        else:
            self._acknowledge_deposit()
        if self._patched(PATCH_REGISTRY_CHECKS):
            for line in state.expense_lines:
                current = self._line_check(line.line_id)
                if self._lean and _conclusive(current):
                    # The registries answered for good when the line was added: that answer
                    # stands for the deposit, without asking them again.
                    self._put_line_check(current.model_copy(update={"at_submission": True}))
                else:
                    self._start_line_check(line, at_submission=True)
        return state

    @submit.validator
    def _validate_submit(self, input: SubmitInput) -> None:
        self._authorise(Action.SUBMIT, input.actor, input.received_at)
        state = self._state
        if not state.expense_lines:
            raise _refusal(DomainError(ErrorCode.EMPTY_CLAIM))
        self._check_rounds_attended(input.rounds_attended)
        assert input.rounds_attended is not None
        outside = lines_after(state.expense_lines, state.last_round_date(input.rounds_attended))
        if outside:
            raise _refusal(
                DomainError(ErrorCode.LINES_OUTSIDE_ATTENDED_ROUNDS, field="rounds_attended")
            )
        uncertified = [line for line in state.expense_lines if not line.certification.complete]
        if uncertified:
            raise _refusal(DomainError(ErrorCode.LINE_NOT_CERTIFIED, field="certification"))

    def _check_rounds_attended(self, rounds_attended: int | None) -> None:
        """Rule 2: the candidate states the last round they stood in; the first is required."""
        if rounds_attended is None:
            raise _refusal(DomainError(ErrorCode.ROUNDS_ATTENDED_REQUIRED, field="rounds_attended"))
        if rounds_attended < 1:
            raise _refusal(
                DomainError(ErrorCode.NOT_A_FIRST_ROUND_CANDIDATE, field="rounds_attended")
            )
        if rounds_attended > 1 and self._state.election.second_round is None:
            raise _refusal(DomainError(ErrorCode.NO_SECOND_ROUND, field="rounds_attended"))

    @workflow.update(name=Action.CORRECT_ROUNDS_ATTENDED.value)
    async def correct_rounds_attended(self, input: CorrectRoundsAttendedInput) -> CaseState:
        state = self._state
        state.rounds_attended = input.rounds_attended
        state.rounds_corrections.append(input.reason)
        self._changed()
        return state

    @correct_rounds_attended.validator
    def _validate_correct_rounds_attended(self, input: CorrectRoundsAttendedInput) -> None:
        self._authorise(Action.CORRECT_ROUNDS_ATTENDED, input.actor, input.received_at)
        if input.rounds_attended > 1 and self._state.election.second_round is None:
            raise _refusal(DomainError(ErrorCode.NO_SECOND_ROUND, field="rounds_attended"))

    @workflow.update(name=Action.SEND_OBSERVATIONS.value)
    async def send_observations(self, input: SendObservationsInput) -> CaseState:
        state = self._state
        now = workflow.now()
        number = len(state.rounds) + 1
        answer_due = input.answer_due or now + (input.answer_delay or state.policy.answer_delay)
        state.rounds.append(
            ObservationRound(
                number=number,
                sent_at=now,
                sent_by=input.actor.id,
                observations=input.observations,
                contested_line_ids=input.contested_line_ids,
                answer_due=answer_due,
            )
        )
        self._transition(Action.SEND_OBSERVATIONS, input.actor.role, input.actor.id)
        self._notify(
            EmailTemplate.OBSERVATIONS_RECEIVED,
            RecipientKind.CANDIDATE,
            str(number),
            round_number=number,
            observations=input.observations,
            answer_due=answer_due,
        )
        return state

    @send_observations.validator
    def _validate_send_observations(self, input: SendObservationsInput) -> None:
        self._authorise(Action.SEND_OBSERVATIONS, input.actor, input.received_at)
        self._require_lines(input.contested_line_ids)
        if input.answer_due is not None and (
            input.answer_due.tzinfo is None or input.answer_due <= workflow.now()
        ):
            raise _refusal(
                DomainError(
                    ErrorCode.INVALID_INPUT,
                    field="answer_due",
                    message="Le délai de réponse doit se terminer dans le futur.",
                )
            )

    @workflow.update(name=Action.ANSWER_OBSERVATIONS.value)
    async def answer_observations(self, input: AnswerObservationsInput) -> CaseState:
        open_round = self._state.open_round
        assert open_round is not None  # the stage guarantees it
        open_round.answered_at = workflow.now()
        open_round.answer = input.answer
        open_round.answer_document_refs = input.document_refs
        self._transition(Action.ANSWER_OBSERVATIONS, input.actor.role, input.actor.id)
        return self._state

    @answer_observations.validator
    def _validate_answer_observations(self, input: AnswerObservationsInput) -> None:
        self._authorise(Action.ANSWER_OBSERVATIONS, input.actor, input.received_at)
        open_round = self._state.open_round
        if open_round is not None and self._action_time(input) >= open_round.answer_due:
            raise _refusal(DomainError(ErrorCode.ANSWER_DELAY_EXPIRED))

    @workflow.update(name=Action.RECORD_MANUAL_VERIFICATION.value)
    async def record_manual_verification(self, input: RecordManualVerificationInput) -> CaseState:
        state = self._state
        verification = ManualVerification(
            valid=input.valid,
            note=input.note,
            verified_by=input.actor.id,
            verified_at=workflow.now(),
        )
        current = self._line_check(input.line_id)
        self._put_line_check(current.model_copy(update={"manual": verification}))
        self._changed()
        return state

    @record_manual_verification.validator
    def _validate_record_manual_verification(self, input: RecordManualVerificationInput) -> None:
        self._authorise(Action.RECORD_MANUAL_VERIFICATION, input.actor, input.received_at)
        self._require_lines([input.line_id])

    @workflow.update(name=Action.RECORD_LINE_VERDICT.value)
    async def record_line_verdict(self, input: RecordLineVerdictInput) -> CaseState:
        state = self._state
        verdict = LineVerdict(
            line_id=input.line_id,
            accepted_cents=input.accepted_cents,
            reason=input.reason,
            recorded_at=workflow.now(),
            recorded_by=input.actor.id,
        )
        state.line_verdicts = [
            *(other for other in state.line_verdicts if other.line_id != input.line_id),
            verdict,
        ]
        self._changed()
        return state

    @record_line_verdict.validator
    def _validate_record_line_verdict(self, input: RecordLineVerdictInput) -> None:
        self._authorise(Action.RECORD_LINE_VERDICT, input.actor, input.received_at)
        self._require_lines([input.line_id])
        state = self._state
        line = next(line for line in state.expense_lines if line.line_id == input.line_id)
        self._check(
            lambda: check_line_verdict(line, input.accepted_cents, input.reason, state.rounds)
        )

    @workflow.update(name=Action.DECIDE.value)
    async def decide(self, input: DecideInput) -> CaseState:
        state = self._state
        ceiling = state.ceiling_cents
        assert ceiling is not None  # a submitted case had a recognised threat
        claimed = state.claimed_cents
        decided = decision_outcome(input.amount_cents, claimed, ceiling)
        reasons = input.reasons
        if reasons is None and decided != DecisionOutcome.APPROVED:
            reasons = self._verdict_reasons()
        state.decision = Decision(
            amount_cents=input.amount_cents,
            claimed_cents=claimed,
            ceiling_cents=ceiling,
            outcome=decided,
            reasons=reasons,
            decided_at=workflow.now(),
            decided_by=input.actor.id,
        )
        outcome = Outcome.AMOUNT_DECIDED if input.amount_cents > 0 else Outcome.NOTHING_DECIDED
        self._transition(Action.DECIDE, input.actor.role, input.actor.id, outcome)
        self._notify(
            EmailTemplate.DECISION,
            RecipientKind.CANDIDATE,
            "1",
            decided_cents=input.amount_cents,
            claimed_cents=claimed,
            ceiling_cents=ceiling,
            outcome=decided,
            reasons=reasons,
            capped=decided == DecisionOutcome.APPROVED and claimed > ceiling,
            lines_cut=sum(
                1
                for verdict in state.line_verdicts
                for line in state.expense_lines
                if line.line_id == verdict.line_id and verdict.accepted_cents < line.amount_cents
            ),
        )
        return state

    def _verdict_reasons(self) -> str | None:
        """The reasons of a reform or rejection, line by line, from the verdicts."""
        parts = []
        for line in self._state.expense_lines:
            verdict = self._state.verdict(line.line_id)
            if verdict is not None and verdict.accepted_cents < line.amount_cents:
                parts.append(
                    f"- facture {line.invoice_reference} : {format_eur(verdict.accepted_cents)} "
                    f"retenus sur {format_eur(line.amount_cents)} ({verdict.reason})"
                )
        return "\n".join(parts) or None

    @decide.validator
    def _validate_decide(self, input: DecideInput) -> None:
        self._authorise(Action.DECIDE, input.actor, input.received_at)
        state = self._state
        ceiling = state.ceiling_cents
        if (
            ceiling is None
        ):  # pragma: no cover - a case reaches review only with a recognised threat
            raise _refusal(DomainError(ErrorCode.WRONG_STAGE))
        self._check(
            lambda: check_decision(
                input.amount_cents,
                lines=state.expense_lines,
                ceiling_cents=ceiling,
                verdicts=state.line_verdicts,
                rounds=state.rounds,
            )
        )

    @workflow.update(name=Action.CONTACT_PREFECTURE.value)
    async def contact_prefecture(self, input: ContactPrefectureInput) -> CaseState:
        state = self._state
        state.prefecture_contacted_at = workflow.now()
        self._transition(Action.CONTACT_PREFECTURE, input.actor.role, input.actor.id)
        assert state.decision is not None
        self._notify(
            EmailTemplate.PAYMENT_REQUESTED,
            RecipientKind.PREFECTURE,
            "1",
            decided_cents=state.decision.amount_cents,
        )
        return state

    @contact_prefecture.validator
    def _validate_contact_prefecture(self, input: ContactPrefectureInput) -> None:
        self._authorise(Action.CONTACT_PREFECTURE, input.actor, input.received_at)

    @workflow.update(name=Action.RECORD_PAYMENT.value)
    async def record_payment(self, input: RecordPaymentInput) -> CaseState:
        state = self._state
        state.payment = Payment(
            amount_cents=input.amount_cents,
            paid_on=input.paid_on,
            reference=input.reference,
            recorded_at=workflow.now(),
            recorded_by=input.actor.id,
        )
        self._transition(Action.RECORD_PAYMENT, input.actor.role, input.actor.id)
        self._notify(
            EmailTemplate.PAYMENT_RECORDED,
            RecipientKind.CANDIDATE,
            "1",
            payment_cents=input.amount_cents,
            paid_on=input.paid_on,
            payment_reference=input.reference,
        )
        return state

    @record_payment.validator
    def _validate_record_payment(self, input: RecordPaymentInput) -> None:
        self._authorise(Action.RECORD_PAYMENT, input.actor, input.received_at)
        decision = self._state.decision
        assert decision is not None  # the stage guarantees it
        if input.amount_cents != decision.amount_cents:
            raise _refusal(DomainError(ErrorCode.PAYMENT_AMOUNT_MISMATCH, field="amount_cents"))
        decided_on = decision.decided_at.astimezone(PARIS).date()
        if not decided_on <= input.paid_on <= self._today():
            raise _refusal(DomainError(ErrorCode.PAYMENT_DATE_INVALID, field="paid_on"))

    @workflow.update(name=Action.OPEN_LATE_WINDOW.value)
    async def open_late_window(self, input: OpenLateWindowInput) -> CaseState:
        state = self._state
        now = workflow.now()
        state.late_windows.append(
            LateWindow(
                opened_at=now,
                opened_by=input.actor.id,
                reason=input.reason,
                previous_deadline=state.deposit_deadline,
                deposit_deadline=input.deposit_deadline,
            )
        )
        state.deposit_deadline = input.deposit_deadline
        state.deadline_set_at = now
        if state.awaited_stage == Stage.SPACE_REQUESTED:
            # The CNCCFP had the next step: opening the late window opens the space.
            state.space_opened_at = now
            outcome = Outcome.SPACE_OPENED
        else:
            outcome = Outcome.EVALUATION_PENDING
        state.awaited_stage = None
        self._transition(Action.OPEN_LATE_WINDOW, input.actor.role, input.actor.id, outcome)
        self._notify(
            EmailTemplate.LATE_WINDOW_OPENED,
            RecipientKind.CANDIDATE,
            str(len(state.late_windows)),
            reason=input.reason,
        )
        return state

    @open_late_window.validator
    def _validate_open_late_window(self, input: OpenLateWindowInput) -> None:
        self._authorise(Action.OPEN_LATE_WINDOW, input.actor, input.received_at)
        if input.deposit_deadline <= workflow.now():
            raise _refusal(DomainError(ErrorCode.LATE_DEADLINE_INVALID, field="deposit_deadline"))

    @workflow.update(name=Action.CLOSE_CASE.value)
    async def close_case(self, input: CloseCaseInput) -> CaseState:
        state = self._state
        state.closing_reason = input.reason
        awaited = state.awaited_stage
        self._transition(Action.CLOSE_CASE, input.actor.role, input.actor.id)
        self._notify(
            EmailTemplate.CASE_CLOSED,
            RecipientKind.CANDIDATE,
            "1",
            reason=input.reason,
            awaited_stage=awaited,
        )
        return state

    @close_case.validator
    def _validate_close_case(self, input: CloseCaseInput) -> None:
        self._authorise(Action.CLOSE_CASE, input.actor, input.received_at)

    @workflow.update(name=Action.WITHDRAW.value)
    async def withdraw(self, input: WithdrawInput) -> CaseState:
        self._transition(Action.WITHDRAW, input.actor.role, input.actor.id)
        self._notify(EmailTemplate.WITHDRAWAL_CONFIRMED, RecipientKind.CANDIDATE, "1")
        return self._state

    @withdraw.validator
    def _validate_withdraw(self, input: WithdrawInput) -> None:
        self._authorise(Action.WITHDRAW, input.actor, input.received_at)

    # --- Facts from the API ---------------------------------------------------------------------

    @workflow.signal(name=MESSAGE_POSTED_SIGNAL)
    def message_posted(self, input: MessagePostedInput) -> None:
        """The CNCCFP wrote on the case: the candidate (and their third party) are told, once
        per message, through the outbox, so an SMTP outage delays the notice but never loses it.
        """
        if self._state.stage.is_terminal:
            return
        if input.author_role == Role.CNCCFP:
            self._notify(EmailTemplate.NEW_MESSAGE, RecipientKind.CANDIDATE, input.message_id)

    # --- Operator corrections, never decisions --------------------------------------------------
    # Updates with validators (role ``operator``), sent by the API's operator routes (audited) or
    # ``temporal workflow update execute`` through the codec. The signals of the same names are
    # kept for the histories of cases that received them; new signals are refused.

    @workflow.update(name=Action.CORRECT_FIRST_ROUND.value)
    async def correct_first_round_update(self, input: CorrectFirstRoundUpdate) -> CaseState:
        """Correct the election's round dates; the deposit deadline and its timers follow."""
        deadline = input.deposit_deadline or deposit_deadline(input.first_round)
        self._correct_rounds(input.first_round, input.second_round)
        self._set_deposit_deadline(deadline, input.actor.id, input.reason)
        return self._state

    @correct_first_round_update.validator
    def _validate_correct_first_round(self, input: CorrectFirstRoundUpdate) -> None:
        self._authorise(Action.CORRECT_FIRST_ROUND, input.actor, input.received_at)
        if input.second_round is not None and input.second_round <= input.first_round:
            raise _refusal(DomainError(ErrorCode.INVALID_CORRECTION, field="second_round"))
        if input.deposit_deadline is not None and input.deposit_deadline.tzinfo is None:
            raise _refusal(DomainError(ErrorCode.INVALID_CORRECTION, field="deposit_deadline"))

    @workflow.update(name=Action.CORRECT_DEPOSIT_DEADLINE.value)
    async def correct_deposit_deadline_update(
        self, input: CorrectDepositDeadlineUpdate
    ) -> CaseState:
        """Set the deposit deadline directly (a legal change, a court ruling, a drill)."""
        self._set_deposit_deadline(input.deposit_deadline, input.actor.id, input.reason)
        return self._state

    @correct_deposit_deadline_update.validator
    def _validate_correct_deposit_deadline(self, input: CorrectDepositDeadlineUpdate) -> None:
        self._authorise(Action.CORRECT_DEPOSIT_DEADLINE, input.actor, input.received_at)
        if input.deposit_deadline.tzinfo is None:
            raise _refusal(DomainError(ErrorCode.INVALID_CORRECTION, field="deposit_deadline"))

    @workflow.update(name=Action.ADD_NOTE.value)
    async def add_note_update(self, input: AddNoteUpdate) -> CaseState:
        """Leave a note on the case for the next operator (never personal data)."""
        self._add_note(input.actor.id, input.reason)
        self._changed()
        return self._state

    @add_note_update.validator
    def _validate_add_note(self, input: AddNoteUpdate) -> None:
        self._authorise(Action.ADD_NOTE, input.actor, input.received_at)

    @workflow.update(name=Action.RETRY_REGISTRY_CHECKS.value)
    async def retry_registry_checks_update(self, input: RetryRegistryChecksUpdate) -> CaseState:
        """Check again the companies of the lines the registries could not answer for.

        For when an outage is over: each such line gets a fresh set of attempts. The lines a
        reviewer has verified manually, and those the registries answered, are left as they are.
        """
        # Checks whose answers are in but not yet recorded (an update handled in the same
        # activation as their completion runs first) settle before the lines are chosen.
        # Checks still waiting on a registry after that: the retry takes what is known now.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: not self._background, timeout=REGISTRY_SETTLE, timeout_summary="checks"
            )
        self._retry_registry_checks(input.actor.id, input.reason)
        return self._state

    @retry_registry_checks_update.validator
    def _validate_retry_registry_checks(self, input: RetryRegistryChecksUpdate) -> None:
        self._authorise(Action.RETRY_REGISTRY_CHECKS, input.actor, input.received_at)

    # Signals of earlier versions: they replay as they ran; a new one is refused (logged).

    @workflow.signal(name=Action.CORRECT_FIRST_ROUND.value)
    def correct_first_round(self, input: CorrectFirstRoundInput) -> None:
        if not self._accept_operator_signal(Action.CORRECT_FIRST_ROUND):
            return
        if input.second_round is not None and input.second_round <= input.first_round:
            workflow.logger.warning("correct_first_round refused: second round not after first")
            return
        self._correct_rounds(input.first_round, input.second_round)
        self._set_deposit_deadline(
            deposit_deadline(input.first_round), input.operator_id, input.reason
        )

    @workflow.signal(name=Action.CORRECT_DEPOSIT_DEADLINE.value)
    def correct_deposit_deadline(self, input: CorrectDepositDeadlineInput) -> None:
        if not self._accept_operator_signal(Action.CORRECT_DEPOSIT_DEADLINE):
            return
        if input.deposit_deadline.tzinfo is None:
            workflow.logger.warning("correct_deposit_deadline refused: naive datetime")
            return
        self._set_deposit_deadline(input.deposit_deadline, input.operator_id, input.reason)

    @workflow.signal(name=Action.ADD_NOTE.value)
    def add_note(self, input: AddNoteInput) -> None:
        if self._accept_operator_signal(Action.ADD_NOTE):
            self._add_note(input.operator_id, input.reason)
            self._changed()

    @workflow.signal(name=Action.RETRY_REGISTRY_CHECKS.value)
    def retry_registry_checks(self, input: RetryRegistryChecksInput) -> None:
        if self._accept_operator_signal(Action.RETRY_REGISTRY_CHECKS):
            self._retry_registry_checks(input.operator_id, input.reason)

    def _accept_operator_signal(self, action: Action) -> bool:
        if self._patched(PATCH_OPERATOR_UPDATES):
            workflow.logger.warning(
                "%s signal refused: operators send the update (authenticated, audited)",
                action.value,
            )
            return False
        try:
            check_stage(self._state.stage, action)
        except DomainError as error:
            workflow.logger.warning("%s ignored: %s", action.value, error.code.value)
            return False
        return True

    def _correct_rounds(self, first_round: dt.date, second_round: dt.date | None) -> None:
        state = self._state
        state.election = state.election.model_copy(
            update={"first_round": first_round, "second_round": second_round}
        )

    def _retry_registry_checks(self, operator_id: str, reason: str) -> None:
        state = self._state
        pending = [
            line
            for line in state.expense_lines
            if self._line_check(line.line_id).needs_manual_verification
        ]
        for line in pending:
            self._start_line_check(line, at_submission=state.submitted_at is not None)
        self._add_note(
            operator_id,
            f"Nouvelle vérification de {len(pending)} ligne(s) auprès des registres : {reason}",
        )
        self._changed()

    def _set_deposit_deadline(self, deadline: dt.datetime, operator_id: str, reason: str) -> None:
        state = self._state
        previous = state.deposit_deadline
        state.deposit_deadline = deadline
        state.deadline_set_at = workflow.now()
        self._add_note(
            operator_id,
            f"Échéance de dépôt corrigée du {previous.isoformat()} au {deadline.isoformat()} : "
            f"{reason}",
        )
        self._changed()

    def _add_note(self, operator_id: str, text: str) -> None:
        self._state.operator_notes.append(
            OperatorNote(at=workflow.now(), operator_id=operator_id, text=text)
        )

    # --- State changes -------------------------------------------------------------------------

    def _today(self) -> dt.date:
        return workflow.now().astimezone(PARIS).date()

    def _require_lines(self, line_ids: list[str]) -> None:
        known = {line.line_id for line in self._state.expense_lines}
        if any(line_id not in known for line_id in line_ids):
            raise _refusal(DomainError(ErrorCode.UNKNOWN_EXPENSE_LINE, field="line_id"))

    def _transition(
        self, action: Action, role: Role, actor_id: str, outcome: Outcome = Outcome.DEFAULT
    ) -> None:
        state = self._state
        before = state.stage
        after = next_stage(before, action, outcome)
        now = workflow.now()
        state.history.append(
            StageChange(
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
        """Wake the timer loop (deadlines may have moved) and refresh visibility."""
        self._version += 1
        self._publish()

    def _publish(self) -> None:
        """Upsert the search attributes when what they show has changed."""
        state = self._state
        next_deadline = self._next_deadline()
        decision_due = state.decision_due if state.stage in UNDER_EXAMINATION else None
        shown = (
            state.stage,
            state.deposit_deadline,
            next_deadline,
            decision_due,
            state.threat_recognised,
        )
        if shown == self._published:
            return
        updates: list[SearchAttributeUpdate[Any]] = [
            _STAGE_KEY.value_set(state.stage.value),
            _DEPARTEMENT_KEY.value_set(state.departement),
            _ELECTION_KEY.value_set(state.election.election_id),
            _DEPOSIT_DEADLINE_KEY.value_set(state.deposit_deadline),
            _NEXT_DEADLINE_KEY.value_set(next_deadline)
            if next_deadline is not None
            else _NEXT_DEADLINE_KEY.value_unset(),
            _RECOGNISED_KEY.value_set(state.threat_recognised),
            _DECISION_DUE_KEY.value_set(decision_due)
            if decision_due is not None
            else _DECISION_DUE_KEY.value_unset(),
        ]
        workflow.upsert_search_attributes(updates)
        summary = self._summary(next_deadline)
        # Shown in the Web UI beside the case: no name, no amount, nothing personal.
        workflow.set_current_details(summary)
        if not self._lean and workflow.patched(PATCH_MEMO_SUMMARY):
            # Cases at the lean version keep the summary in the current details only.
            workflow.upsert_memo({"summary": summary})
        self._published = shown

    def _summary(self, next_deadline: dt.datetime | None) -> str:
        state = self._state
        parts = [
            STAGE_LABELS[state.stage],
            f"département {state.departement}",
            state.election.election_id,
        ]
        if next_deadline is not None:
            local = next_deadline.astimezone(PARIS)
            parts.append(f"prochaine échéance le {french_date(local.date())} à {local:%H:%M}")
        return " · ".join(parts)

    # --- Sealing the dossier -------------------------------------------------------------------

    def _dossier_document_ids(self) -> list[str]:
        """The documents of the deposit: the prefect's decisions, the mandate, every line's."""
        state = self._state
        ids = [evaluation.decision_document for evaluation in state.evaluations]
        if state.third_party is not None:
            ids.append(state.third_party.mandate_document)
        for line in state.expense_lines:
            ids.extend(line.document_refs)
        return list(dict.fromkeys(ids))

    async def _seal(
        self,
        submitted_at: dt.datetime,
        retry: RetryPolicy,
        within: dt.timedelta | None = None,
    ) -> SealDossierResult | None:
        """Seal the dossier; None if storage stayed unavailable.

        Raises:
            DomainError: ``document_not_found``: a referenced document is not stored.
        """
        state = self._state
        request = SealDossierInput(
            case_id=state.case_id,
            election_label=state.election.label,
            candidate_name=state.candidate.name,
            departement=state.departement,
            submitted_at=submitted_at,
            document_ids=self._dossier_document_ids(),
            expense_lines=state.expense_lines,
            claimed_cents=state.claimed_cents,
            threat_level=state.threat_level,
        )
        try:
            sealed: SealDossierResult
            if within is not None and self._lean:
                # In the submission's own workflow task: the deposit is answered in one task
                # instead of two, and the bound on the person's wait is the same.
                sealed = await workflow.execute_local_activity(
                    "seal_dossier",
                    request,
                    result_type=SealDossierResult,
                    start_to_close_timeout=within,
                    schedule_to_close_timeout=within,
                    retry_policy=retry,
                    summary="seal_dossier",
                )
            else:
                sealed = await workflow.execute_activity(
                    "seal_dossier",
                    request,
                    result_type=SealDossierResult,
                    start_to_close_timeout=min(SEAL_TIMEOUT, within) if within else SEAL_TIMEOUT,
                    schedule_to_close_timeout=within,
                    retry_policy=retry,
                    summary="seal_dossier",
                )
            return sealed
        except FailureError as error:
            cause = _activity_failure(error)
            if isinstance(cause, ApplicationError) and cause.type in SEAL_PERMANENT_ERRORS:
                raise DomainError(
                    ErrorCode.DOCUMENT_NOT_FOUND,
                    message="Une pièce citée par la demande est introuvable : "
                    "déposez-la à nouveau avant de valider le dépôt.",
                ) from None
            workflow.logger.warning("sealing failed for now; it goes on in the background")
            return None

    async def _seal_later(self, submitted_at: dt.datetime) -> None:
        try:
            self._state.seal = await self._seal(submitted_at, SEAL_RETRY_IN_BACKGROUND)
        except DomainError:
            workflow.logger.error("a document of a submitted dossier is missing: not sealed")
        self._acknowledge_deposit()
        self._changed()

    def _acknowledge_deposit(self) -> None:
        state = self._state
        self._notify(
            EmailTemplate.DEPOSIT_ACKNOWLEDGED,
            RecipientKind.CANDIDATE,
            "1",
            attachments=[state.seal.receipt_document_id] if state.seal else [],
            submitted_at=state.submitted_at,
            line_count=len(state.expense_lines),
            claimed_cents=state.claimed_cents,
        )

    # --- Registry checks -----------------------------------------------------------------------

    def _line_check(self, line_id: str) -> LineCheck:
        for check in self._state.line_checks:
            if check.line_id == line_id:
                return check
        return LineCheck(line_id=line_id)

    def _put_line_check(self, check: LineCheck) -> None:
        checks = [c for c in self._state.line_checks if c.line_id != check.line_id]
        self._state.line_checks = [*checks, check]

    def _start_line_check(self, line: ExpenseLine, *, at_submission: bool) -> None:
        self._in_background(self._check_line(line, at_submission))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        # Wakes the timer loop, which may be waiting for quiet to continue as new or to end.
        self._version += 1

    async def _check_line(self, line: ExpenseLine, at_submission: bool) -> None:
        """Ask CNAPS and SIRENE about the line's company; an unreachable registry after every
        attempt marks the line "à vérifier manuellement" instead of blocking the case.

        Only the latest check started for a line is recorded: an older one that finishes after
        it (a forced retry overtaking the first check) is dropped.
        """
        sequence = self._line_check_sequence.get(line.line_id, 0) + 1
        self._line_check_sequence[line.line_id] = sequence
        retry = RetryPolicy(
            initial_interval=dt.timedelta(seconds=1),
            maximum_interval=dt.timedelta(minutes=1),
            maximum_attempts=self._state.policy.registry_max_attempts,
            non_retryable_error_types=REGISTRY_PERMANENT_ERRORS,
        )
        cnaps, sirene = await asyncio.gather(
            self._ask_registry(
                "check_cnaps_authorisation",
                CheckCnapsInput(
                    cnaps_authorisation=line.cnaps_authorisation,
                    siren=line.siren,
                    service_start=line.service_start,
                    service_end=line.service_end,
                ),
                CnapsCheckResult,
                retry,
            ),
            self._ask_registry(
                "check_sirene",
                CheckSireneInput(
                    siren=line.siren,
                    service_start=line.service_start,
                    service_end=line.service_end,
                ),
                SireneCheckResult,
                retry,
            ),
        )
        if all(existing.line_id != line.line_id for existing in self._state.expense_lines):
            return  # the line was removed while its company was being checked
        if self._line_check_sequence[line.line_id] != sequence:
            return  # a newer check of this line was started: its answer is the one to keep
        current = self._line_check(line.line_id)
        self._put_line_check(
            current.model_copy(
                update={
                    "cnaps": cnaps,
                    "sirene": sirene,
                    "checked_at": workflow.now(),
                    "at_submission": current.at_submission or at_submission,
                }
            )
        )
        self._changed()

    async def _ask_registry(
        self, activity_name: str, request: Any, result_type: type[Any], retry: RetryPolicy
    ) -> Any:
        try:
            return await workflow.execute_activity(
                activity_name,
                request,
                result_type=result_type,
                start_to_close_timeout=REGISTRY_TIMEOUT,
                retry_policy=retry,
                summary=activity_name,
            )
        except ActivityError as error:
            source = "cnaps" if result_type is CnapsCheckResult else "sirene"
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type in REGISTRY_PERMANENT_ERRORS:
                # The registry answered, for good: that answer is kept, not "unavailable".
                return result_type(outcome=RegistryOutcome.INVALID, source=source)
            return result_type(outcome=RegistryOutcome.UNAVAILABLE, source=source)

    # --- Emails --------------------------------------------------------------------------------

    def _facts(self, **specific: Any) -> EmailFacts:
        """What the state knows that an email may say, overridden by the event's own facts."""
        state = self._state
        known: dict[str, Any] = {
            "case_id": state.case_id,
            "election_label": state.election.label,
            "candidate_name": state.candidate.name,
            "departement": state.departement,
            "deposit_deadline": state.deposit_deadline,
            "threat_level": state.threat_level,
            "stage": state.stage,
        }
        if state.ceiling_cents is not None:
            known["ceiling_cents"] = state.ceiling_cents
        if state.decision_due is not None:
            known["decision_due"] = state.decision_due
        if state.submitted_at is not None:
            known["submitted_at"] = state.submitted_at
            known["line_count"] = len(state.expense_lines)
            known["claimed_cents"] = state.claimed_cents
        if state.decision is not None:
            known["decided_cents"] = state.decision.amount_cents
            known["outcome"] = state.decision.outcome
        return EmailFacts(**(known | specific))

    def _notify(
        self,
        template: EmailTemplate,
        recipient: RecipientKind,
        discriminator: str,
        *,
        attachments: list[str] | None = None,
        **facts: Any,
    ) -> None:
        """Queue an email; its key (case, event, round) makes sending it idempotent.

        A mandated third party gets a copy of the candidate's emails that ask for an action or
        set a deadline (cases at procedure version 2). An email to the CNCCFP is not sent when
        the case has no CNCCFP address.
        """
        state = self._state
        key = f"{state.case_id}:{template.value}:{discriminator}"
        if any(record.key == key for record in state.notifications):
            return
        addresses = {
            RecipientKind.CANDIDATE: state.candidate.email,
            RecipientKind.PREFECTURE: state.prefecture_email,
            RecipientKind.CNCCFP: state.cnccfp_email,
        }
        to = addresses.get(recipient)
        if to is None:
            return
        self._queue(
            key,
            template,
            recipient,
            SendEmailInput(
                idempotency_key=key,
                template=template,
                to=to,
                # Every email to the candidate, threat recognised or not (DOMAIN.md, "Emails").
                security_pack=recipient == RecipientKind.CANDIDATE,
                facts=self._facts(**facts),
                attachments=attachments or [],
            ),
        )
        third_party = state.third_party
        if (
            state.procedure_version >= 2
            and recipient == RecipientKind.CANDIDATE
            and template in COPIED_TEMPLATES
            and third_party is not None
            and third_party.email
        ):
            copy_key = f"{key}:tiers:{third_party.id}"
            self._queue(
                copy_key,
                template,
                RecipientKind.THIRD_PARTY,
                SendEmailInput(
                    idempotency_key=copy_key,
                    template=template,
                    to=third_party.email,
                    security_pack=False,
                    facts=self._facts(
                        **facts, copy_for_third_party=True, recipient_name=third_party.name
                    ),
                ),
            )

    def _queue(
        self, key: str, template: EmailTemplate, recipient: RecipientKind, request: SendEmailInput
    ) -> None:
        self._state.notifications.append(
            NotificationRecord(
                key=key, template=template, recipient=recipient, requested_at=workflow.now()
            )
        )
        self._outbox.append(request)

    async def _mailer(self) -> None:
        """Send the outbox: one email at a time per recipient, recipients side by side.

        A recipient whose server refuses for days holds only its own emails, and each email is
        given up after ``policy.email_give_up_after`` (failed, with an operator note and a
        metric), so no queue waits for ever. Cases that started before this ran strictly one
        email at a time; their histories replay that way (``PATCH_MAILER_PER_RECIPIENT``).
        """
        tasks: set[asyncio.Task[None]] = set()
        while True:
            await workflow.wait_condition(lambda: bool(self._outbox))
            if self._per_recipient_mail is None:
                self._per_recipient_mail = self._patched(PATCH_MAILER_PER_RECIPIENT)
            if not self._per_recipient_mail:
                await self._send(self._outbox[0], give_up_after=None)
                continue
            await workflow.wait_condition(lambda: bool(self._next_sends()))
            for request in self._next_sends():
                self._in_flight.add(request.idempotency_key)
                task = asyncio.create_task(
                    self._send(request, give_up_after=self._state.policy.email_give_up_after)
                )
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    def _next_sends(self) -> list[SendEmailInput]:
        """The first email of each recipient's queue, when none of theirs is being sent."""
        first: dict[str, SendEmailInput] = {}
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

    async def _send_in_task(self, request: SendEmailInput) -> bool:
        """One attempt as a local activity; False if it did not send (the durable one follows).

        Whatever the failure (a relay down, a hang cut by the timeout, a refusal), the durable
        activity takes the same key: the outbox row says whether the email is out, and a
        refusal for good fails there at its first attempt, recorded as before.
        """
        try:
            await workflow.execute_local_activity(
                "send_email",
                request,
                result_type=SendEmailResult,
                start_to_close_timeout=EMAIL_IN_TASK_TIMEOUT,
                # Slots of the worker all taken (a rush): the durable activity waits instead.
                schedule_to_start_timeout=EMAIL_IN_TASK_QUEUED,
                retry_policy=EMAIL_IN_TASK_RETRY,
                summary=request.template.value,
            )
        except FailureError:
            return False
        return True

    async def _send(self, request: SendEmailInput, give_up_after: dt.timedelta | None) -> None:
        record = next(r for r in self._state.notifications if r.key == request.idempotency_key)
        try:
            if not (self._lean and await self._send_in_task(request)):
                await workflow.execute_activity(
                    "send_email",
                    request,
                    result_type=SendEmailResult,
                    start_to_close_timeout=EMAIL_TIMEOUT,
                    schedule_to_close_timeout=give_up_after,
                    retry_policy=EMAIL_RETRY,
                    summary=request.template.value,
                )
            record.status = NotificationStatus.SENT
        except ActivityError as error:
            cause = error.cause
            record.status = NotificationStatus.FAILED
            last = cause.type if isinstance(cause, ApplicationError) and cause.type else None
            if give_up_after is not None and last not in EMAIL_PERMANENT_ERRORS:
                # Retried until the give-up delay ran out (the relay or the recipient's server).
                record.error_code = "gave_up"
            else:
                record.error_code = last or "unknown"
            workflow.logger.error(
                "email %s failed for good: %s", request.idempotency_key, record.error_code
            )
            if give_up_after is not None:
                self._add_note(
                    SYSTEM_ACTOR,
                    f"Courriel « {request.template.value} » ({record.recipient.value}) "
                    f"abandonné ({record.error_code}, {last or 'délai'}) : à envoyer autrement.",
                )
                workflow.metric_meter().create_counter(
                    EMAILS_GIVEN_UP_METRIC, "Emails given up by a case."
                ).add(1, {"template": request.template.value})
        record.done_at = workflow.now()
        self._outbox.remove(request)
        self._in_flight.discard(request.idempotency_key)
        # Wakes the timer loop, which may be waiting for an empty outbox to continue as new.
        self._version += 1
