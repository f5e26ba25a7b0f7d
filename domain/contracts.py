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
from domain.registries import LineCheck
from domain.stages import Action, Role, Stage


def _opaque(value: str) -> str:
    if not is_opaque_id(value):
        raise custom_error(ErrorCode.INVALID_IDENTIFIER)
    return value


def _email(value: str) -> str:
    # Deliberately simple: one @, a dotted domain, no spaces. The relay is the final judge.
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


Text = Annotated[str, Field(min_length=1, max_length=10_000)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
DocumentRef = Annotated[str, Field(min_length=1, max_length=128)]
OpaqueId = Annotated[str, AfterValidator(_opaque)]
"""An identifier safe in a workflow id: lower-case letters, digits and dashes."""
CandidateId = Annotated[str, AfterValidator(_candidate_id)]
"""A candidate's identifier: lower-case letters and digits (it ends the case's workflow id)."""
Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
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

    @field_validator("reminder_offsets")
    @classmethod
    def _positive_offsets(cls, value: list[dt.timedelta]) -> list[dt.timedelta]:
        if any(offset <= dt.timedelta(0) for offset in value):
            raise custom_error(ErrorCode.INVALID_INPUT, "Les rappels doivent précéder l'échéance.")
        return sorted(set(value), reverse=True)


# --- Workflow input and state -------------------------------------------------------------------


class OpenCaseInput(Contract):
    """Input of ``CandidateCaseWorkflow``: everything the case needs, fixed when it opens."""

    election: ElectionInfo
    candidate_id: CandidateId
    candidate: CandidateContact
    departement: Departement
    """Département of the circonscription: it decides which prefecture acts."""
    prefecture_email: Email
    candidacy_declared_on: dt.date
    """When the candidacy was made public: expenses before it are not eligible."""
    attended_second_round: bool = False
    deposit_deadline: dt.datetime | None = None
    """Defaults to the legal deadline of the first round; set earlier only by tests and drills."""
    policy: CasePolicy = Field(default_factory=CasePolicy)
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


class Evaluation(Contract):
    """A décision d'évaluation of the prefect."""

    number: int
    recognised: bool
    level: ThreatLevel | None
    decided_on: dt.date
    decision_document: DocumentRef
    recorded_at: dt.datetime
    recorded_by: str


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
    policy: CasePolicy
    opened_at: dt.datetime

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
    def claimed_cents(self) -> int:
        return claimed_total_cents(self.expense_lines)

    @property
    def eligible_period(self) -> tuple[dt.date, dt.date]:
        election = self.election
        last_round = (
            election.second_round
            if self.attended_second_round and election.second_round
            else election.first_round
        )
        return eligible_period(election.first_round, self.candidacy_declared_on, last_round)

    @property
    def open_round(self) -> ObservationRound | None:
        if self.stage == Stage.OBSERVATIONS_PENDING and self.rounds:
            return self.rounds[-1]
        return None


# --- Updates ------------------------------------------------------------------------------------


class ActionInput(Contract):
    """Base of every human action: who acts."""

    actor: Actor


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
    pass


class SendObservationsInput(ActionInput):
    observations: Text
    contested_line_ids: list[str] = Field(default_factory=list)
    answer_delay: dt.timedelta | None = None
    """Overrides the case policy's answer delay for this round."""

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


class RecipientKind(StrEnum):
    CANDIDATE = "candidate"
    PREFECTURE = "prefecture"


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
