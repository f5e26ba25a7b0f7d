"""Message contracts between the API, the workflow and the activities.

One typed input and one typed result per workflow, update, query and activity; one ``CaseState``.
These payloads live in workflow histories for months: only ever add fields, with defaults.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from domain.calendar import deposit_deadline, eligible_period
from domain.errors import ErrorCode, custom_error
from domain.expenses import ExpenseLine, ExpenseLineDraft, claimed_total_cents
from domain.identifiers import is_candidate_id, is_opaque_id, is_valid_departement
from domain.money import DecisionOutcome, NonNegativeCents, PositiveCents, ThreatLevel
from domain.money import ceiling_cents as level_ceiling_cents
from domain.registries import LineCheck
from domain.stages import Action, Role, Stage


def _opaque(value: str) -> str:
    if not is_opaque_id(value):
        raise custom_error(ErrorCode.INVALID_IDENTIFIER)
    return value


def _email(value: str) -> str:
    # Deliberately simple: one @, a dotted domain, no spaces. The relay is the final judge, and
    # the API's stricter check (``domain.text.normalise_email``) is applied at the boundary.
    local, _, domain = value.partition("@")
    if (
        not local
        or "@" in domain
        or "." not in domain.strip(".")
        or any(char.isspace() for char in value)
    ):
        raise custom_error(ErrorCode.INVALID_EMAIL)
    return value


def _candidate_id(value: str) -> str:
    if not is_candidate_id(value):
        raise custom_error(
            ErrorCode.INVALID_IDENTIFIER,
            "Identifiant de candidat invalide : lettres minuscules et chiffres uniquement.",
        )
    return value


def _departement(value: str) -> str:
    if not is_valid_departement(value):
        raise custom_error(ErrorCode.INVALID_DEPARTEMENT)
    return value


# Text in contracts is checked for length only. The HTTP schemas (``api/schemas.py``) refuse
# control, bidi and invisible-only text (``domain.text``) before any contract is built; the
# contracts themselves must keep reading every payload already in a history (a case opened
# before those checks existed replays with the name it was given), so they never tighten.
Text = Annotated[str, Field(min_length=1, max_length=10_000)]
"""Multi-line text a person typed (observations, reasons)."""
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
"""Single-line text (a name, a reference)."""
DocumentRef = Annotated[str, Field(min_length=1, max_length=128)]
OpaqueId = Annotated[str, AfterValidator(_opaque)]
"""An identifier safe in a workflow id: lower-case letters, digits and dashes."""
CandidateId = Annotated[str, AfterValidator(_candidate_id)]
"""A candidate's identifier: lower-case letters and digits (it ends the case's workflow id)."""
Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
"""A mailbox address, as histories hold it (the API checks it strictly before)."""
Departement = Annotated[str, AfterValidator(_departement)]


class Contract(BaseModel):
    """Base of every message: unknown fields are ignored so that old workers read new payloads."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")


# --- Actors -------------------------------------------------------------------------------------


class Actor(Contract):
    """Who takes an action, as authenticated by the API.

    The workflow trusts these claims (the API is its only client for human actions) and checks
    them against the case: a candidate acts on their own case, a third party on the case that
    mandated them, prefecture staff on their départements.
    """

    role: Role
    id: OpaqueId
    departements: list[Departement] = Field(default_factory=list)
    """For prefecture staff: the départements they serve."""


class CandidateContact(Contract):
    """How to reach the candidate (personal data: only in encrypted payloads and emails)."""

    name: ShortText
    email: Email


class ElectionInfo(Contract):
    """The election a case belongs to (a row of the elections table)."""

    election_id: OpaqueId
    label: ShortText
    """For people: "Élections municipales 2026"."""
    first_round: dt.date
    second_round: dt.date | None = None


class CasePolicy(Contract):
    """Settings of a case's timers, fixed when it opens (tests put them seconds ahead)."""

    reminder_offsets: list[dt.timedelta] = Field(
        default_factory=lambda: [dt.timedelta(days=14), dt.timedelta(days=3), dt.timedelta(days=1)]
    )
    """Reminders before the deposit deadline, while nothing is submitted."""
    answer_delay: dt.timedelta = dt.timedelta(days=15)
    """Delay given to the candidate to answer observations (no legal delay; case law)."""
    payment_followup_delay: dt.timedelta = dt.timedelta(days=30)
    """Delay after the decision before reminding a candidate who has not contacted the
    prefecture (then again after each further delay, up to ``payment_followup_max`` times)."""
    payment_followup_max: int = 3
    registry_max_attempts: int = 5
    """Attempts at an unreachable registry before a line is marked "à vérifier manuellement"."""
    prefecture_reminder_after: dt.timedelta = dt.timedelta(days=7)
    """Staff reminder to the prefecture this long after an evaluation is requested (rule 3)..."""
    prefecture_reminder_every: dt.timedelta = dt.timedelta(days=7)
    """...then again after each such delay while the evaluation is pending..."""
    prefecture_reminder_before: list[dt.timedelta] = Field(
        default_factory=lambda: [dt.timedelta(days=21), dt.timedelta(days=7)]
    )
    """...and this long before the deposit deadline."""
    cnccfp_reminder_after: dt.timedelta = dt.timedelta(days=2)
    """Staff reminder to the CNCCFP this long after a space is requested and not opened..."""
    cnccfp_reminder_before: list[dt.timedelta] = Field(
        default_factory=lambda: [dt.timedelta(days=7), dt.timedelta(days=3), dt.timedelta(days=1)]
    )
    """...and this long before the deposit deadline."""
    decision_reminder_before: list[dt.timedelta] = Field(
        default_factory=lambda: [dt.timedelta(days=30), dt.timedelta(days=7)]
    )
    """Reminders to the CNCCFP before its decision is due (rule 5)."""
    email_give_up_after: dt.timedelta = dt.timedelta(days=3)
    """How long an email is retried before it is given up (failed, with an operator note)."""
    reminder_spread: dt.timedelta = dt.timedelta(0)
    """Window over which the reminders counted back from the deposit deadline are spread, each
    case by an offset of its own (``domain.reminders.spread_offset``), so that an election's
    cases do not all wake in the same second. 0: sent at the exact time (cases opened before)."""
    receipt_grace: dt.timedelta = dt.timedelta(0)
    """How long after the deposit deadline a deposit the API received in time is still taken
    (rule 4): the time bar waits this long for the actions received before the deadline.
    ``Settings.receipt_grace_minutes`` gives new cases 10 minutes; 0 here keeps tests exact."""

    @field_validator(
        "reminder_offsets",
        "prefecture_reminder_before",
        "cnccfp_reminder_before",
        "decision_reminder_before",
    )
    @classmethod
    def _positive_offsets(cls, value: list[dt.timedelta]) -> list[dt.timedelta]:
        if any(offset <= dt.timedelta(0) for offset in value):
            raise custom_error(ErrorCode.INVALID_INPUT, "Les rappels doivent précéder l'échéance.")
        return sorted(set(value), reverse=True)


CURRENT_PROCEDURE_VERSION = 3
"""The version of the procedure new cases open with (see ``OpenCaseInput.procedure_version``)."""

# --- Workflow input and state -------------------------------------------------------------------


class OpenCaseInput(Contract):
    """Input of ``CandidateCaseWorkflow``: everything the case needs, fixed when it opens."""

    election: ElectionInfo
    candidate_id: CandidateId
    candidate: CandidateContact
    departement: Departement
    """Département of the circonscription: it decides which prefecture acts."""
    prefecture_email: Email
    cnccfp_email: Email | None = None
    """Where staff reminders to the CNCCFP go (rule 3, rule 5); none are sent without it."""
    candidacy_declared_on: dt.date
    """When the candidacy was made public: expenses before it are not eligible."""
    attended_second_round: bool = False
    """Obsolete (rule 2): rounds attended are stated at the deposit. Kept for old payloads."""
    deposit_deadline: dt.datetime | None = None
    """Defaults to the legal deadline of the first round; set earlier only by tests and drills."""
    policy: CasePolicy = Field(default_factory=CasePolicy)
    procedure_version: int = 1
    """1: cases opened before the rules of DOMAIN.md's legal review (their histories replay as
    they ran); 2: staff reminders, third-party copies and the decision due date; 3: the same
    rules run leaner (issue 14): every behaviour earlier cases took behind a ``patched()`` marker
    is on without one, no memo, emails sent in the workflow task that queued them. New cases are
    opened at ``CURRENT_PROCEDURE_VERSION``."""
    carried_state: CaseState | None = None
    """Set by continue-as-new: the state the previous run ended with."""

    @model_validator(mode="after")
    def _aware_deadline(self) -> OpenCaseInput:
        if self.deposit_deadline is not None and self.deposit_deadline.tzinfo is None:
            raise custom_error(ErrorCode.INVALID_INPUT, "L'échéance doit porter un fuseau horaire.")
        return self

    def legal_deposit_deadline(self) -> dt.datetime:
        return self.deposit_deadline or deposit_deadline(self.election.first_round)


class EvaluationRequest(Contract):
    """A request to the prefect to evaluate the threat (the first, or a re-examination)."""

    number: int
    requested_at: dt.datetime
    document_refs: list[str] = Field(default_factory=list)
    new_facts: str | None = None
    complaint_document_refs: list[str] = Field(default_factory=list)
    candidacy_proof_ref: str | None = None
    reevaluation: bool = False
    """A request to re-evaluate a recognised threat (escalation, rule 7)."""


class Evaluation(Contract):
    """A décision d'évaluation of the prefect."""

    number: int
    recognised: bool
    level: ThreatLevel | None
    decided_on: dt.date
    decision_document: DocumentRef
    recorded_at: dt.datetime
    recorded_by: str
    ceiling_cents: int | None = None
    """The ceiling of the level, fixed when the evaluation was recorded (None before rule 7)."""
    reevaluation: bool = False
    """A re-evaluation or correction of a recognised threat (rule 7)."""
    reason: str | None = None
    candidacy_declared_on: dt.date | None = None
    """The declaration date as the prefecture checked it (rule 6)."""


class LineVerdict(Contract):
    """The CNCCFP's verdict on one expense line (rule 8)."""

    line_id: str
    accepted_cents: int
    """What the line is accepted for: its whole amount, less (a cut), or nothing."""
    reason: str | None = None
    """Required when the line is cut."""
    recorded_at: dt.datetime
    recorded_by: str


class LateWindow(Contract):
    """A late deposit window the CNCCFP opened after the deadline passed while the case waited
    on the administration (rule 3)."""

    opened_at: dt.datetime
    opened_by: str
    reason: Text
    previous_deadline: dt.datetime
    deposit_deadline: dt.datetime


class ThirdParty(Contract):
    """The mandated third party of a case."""

    id: str
    name: ShortText
    email: str | None = None
    mandate_document: DocumentRef
    mandated_at: dt.datetime


class ObservationRound(Contract):
    """One round of the contradictory procedure."""

    number: int
    sent_at: dt.datetime
    sent_by: str
    observations: Text
    contested_line_ids: list[str] = Field(default_factory=list)
    answer_due: dt.datetime
    answered_at: dt.datetime | None = None
    answer: str | None = None
    answer_document_refs: list[str] = Field(default_factory=list)
    expired_unanswered: bool = False


class Decision(Contract):
    """The CNCCFP's decision on the amount."""

    amount_cents: int
    claimed_cents: int
    ceiling_cents: int
    outcome: DecisionOutcome
    reasons: str | None = None
    decided_at: dt.datetime
    decided_by: str


class Payment(Contract):
    """The payment recorded by the prefecture."""

    amount_cents: int
    paid_on: dt.date
    reference: ShortText
    recorded_at: dt.datetime
    recorded_by: str


class StageChange(Contract):
    at: dt.datetime
    action: Action
    role: Role
    actor_id: str
    from_stage: Stage
    to_stage: Stage


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class NotificationRecord(Contract):
    """One email the case asked for, and what became of it."""

    key: str
    template: EmailTemplate
    recipient: RecipientKind
    status: NotificationStatus = NotificationStatus.PENDING
    requested_at: dt.datetime
    done_at: dt.datetime | None = None
    error_code: str | None = None


class OperatorNote(Contract):
    at: dt.datetime
    operator_id: str
    text: Text


class CaseState(Contract):
    """Everything known about a case; what the query returns and continue-as-new carries."""

    case_id: str
    election: ElectionInfo
    candidate_id: str
    candidate: CandidateContact
    departement: str
    prefecture_email: str
    candidacy_declared_on: dt.date
    attended_second_round: bool = False
    """Obsolete (rule 2): see ``rounds_attended``."""
    policy: CasePolicy
    opened_at: dt.datetime
    cnccfp_email: str | None = None
    procedure_version: int = 1
    rounds_attended: int | None = None
    """The last round the candidate stood in (1 or 2), stated at the deposit and correctable
    by the CNCCFP (rule 2); None until then."""
    rounds_corrections: list[str] = Field(default_factory=list)
    """Reasons the CNCCFP gave when it corrected the rounds attended."""
    decision_due: dt.datetime | None = None
    """When the CNCCFP's decision is due: six months after the deposit (rule 5)."""
    line_verdicts: list[LineVerdict] = Field(default_factory=list)
    awaited_stage: Stage | None = None
    """The stage the case waited in when the deadline passed (rule 3)."""
    late_windows: list[LateWindow] = Field(default_factory=list)
    closing_reason: str | None = None
    staff_reminders_sent: list[str] = Field(default_factory=list)
    """Keys of the reminders already sent to the prefecture and the CNCCFP."""

    stage: Stage = Stage.OPENED
    history: list[StageChange] = Field(default_factory=list)
    deposit_deadline: dt.datetime
    deadline_set_at: dt.datetime
    """When the current deposit deadline was set: reminders due before then are not sent."""
    evaluation_requests: list[EvaluationRequest] = Field(default_factory=list)
    evaluations: list[Evaluation] = Field(default_factory=list)
    third_party: ThirdParty | None = None
    space_opened_at: dt.datetime | None = None
    expense_lines: list[ExpenseLine] = Field(default_factory=list)
    submitted_at: dt.datetime | None = None
    rounds: list[ObservationRound] = Field(default_factory=list)
    decision: Decision | None = None
    prefecture_contacted_at: dt.datetime | None = None
    payment_followups_sent: int = 0
    payment: Payment | None = None
    line_checks: list[LineCheck] = Field(default_factory=list)
    """What the CNAPS and SIRENE registries (or a reviewer) said of each line's company."""
    seal: SealDossierResult | None = None
    """The dossier sealed at submission (manifest hash, receipt)."""
    reminders_sent: list[str] = Field(default_factory=list)
    """Keys of the deposit reminders already sent (offset and deadline)."""
    notifications: list[NotificationRecord] = Field(default_factory=list)
    operator_notes: list[OperatorNote] = Field(default_factory=list)
    closed_at: dt.datetime | None = None

    @property
    def threat_level(self) -> ThreatLevel | None:
        """The level of the latest evaluation, if it recognised the threat."""
        if self.evaluations and self.evaluations[-1].recognised:
            return self.evaluations[-1].level
        return None

    @property
    def threat_recognised(self) -> bool:
        """Whether a prefect ever recognised the threat: the CNCCFP's view starts there."""
        return any(evaluation.recognised for evaluation in self.evaluations)

    @property
    def ceiling_cents(self) -> int | None:
        """The ceiling in force: that of the latest recognised level, as fixed when recorded."""
        if not self.evaluations or not self.evaluations[-1].recognised:
            return None
        latest = self.evaluations[-1]
        if latest.ceiling_cents is not None:
            return latest.ceiling_cents
        return level_ceiling_cents(latest.level) if latest.level is not None else None

    def verdict(self, line_id: str) -> LineVerdict | None:
        for verdict in self.line_verdicts:
            if verdict.line_id == line_id:
                return verdict
        return None

    @property
    def claimed_cents(self) -> int:
        return claimed_total_cents(self.expense_lines)

    @property
    def eligible_period(self) -> tuple[dt.date, dt.date]:
        """Until the candidate states the rounds they stood in, the period runs to the last
        round of the election (rule 2); then to the last round they stood in."""
        election = self.election
        if self.rounds_attended is None and not self.attended_second_round:
            last_round = election.second_round or election.first_round
        else:
            last_round = self.last_round_date(self.rounds_attended or 2)
        return eligible_period(election.first_round, self.candidacy_declared_on, last_round)

    def last_round_date(self, rounds_attended: int) -> dt.date:
        election = self.election
        if rounds_attended >= 2 and election.second_round is not None:
            return election.second_round
        return election.first_round

    @property
    def open_round(self) -> ObservationRound | None:
        if self.stage == Stage.OBSERVATIONS_PENDING and self.rounds:
            return self.rounds[-1]
        return None


# --- Updates ------------------------------------------------------------------------------------


class ActionInput(Contract):
    """Base of every human action: who acts, and when the API received the request."""

    actor: Actor
    received_at: dt.datetime | None = None
    """The API's clock when the request arrived: deadlines are judged on it (rule 4)."""


class RequestEvaluationInput(ActionInput):
    complaint_document_refs: list[DocumentRef] = Field(default_factory=list)
    """The procès-verbal de plainte and anything useful (new facts for a re-examination)."""
    candidacy_proof_ref: DocumentRef | None = None
    new_facts: str | None = Field(default=None, max_length=10_000)


class RecordEvaluationInput(ActionInput):
    recognised: bool
    level: ThreatLevel | None = None
    decided_on: dt.date
    decision_document: DocumentRef
    candidacy_declared_on: dt.date | None = None
    """The declaration date as the prefecture checked it; corrects the candidate's (rule 6)."""
    ceiling_cents: int | None = None
    """The ceiling of ``level``, computed by the caller from ``domain.money``."""

    @model_validator(mode="after")
    def _level_iff_recognised(self) -> RecordEvaluationInput:
        if self.recognised != (self.level is not None):
            raise custom_error(ErrorCode.INVALID_THREAT_LEVEL)
        return self


class MandateThirdPartyInput(ActionInput):
    third_party_id: OpaqueId
    name: ShortText
    email: Email | None = None
    mandate_document: DocumentRef


class RequestSpaceInput(ActionInput):
    pass


class OpenSpaceInput(ActionInput):
    pass


class AddExpenseLineInput(ActionInput):
    line: ExpenseLineDraft


class RemoveExpenseLineInput(ActionInput):
    line_id: ShortText


class SubmitInput(ActionInput):
    rounds_attended: int | None = Field(default=None, ge=0, le=2)
    """The last round the candidate stood in: 1 or 2 (0: not a candidate at the first round)."""
    decision_due: dt.datetime | None = None
    """Computed by the caller (``domain.calendar.decision_due`` of the receipt time)."""


class SendObservationsInput(ActionInput):
    observations: Text
    contested_line_ids: list[str] = Field(default_factory=list)
    answer_delay: dt.timedelta | None = None
    """Overrides the case policy's answer delay for this round."""
    answer_due: dt.datetime | None = None
    """The end of the answer delay (23:59:59 Paris), computed by the caller; it wins over
    ``answer_delay``."""

    @field_validator("answer_delay")
    @classmethod
    def _positive_delay(cls, value: dt.timedelta | None) -> dt.timedelta | None:
        if value is not None and value <= dt.timedelta(0):
            raise custom_error(ErrorCode.INVALID_INPUT, "Le délai de réponse doit être positif.")
        return value


class AnswerObservationsInput(ActionInput):
    answer: Text
    document_refs: list[DocumentRef] = Field(default_factory=list)


class DecideInput(ActionInput):
    amount_cents: NonNegativeCents
    reasons: str | None = Field(default=None, max_length=10_000)


class ContactPrefectureInput(ActionInput):
    pass


class RecordPaymentInput(ActionInput):
    amount_cents: PositiveCents
    paid_on: dt.date
    reference: ShortText


class RecordManualVerificationInput(ActionInput):
    """A reviewer's own verification of a line's company, overriding the registries."""

    line_id: ShortText
    valid: bool
    note: Text


class WithdrawInput(ActionInput):
    reason: str | None = Field(default=None, max_length=2_000)


class RequestReevaluationInput(ActionInput):
    """The candidate asks the prefect to re-evaluate a recognised threat (new facts)."""

    new_facts: Text
    document_refs: list[DocumentRef] = Field(default_factory=list)


class ReevaluateThreatInput(ActionInput):
    """The prefect re-evaluates or corrects the level of a recognised threat (rule 7)."""

    level: ThreatLevel
    decided_on: dt.date
    decision_document: DocumentRef
    reason: Text
    ceiling_cents: int | None = None


class RecordLineVerdictInput(ActionInput):
    """The CNCCFP's verdict on one line: accepted in full, or cut with its reason (rule 8)."""

    line_id: ShortText
    accepted_cents: NonNegativeCents
    reason: str | None = Field(default=None, max_length=10_000)


class CorrectRoundsAttendedInput(ActionInput):
    """The CNCCFP corrects the rounds attended from the official results (rule 2)."""

    rounds_attended: int = Field(ge=0, le=2)
    reason: Text


class OpenLateWindowInput(ActionInput):
    """The CNCCFP gives a case that waited on the administration a new deposit deadline."""

    deposit_deadline: dt.datetime
    reason: Text

    @field_validator("deposit_deadline")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise custom_error(ErrorCode.LATE_DEADLINE_INVALID)
        return value


class CloseCaseInput(ActionInput):
    """The CNCCFP closes, with a reason, a case that waited on the administration."""

    reason: Text


# --- Operator signals ---------------------------------------------------------------------------


class OperatorInput(Contract):
    operator_id: str
    reason: Text


class CorrectFirstRoundInput(OperatorInput):
    first_round: dt.date
    second_round: dt.date | None = None


class CorrectDepositDeadlineInput(OperatorInput):
    deposit_deadline: dt.datetime


class AddNoteInput(OperatorInput):
    pass


class OperatorActionInput(ActionInput):
    """An operator's correction sent as an update (issue 11): the operator is the actor the API
    authenticated, the reason is required, and a refusal is an answer, not a log line."""

    reason: Text


class CorrectFirstRoundUpdate(OperatorActionInput):
    first_round: dt.date
    second_round: dt.date | None = None
    deposit_deadline: dt.datetime | None = None
    """The legal deadline of ``first_round``, computed by the caller (``domain.calendar``)."""


class CorrectDepositDeadlineUpdate(OperatorActionInput):
    deposit_deadline: dt.datetime


class AddNoteUpdate(OperatorActionInput):
    pass


class RetryRegistryChecksUpdate(OperatorActionInput):
    pass


MESSAGE_POSTED_SIGNAL = "message_posted"
"""Signal the API sends when a message is posted on a case: the notice goes out through the
case's durable outbox, like every other email."""


class MessagePostedInput(Contract):
    """A message was stored on the case (its text stays in the app database)."""

    message_id: ShortText
    author_role: Role


class RetryRegistryChecksInput(OperatorInput):
    """Check again, now, the companies of every line marked "à vérifier manuellement"."""


# --- Activities ---------------------------------------------------------------------------------


class EmailTemplate(StrEnum):
    """Every email secupol sends; each has one French template in ``activities/email``."""

    EVALUATION_REQUESTED = "evaluation_requested"
    EVALUATION_RECORDED = "evaluation_recorded"
    SPACE_OPENED = "space_opened"
    DEPOSIT_REMINDER = "deposit_reminder"
    DEPOSIT_ACKNOWLEDGED = "deposit_acknowledged"
    OBSERVATIONS_RECEIVED = "observations_received"
    DECISION = "decision"
    PAYMENT_REQUESTED = "payment_requested"
    PAYMENT_FOLLOWUP = "payment_followup"
    PAYMENT_RECORDED = "payment_recorded"
    TIME_BARRED = "time_barred"
    WITHDRAWAL_CONFIRMED = "withdrawal_confirmed"
    # Staff reminders and the administration's delay (rules 3, 5, 7).
    EVALUATION_REMINDER = "evaluation_reminder"
    """To the prefecture: an evaluation is pending."""
    SPACE_REQUESTED = "space_requested"
    """To the CNCCFP: a space is asked for."""
    SPACE_REMINDER = "space_reminder"
    """To the CNCCFP: a space requested is not open yet."""
    DECISION_DUE_REMINDER = "decision_due_reminder"
    """To the CNCCFP: a decision falls due."""
    ADMINISTRATION_DELAY = "administration_delay"
    """To the candidate: the deadline passed while the administration had the next step."""
    ADMINISTRATION_DELAY_STAFF = "administration_delay_staff"
    """To the CNCCFP: a case waits for a late window or a closing."""
    LATE_WINDOW_OPENED = "late_window_opened"
    CASE_CLOSED = "case_closed"
    REEVALUATION_REQUESTED = "reevaluation_requested"
    """To the prefecture: the candidate asks for a re-evaluation."""
    THREAT_REEVALUATED = "threat_reevaluated"
    NEW_MESSAGE = "new_message"
    """To the candidate: the CNCCFP wrote on the case (never what it wrote)."""


class RecipientKind(StrEnum):
    CANDIDATE = "candidate"
    PREFECTURE = "prefecture"
    CNCCFP = "cnccfp"
    THIRD_PARTY = "third_party"
    """A copy of an email that asks the candidate to act or sets a deadline."""


class EmailFacts(Contract):
    """What a template may say. Only what its reader needs: never security arrangements."""

    case_id: str
    election_label: str
    candidate_name: str
    departement: str
    deposit_deadline: dt.datetime
    threat_level: ThreatLevel | None = None
    recognised: bool | None = None
    evaluation_number: int | None = None
    days_left: int | None = None
    stage: Stage | None = None
    submitted_at: dt.datetime | None = None
    line_count: int | None = None
    claimed_cents: int | None = None
    round_number: int | None = None
    observations: str | None = None
    answer_due: dt.datetime | None = None
    decided_cents: int | None = None
    ceiling_cents: int | None = None
    outcome: DecisionOutcome | None = None
    reasons: str | None = None
    payment_cents: int | None = None
    paid_on: dt.date | None = None
    payment_reference: str | None = None
    followup_number: int | None = None
    reason: str | None = None
    """A closing's, a late window's or a re-evaluation's reason."""
    decision_due: dt.datetime | None = None
    awaited_stage: Stage | None = None
    capped: bool | None = None
    """The decided amount is the ceiling, lower than the claim: the law applied, not a cut."""
    copy_for_third_party: bool = False
    """This is the copy sent to the mandated third party."""
    recipient_name: str | None = None
    previous_level: ThreatLevel | None = None
    lines_cut: int | None = None
    requested_at: dt.datetime | None = None
    """When the request a staff reminder is about (evaluation, space) was made."""


class SendEmailInput(Contract):
    """Input of the ``send_email`` activity."""

    attachments: list[str] = Field(default_factory=list)
    """Stored documents to attach (the deposit receipt), read from storage by the activity."""

    idempotency_key: ShortText
    """Workflow id + event + round: the same key is never sent twice."""
    template: EmailTemplate
    to: Email
    security_pack: bool = False
    """Append the security-pack contacts (candidates whose threat is recognised)."""
    facts: EmailFacts


EMAIL_PERMANENT_ERRORS = ["EmailTemplateError", "EmailRecipientRefused"]
"""Error types of ``send_email`` that no retry can fix."""
SEAL_PERMANENT_ERRORS = ["DocumentMissing"]
"""Error types of ``seal_dossier`` that no retry can fix."""


class SendEmailResult(Contract):
    message_id: str
    already_sent: bool = False
    """True when a previous attempt had sent it: nothing was sent this time."""


class SealedDocument(Contract):
    """One document as the seal lists it."""

    document_id: str
    kind: str
    filename: str
    sha256: str
    size: int


class SealDossierInput(Contract):
    """Input of the ``seal_dossier`` activity: what the case held when it was submitted."""

    case_id: str
    election_label: str
    candidate_name: str
    departement: str
    submitted_at: dt.datetime
    document_ids: list[str]
    expense_lines: list[ExpenseLine]
    claimed_cents: int
    threat_level: ThreatLevel | None = None


class SealDossierResult(Contract):
    """The sealed dossier: its manifest (stored), the manifest's hash and the PDF receipt."""

    manifest_document_id: str
    manifest_sha256: str
    receipt_document_id: str
    receipt_sha256: str
    documents: list[SealedDocument]


class CaseResult(Contract):
    """Result of ``CandidateCaseWorkflow``: how the case ended."""

    stage: Stage
    closed_at: dt.datetime
    paid_cents: int | None = None


# Forward references between the models above.
NotificationRecord.model_rebuild()
CaseState.model_rebuild()
OpenCaseInput.model_rebuild()
