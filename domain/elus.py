"""The élus' procedures: stages, the table of who may do what, and their message contracts.

Three procedures beside the candidate's case (DOMAIN.md, "The élus' side"), each a workflow:

- **Automatic functional protection** (``FunctionalProtectionWorkflow``): an official's request
  to the collectivité, protected five jours francs after receipt once the request is transmitted
  to the prefect and the council informed; withdrawable by a motivated deliberation for four
  months, then final. Within those four months, members may ask the executive to convene the
  council, which it must do before they end: both facts are recorded, the deadline shown.
- **Alert-button loan** (``AlertButtonLoanWorkflow``): the prefect's decision after the
  référent's evaluation, the hand-over, three-month periods renewed or ended by the return; a
  period that ends with neither escalates to the prefecture, again and again, and never lapses.
- **State functional protection of a candidate** (``CandidateProtectionWorkflow``, R. 39-11):
  request to the prefect, decision, notice.

``ELUS_RULES`` is the one table: the workflows' validators, the API's routes and the
authorisation-matrix test read it, as ``domain.stages.RULES`` for the case. Values that depend on
the law or the calendar (the last day of the jours francs, the end of a loan period) are computed
by the API with ``domain.protection`` and carried in inputs; a workflow only compares dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from pydantic import Field

from domain.calendar import last_paris_day
from domain.contracts import (
    Contract,
    Departement,
    Email,
    OpaqueId,
    ShortText,
    Text,
)
from domain.errors import DomainError, ErrorCode
from domain.protection import withdrawal_window_end
from domain.stages import Role


class Procedure(StrEnum):
    """Which élus' procedure; also the prefix of its workflow ids."""

    FUNCTIONAL_PROTECTION = "protection"
    ALERT_BUTTON = "bouton"
    CANDIDATE_PROTECTION = "protection-candidat"


WORKFLOW_TYPES: dict[Procedure, str] = {
    Procedure.FUNCTIONAL_PROTECTION: "FunctionalProtectionWorkflow",
    Procedure.ALERT_BUTTON: "AlertButtonLoanWorkflow",
    Procedure.CANDIDATE_PROTECTION: "CandidateProtectionWorkflow",
}


def procedure_workflow_id(procedure: Procedure, reference: str) -> str:
    """The workflow id of a procedure: ``<procedure>-<reference>`` (reference: opaque, random)."""
    return f"{procedure.value}-{reference}"


def procedure_of(workflow_id: str) -> Procedure | None:
    """The procedure a workflow id belongs to (longest prefix first), or None."""
    for procedure in sorted(Procedure, key=lambda p: len(p.value), reverse=True):
        if workflow_id.startswith(procedure.value + "-"):
            return procedure
    return None


class ElusStage(StrEnum):
    """Where a procedure stands (the values are distinct across the three procedures)."""

    # Functional protection
    FP_RECEIVED = "fp_received"
    """Received and acknowledged; the transmission to the prefect or the information of the
    council is still to be recorded."""
    FP_SCHEDULED = "fp_scheduled"
    """Both obligations done: the protection begins at the end of the jours francs."""
    FP_PROTECTED = "fp_protected"
    """The official is protected; the council may withdraw or abrogate for four months."""
    FP_FINAL = "fp_final"
    """Four months passed without a withdrawal: the protection is final."""
    FP_WITHDRAWN = "fp_withdrawn"
    """The council withdrew or abrogated the protection by a motivated deliberation."""
    # Alert button
    AB_DECIDED = "ab_decided"
    """The prefect decided to lend a button; it is not handed over yet."""
    AB_LENT = "ab_lent"
    """The official holds the button for the current period."""
    AB_OVERDUE = "ab_overdue"
    """The period ended with neither renewal nor return: the prefecture is reminded until then."""
    AB_RETURNED = "ab_returned"
    """The button was returned (or the loan ended before the hand-over)."""
    # Candidate's State protection (R. 39-11)
    CP_REQUESTED = "cp_requested"
    CP_GRANTED = "cp_granted"
    CP_REFUSED = "cp_refused"
    CP_WITHDRAWN = "cp_withdrawn"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_ELUS_STAGES


TERMINAL_ELUS_STAGES = frozenset(
    {
        ElusStage.FP_FINAL,
        ElusStage.FP_WITHDRAWN,
        ElusStage.AB_RETURNED,
        ElusStage.CP_GRANTED,
        ElusStage.CP_REFUSED,
        ElusStage.CP_WITHDRAWN,
    }
)

ELUS_STAGE_LABELS: dict[ElusStage, str] = {
    ElusStage.FP_RECEIVED: "Demande reçue : transmission au préfet et information du conseil",
    ElusStage.FP_SCHEDULED: "Protection acquise à l'issue du délai de cinq jours francs",
    ElusStage.FP_PROTECTED: "Protection en vigueur (retrait possible pendant quatre mois)",
    ElusStage.FP_FINAL: "Protection définitive",
    ElusStage.FP_WITHDRAWN: "Protection retirée ou abrogée par le conseil",
    ElusStage.AB_DECIDED: "Bouton d'appel attribué, à remettre",
    ElusStage.AB_LENT: "Bouton d'appel remis",
    ElusStage.AB_OVERDUE: "Période échue : renouveler ou enregistrer la restitution",
    ElusStage.AB_RETURNED: "Bouton d'appel restitué",
    ElusStage.CP_REQUESTED: "Protection fonctionnelle demandée au préfet",
    ElusStage.CP_GRANTED: "Protection fonctionnelle accordée",
    ElusStage.CP_REFUSED: "Protection fonctionnelle refusée",
    ElusStage.CP_WITHDRAWN: "Demande retirée",
}

PROCEDURE_STAGES: dict[Procedure, frozenset[ElusStage]] = {
    procedure: frozenset(stage for stage in ElusStage if stage.value.startswith(prefix))
    for procedure, prefix in (
        (Procedure.FUNCTIONAL_PROTECTION, "fp_"),
        (Procedure.ALERT_BUTTON, "ab_"),
        (Procedure.CANDIDATE_PROTECTION, "cp_"),
    )
}


class ElusAction(StrEnum):
    """Every event that can change an élus' procedure; a value names its Update."""

    # Functional protection
    FILE_PROTECTION_REQUEST = "file_protection_request"
    RECORD_TRANSMISSION = "record_transmission"
    RECORD_COUNCIL_INFORMATION = "record_council_information"
    RECORD_DELIBERATION = "record_deliberation"
    RECORD_CONVENING_REQUEST = "record_convening_request"
    RECORD_COUNCIL_CONVENED = "record_council_convened"
    PROTECTION_BEGINS = "protection_begins"
    WITHDRAWAL_WINDOW_ENDS = "withdrawal_window_ends"
    # Alert button
    DECIDE_ALERT_BUTTON = "decide_alert_button"
    RECORD_HANDOVER = "record_handover"
    RENEW_LOAN = "renew_loan"
    RECORD_RETURN = "record_return"
    LOAN_PERIOD_ENDS = "loan_period_ends"
    # Candidate's State protection
    REQUEST_STATE_PROTECTION = "request_state_protection"
    DECIDE_STATE_PROTECTION = "decide_state_protection"
    WITHDRAW_STATE_PROTECTION_REQUEST = "withdraw_state_protection_request"


class ElusOutcome(StrEnum):
    DEFAULT = "default"
    PENDING = "pending"
    """One obligation of the functional protection is still to be done."""
    SCHEDULED = "scheduled"
    STARTED = "started"
    """Both done late (or the start is already past): protected at once."""
    GRANTED = "granted"
    REFUSED = "refused"


@dataclass(frozen=True)
class ElusRule:
    """One action: its procedure, who may take it, from which stages, what follows.

    ``from_stages`` empty: the action starts the procedure. ``to`` empty: the stage stays.
    """

    procedure: Procedure
    action: ElusAction
    roles: frozenset[Role]
    from_stages: frozenset[ElusStage]
    to: tuple[tuple[ElusOutcome, ElusStage], ...] = ()
    label: str = ""


_FP = Procedure.FUNCTIONAL_PROTECTION
_AB = Procedure.ALERT_BUTTON
_CP = Procedure.CANDIDATE_PROTECTION
_S = ElusStage
_O = ElusOutcome

ELUS_RULES: dict[ElusAction, ElusRule] = {
    rule.action: rule
    for rule in (
        ElusRule(
            _FP,
            ElusAction.FILE_PROTECTION_REQUEST,
            frozenset({Role.ELU, Role.COLLECTIVITE}),
            frozenset(),
            ((_O.DEFAULT, _S.FP_RECEIVED),),
            "Déposer une demande de protection fonctionnelle",
        ),
        ElusRule(
            _FP,
            ElusAction.RECORD_TRANSMISSION,
            frozenset({Role.COLLECTIVITE}),
            frozenset({_S.FP_RECEIVED}),
            (
                (_O.PENDING, _S.FP_RECEIVED),
                (_O.SCHEDULED, _S.FP_SCHEDULED),
                (_O.STARTED, _S.FP_PROTECTED),
            ),
            "Enregistrer la transmission de la demande au préfet",
        ),
        ElusRule(
            _FP,
            ElusAction.RECORD_COUNCIL_INFORMATION,
            frozenset({Role.COLLECTIVITE}),
            frozenset({_S.FP_RECEIVED}),
            (
                (_O.PENDING, _S.FP_RECEIVED),
                (_O.SCHEDULED, _S.FP_SCHEDULED),
                (_O.STARTED, _S.FP_PROTECTED),
            ),
            "Enregistrer l'information des membres du conseil",
        ),
        ElusRule(
            _FP,
            ElusAction.RECORD_DELIBERATION,
            frozenset({Role.COLLECTIVITE}),
            frozenset({_S.FP_SCHEDULED, _S.FP_PROTECTED}),
            ((_O.DEFAULT, _S.FP_WITHDRAWN),),
            "Enregistrer la délibération de retrait ou d'abrogation",
        ),
        ElusRule(
            _FP,
            ElusAction.RECORD_CONVENING_REQUEST,
            frozenset({Role.COLLECTIVITE}),
            frozenset({_S.FP_SCHEDULED, _S.FP_PROTECTED}),
            (),
            "Enregistrer la demande de convocation du conseil par ses membres",
        ),
        ElusRule(
            _FP,
            ElusAction.RECORD_COUNCIL_CONVENED,
            frozenset({Role.COLLECTIVITE}),
            frozenset({_S.FP_SCHEDULED, _S.FP_PROTECTED}),
            (),
            "Enregistrer la convocation du conseil",
        ),
        ElusRule(
            _FP,
            ElusAction.PROTECTION_BEGINS,
            frozenset({Role.SYSTEM}),
            frozenset({_S.FP_SCHEDULED}),
            ((_O.DEFAULT, _S.FP_PROTECTED),),
            "Début de la protection",
        ),
        ElusRule(
            _FP,
            ElusAction.WITHDRAWAL_WINDOW_ENDS,
            frozenset({Role.SYSTEM}),
            frozenset({_S.FP_PROTECTED}),
            ((_O.DEFAULT, _S.FP_FINAL),),
            "Fin du délai de retrait de quatre mois",
        ),
        ElusRule(
            _AB,
            ElusAction.DECIDE_ALERT_BUTTON,
            frozenset({Role.PREFECTURE}),
            frozenset(),
            ((_O.DEFAULT, _S.AB_DECIDED),),
            "Enregistrer l'attribution d'un bouton d'appel",
        ),
        ElusRule(
            _AB,
            ElusAction.RECORD_HANDOVER,
            frozenset({Role.PREFECTURE}),
            frozenset({_S.AB_DECIDED}),
            ((_O.DEFAULT, _S.AB_LENT),),
            "Enregistrer la remise du bouton",
        ),
        ElusRule(
            _AB,
            ElusAction.RENEW_LOAN,
            frozenset({Role.PREFECTURE}),
            frozenset({_S.AB_LENT, _S.AB_OVERDUE}),
            ((_O.DEFAULT, _S.AB_LENT),),
            "Renouveler le prêt pour une nouvelle période",
        ),
        ElusRule(
            _AB,
            ElusAction.RECORD_RETURN,
            frozenset({Role.PREFECTURE}),
            frozenset({_S.AB_DECIDED, _S.AB_LENT, _S.AB_OVERDUE}),
            ((_O.DEFAULT, _S.AB_RETURNED),),
            "Enregistrer la restitution du bouton",
        ),
        ElusRule(
            _AB,
            ElusAction.LOAN_PERIOD_ENDS,
            frozenset({Role.SYSTEM}),
            frozenset({_S.AB_LENT}),
            ((_O.DEFAULT, _S.AB_OVERDUE),),
            "Fin de la période de prêt sans renouvellement ni restitution",
        ),
        ElusRule(
            _CP,
            ElusAction.REQUEST_STATE_PROTECTION,
            frozenset({Role.CANDIDATE}),
            frozenset(),
            ((_O.DEFAULT, _S.CP_REQUESTED),),
            "Demander la protection fonctionnelle de l'État (R. 39-11)",
        ),
        ElusRule(
            _CP,
            ElusAction.DECIDE_STATE_PROTECTION,
            frozenset({Role.PREFECTURE}),
            frozenset({_S.CP_REQUESTED}),
            ((_O.GRANTED, _S.CP_GRANTED), (_O.REFUSED, _S.CP_REFUSED)),
            "Statuer sur la demande de protection fonctionnelle",
        ),
        ElusRule(
            _CP,
            ElusAction.WITHDRAW_STATE_PROTECTION_REQUEST,
            frozenset({Role.CANDIDATE}),
            frozenset({_S.CP_REQUESTED}),
            ((_O.DEFAULT, _S.CP_WITHDRAWN),),
            "Retirer la demande de protection fonctionnelle",
        ),
    )
}


def check_elus_role(action: ElusAction, role: Role) -> ElusRule:
    """Refuse an action its role may never take (``forbidden_role``)."""
    rule = ELUS_RULES[action]
    if role not in rule.roles:
        raise DomainError(ErrorCode.FORBIDDEN_ROLE)
    return rule


def check_elus_stage(stage: ElusStage, action: ElusAction) -> ElusRule:
    """Refuse an action the stage does not allow (``case_closed`` or ``wrong_stage``)."""
    rule = ELUS_RULES[action]
    if stage not in rule.from_stages:
        if stage.is_terminal:
            raise DomainError(
                ErrorCode.CASE_CLOSED, message="Cette procédure est close : elle n'évolue plus."
            )
        raise DomainError(ErrorCode.WRONG_STAGE)
    return rule


def next_elus_stage(
    stage: ElusStage, action: ElusAction, outcome: ElusOutcome = ElusOutcome.DEFAULT
) -> ElusStage:
    """The stage after ``action`` taken in ``stage`` with ``outcome``."""
    rule = ELUS_RULES[action]
    if not rule.to:
        return stage
    return dict(rule.to)[outcome]


def elus_actions_for(stage: ElusStage, role: Role) -> list[ElusAction]:
    """What ``role`` may do on a procedure in ``stage``, in the table's order."""
    return [
        rule.action
        for rule in ELUS_RULES.values()
        if role in rule.roles and stage in rule.from_stages
    ]


# --- Contracts ----------------------------------------------------------------------------------


class ElusActor(Contract):
    """Who acts, as the API authenticated them, with their scopes."""

    role: Role
    id: OpaqueId
    departements: list[Departement] = Field(default_factory=list)
    """Prefecture staff: the départements they serve."""
    collectivites: list[OpaqueId] = Field(default_factory=list)
    """Collectivité staff: the collectivités they serve."""


class Person(Contract):
    """An official or a candidate: how to reach them (personal data, encrypted payloads only)."""

    name: ShortText
    email: Email
    account_id: OpaqueId | None = None
    """Their account, when they have one: they then see the procedure and act on it."""


class CollectiviteInfo(Contract):
    """The collectivité a request is addressed to (a row of the collectivités table)."""

    collectivite_id: OpaqueId
    name: ShortText
    departement: Departement
    email: Email
    """The service address: new requests and reminders go there."""


class ElusStageChange(Contract):
    at: dt.datetime
    action: ElusAction
    role: Role
    actor_id: str
    from_stage: ElusStage | None
    to_stage: ElusStage


class ElusEmailTemplate(StrEnum):
    """Every email of the élus' procedures; each has a French template ``elus_<value>``."""

    FP_ACKNOWLEDGED = "fp_acknowledged"
    """To the official: receipt acknowledged, with the day the delay ends."""
    FP_NEW_REQUEST = "fp_new_request"
    """To the collectivité: a request to transmit to the prefect and to put before the council."""
    FP_TRANSMITTED = "fp_transmitted"
    """To the prefecture: the collectivité transmitted a request."""
    FP_PROTECTION_BEGINS = "fp_protection_begins"
    FP_WITHDRAWN = "fp_withdrawn"
    FP_FINAL = "fp_final"
    FP_CONVENING_REMINDER = "fp_convening_reminder"
    """To the collectivité: members asked for the council to be convened, no convocation is
    recorded, and the last day it may sit is near."""
    AB_DECIDED = "ab_decided"
    AB_HANDED_OVER = "ab_handed_over"
    AB_RENEWAL_REMINDER = "ab_renewal_reminder"
    AB_RENEWED = "ab_renewed"
    AB_OVERDUE = "ab_overdue"
    """To the prefecture: the period ended with neither renewal nor return (repeated)."""
    AB_RETURNED = "ab_returned"
    CP_REQUESTED = "cp_requested"
    """To the prefecture: a candidate asks for the State's functional protection."""
    CP_ACKNOWLEDGED = "cp_acknowledged"
    CP_REMINDER = "cp_reminder"
    """To the prefecture: a request still awaits its decision."""
    CP_DECISION = "cp_decision"
    """To the candidate: the notice of the decision, with voies et délais de recours."""
    CP_WITHDRAWN = "cp_withdrawn"


class ElusRecipient(StrEnum):
    REQUESTER = "requester"
    """The official or the candidate."""
    COLLECTIVITE = "collectivite"
    PREFECTURE = "prefecture"


class ElusEmailFacts(Contract):
    """What an élus' email may say: only what its reader needs."""

    reference: str
    """The procedure's id (no personal data)."""
    departement: str
    requester_name: str | None = None
    collectivite_name: str | None = None
    received_on: dt.date | None = None
    delay_ends_on: dt.date | None = None
    starts_on: dt.date | None = None
    window_ends_on: dt.date | None = None
    deliberation_on: dt.date | None = None
    deliberation_kind: str | None = None
    reason: str | None = None
    decided_on: dt.date | None = None
    handed_over_on: dt.date | None = None
    period_ends_on: dt.date | None = None
    period_number: int | None = None
    returned_on: dt.date | None = None
    days_left: int | None = None
    reminder_number: int | None = None
    convening_requested_on: dt.date | None = None
    granted: bool | None = None
    election_label: str | None = None


class SendElusEmailInput(Contract):
    """Input of the ``send_elus_email`` activity (the same outbox as ``send_email``)."""

    idempotency_key: ShortText
    template: ElusEmailTemplate
    to: Email
    security_pack: bool = False
    """Append the security-pack contacts (to the official or the candidate)."""
    recourse: bool = False
    """State the voies et délais de recours (a decision of the prefect)."""
    facts: ElusEmailFacts


class ElusNotification(Contract):
    key: str
    template: ElusEmailTemplate
    recipient: ElusRecipient
    requested_at: dt.datetime
    sent: bool = False
    failed: bool = False
    done_at: dt.datetime | None = None


class ElusActionInput(Contract):
    """Base of every human action on an élus' procedure."""

    actor: ElusActor


class ElusActionResult(Contract):
    """What an update returns: the stage after it and the state's version."""

    procedure_id: str
    stage: ElusStage
    version: int


class ElusResult(Contract):
    """How a procedure ended."""

    stage: ElusStage
    closed_at: dt.datetime


# Functional protection ---------------------------------------------------------------------------


class ProtectionPolicy(Contract):
    """Timers of a functional-protection request, fixed when it is filed (tests: seconds)."""

    email_give_up_after: dt.timedelta = dt.timedelta(days=3)
    withdrawal_window: dt.timedelta | None = None
    """None: four calendar months from the start (the law). Tests set seconds."""
    convening_reminder_before: dt.timedelta = dt.timedelta(days=15)
    """How long before the last day the council may sit the collectivité is reminded of a
    members' request to convene it that has no convocation yet (at once if the request comes
    later than that)."""


class FileProtectionRequestInput(ElusActionInput):
    """Start of ``FunctionalProtectionWorkflow``: the request as the collectivité received it."""

    request_id: OpaqueId
    official: Person
    mandate: ShortText
    """The official's mandate ("conseillère municipale", "maire")."""
    collectivite: CollectiviteInfo
    prefecture_email: Email
    facts: Text
    """What happened (violence, threats, outrage in connection with the mandate)."""
    received_on: dt.date
    """The day the collectivité received the request (Paris date); not counted."""
    delay_ends_on: dt.date
    """The last of the five jours francs (``domain.protection.delay_end``, settings applied)."""
    delay_ends_at: dt.datetime
    """When the protection begins if both obligations are done in time (00:00 Paris the day
    after ``delay_ends_on``; tests set it seconds ahead)."""
    extend_to_working_day: bool = False
    """The setting the delay was computed with (shown, not used by the workflow)."""
    policy: ProtectionPolicy = Field(default_factory=ProtectionPolicy)


class RecordObligationInput(ElusActionInput):
    """Transmission to the prefect, or information of the council members."""

    done_on: dt.date


class RecordDeliberationInput(ElusActionInput):
    kind: str = Field(pattern="^(retrait|abrogation)$")
    """``retrait`` (withdrawal) or ``abrogation``."""
    deliberation_on: dt.date
    reason: Text
    """The motivation of the deliberation (required: a deliberation must be motivated)."""


class RecordConveningRequestInput(ElusActionInput):
    """Members of the council asked the executive to convene it (to deliberate on the
    protection within the four months)."""

    requested_on: dt.date


class RecordCouncilConvenedInput(ElusActionInput):
    """The executive convened the council."""

    convened_on: dt.date
    """The day the convocation was sent."""
    session_on: dt.date
    """The day of the session the council is convened to (may be ahead)."""


class CouncilConvening(Contract):
    """The members' request to convene the council, and the convocation, as recorded."""

    requested_on: dt.date | None = None
    request_recorded_by: str | None = None
    convened_on: dt.date | None = None
    session_on: dt.date | None = None
    convocation_recorded_by: str | None = None
    reminder_owed: bool = False
    """Whether the collectivité is reminded before the convening deadline while no convocation
    is recorded (requests recorded since the reminder exists; ``convening_reminder_due``)."""
    reminded_at: dt.datetime | None = None


class Deliberation(Contract):
    kind: str
    deliberation_on: dt.date
    reason: str
    recorded_at: dt.datetime
    recorded_by: str


class ProtectionState(Contract):
    procedure_id: str
    request: FileProtectionRequestInput
    stage: ElusStage = ElusStage.FP_RECEIVED
    filed_at: dt.datetime
    transmitted_on: dt.date | None = None
    informed_on: dt.date | None = None
    starts_on: dt.date | None = None
    """The first day of protection, once both obligations are done."""
    starts_at: dt.datetime | None = None
    window_ends_at: dt.datetime | None = None
    """When the council can no longer withdraw (four months after the start)."""
    deliberation: Deliberation | None = None
    convening: CouncilConvening = Field(default_factory=CouncilConvening)
    """Members' request to convene the council and its convocation (added with defaults:
    states of older histories read without it)."""
    history: list[ElusStageChange] = Field(default_factory=list)
    notifications: list[ElusNotification] = Field(default_factory=list)
    closed_at: dt.datetime | None = None
    version: int = 0


def withdrawal_window_ends_at(state: ProtectionState) -> dt.datetime | None:
    """When the four months in which the council may withdraw end: the workflow's once the
    protection began, the one it will open while it is scheduled; None while the start of the
    protection is not known."""
    if state.window_ends_at is not None:
        return state.window_ends_at
    if state.starts_on is None:
        return None
    if state.starts_at is not None and state.request.policy.withdrawal_window is not None:
        return state.starts_at + state.request.policy.withdrawal_window
    return withdrawal_window_end(state.starts_on)


def convening_deadline(state: ProtectionState) -> dt.date | None:
    """The last day the council convened at its members' request may sit: the last day of the
    four months in which it may withdraw (the law: "within that delay"); None while the start of
    the protection is not known."""
    window_ends_at = withdrawal_window_ends_at(state)
    if window_ends_at is None:
        return None
    return last_paris_day(window_ends_at)


def convening_reminder_due(state: ProtectionState) -> dt.datetime | None:
    """When the collectivité is reminded of its members' request to convene the council:
    ``policy.convening_reminder_before`` the end of the four months (at once for a request
    recorded later than that); None when no reminder is owed (no request, a convocation
    recorded, already reminded, a request from before the reminder existed) or the protection
    is no longer open to withdrawal."""
    convening = state.convening
    if (
        state.stage not in (ElusStage.FP_SCHEDULED, ElusStage.FP_PROTECTED)
        or not convening.reminder_owed
        or convening.requested_on is None
        or convening.convened_on is not None
        or convening.reminded_at is not None
    ):
        return None
    window_ends_at = withdrawal_window_ends_at(state)
    if window_ends_at is None:
        return None
    return window_ends_at - state.request.policy.convening_reminder_before


# Alert button ------------------------------------------------------------------------------------


class LoanPolicy(Contract):
    renewal_reminder_before: dt.timedelta = dt.timedelta(days=14)
    overdue_reminder_every: dt.timedelta = dt.timedelta(days=7)
    email_give_up_after: dt.timedelta = dt.timedelta(days=3)


class DecideAlertButtonInput(ElusActionInput):
    """Start of ``AlertButtonLoanWorkflow``: the prefect's decision."""

    loan_id: OpaqueId
    official: Person
    mandate: ShortText
    departement: Departement
    prefecture_email: Email
    referent_evaluated_on: dt.date
    """The day the référent (police or gendarmerie) evaluated the threat."""
    decided_on: dt.date
    policy: LoanPolicy = Field(default_factory=LoanPolicy)


class RecordHandoverInput(ElusActionInput):
    handed_over_on: dt.date
    period_ends_at: dt.datetime
    """End of the first period (``domain.protection.loan_period_end``; tests: seconds)."""


class RenewLoanInput(ElusActionInput):
    renewed_on: dt.date
    period_ends_at: dt.datetime
    """End of the new period, computed by the API from the previous one."""


class RecordReturnInput(ElusActionInput):
    returned_on: dt.date


class LoanPeriod(Contract):
    number: int
    starts_on: dt.date
    ends_at: dt.datetime
    renewal_reminded: bool = False
    overdue_reminders: int = 0


class LoanState(Contract):
    procedure_id: str
    decision: DecideAlertButtonInput
    stage: ElusStage = ElusStage.AB_DECIDED
    decided_at: dt.datetime
    handed_over_on: dt.date | None = None
    periods: list[LoanPeriod] = Field(default_factory=list)
    returned_on: dt.date | None = None
    overdue_since: dt.datetime | None = None
    history: list[ElusStageChange] = Field(default_factory=list)
    notifications: list[ElusNotification] = Field(default_factory=list)
    closed_at: dt.datetime | None = None
    version: int = 0


# Candidate's State protection (R. 39-11) ---------------------------------------------------------


class CandidateProtectionPolicy(Contract):
    decision_reminder_every: dt.timedelta = dt.timedelta(days=15)
    email_give_up_after: dt.timedelta = dt.timedelta(days=3)


class RequestStateProtectionInput(ElusActionInput):
    """Start of ``CandidateProtectionWorkflow``."""

    request_id: OpaqueId
    candidate: Person
    departement: Departement
    prefecture_email: Email
    election_label: ShortText
    facts: Text
    complaint_reference: ShortText | None = None
    """The procès-verbal de plainte's reference, when the settings require one."""
    candidacy_declared_on: dt.date | None = None
    policy: CandidateProtectionPolicy = Field(default_factory=CandidateProtectionPolicy)


class DecideStateProtectionInput(ElusActionInput):
    granted: bool
    decided_on: dt.date
    reasons: Text | None = None
    """Required for a refusal (a refusal is motivated); the measures granted otherwise."""


class WithdrawStateProtectionInput(ElusActionInput):
    pass


class StateProtectionDecision(Contract):
    granted: bool
    decided_on: dt.date
    reasons: str | None = None
    decided_by: str
    recorded_at: dt.datetime


class CandidateProtectionState(Contract):
    procedure_id: str
    request: RequestStateProtectionInput
    stage: ElusStage = ElusStage.CP_REQUESTED
    requested_at: dt.datetime
    decision: StateProtectionDecision | None = None
    reminders_sent: int = 0
    history: list[ElusStageChange] = Field(default_factory=list)
    notifications: list[ElusNotification] = Field(default_factory=list)
    closed_at: dt.datetime | None = None
    version: int = 0


ELUS_EMAIL_PERMANENT_ERRORS = ["EmailTemplateError", "EmailRecipientRefused"]
"""Error types of ``send_elus_email`` that no retry can fix (those of ``send_email``)."""


# --- Due times: pure functions of (state, now), unit-tested; the workflows only call them -------


def protection_next_due(state: ProtectionState) -> dt.datetime | None:
    """When a functional-protection request next needs its workflow: its start, then the end of
    the withdrawal window, or the convening reminder if that comes first; None in any other
    stage."""
    if state.stage == ElusStage.FP_SCHEDULED:
        due = state.starts_at
    elif state.stage == ElusStage.FP_PROTECTED:
        due = state.window_ends_at
    else:
        return None
    reminder = convening_reminder_due(state)
    if reminder is None:
        return due
    return reminder if due is None else min(due, reminder)


def renewal_reminder_at(state: LoanState, period: LoanPeriod) -> dt.datetime:
    """When the prefecture and the official are reminded that ``period`` ends."""
    return period.ends_at - state.decision.policy.renewal_reminder_before


def overdue_reminder_at(state: LoanState, period: LoanPeriod) -> dt.datetime:
    """When the next overdue reminder of ``period`` falls due (the first at its end)."""
    return period.ends_at + state.decision.policy.overdue_reminder_every * period.overdue_reminders


def overdue_reminders_owed(state: LoanState, period: LoanPeriod, now: dt.datetime) -> int:
    """How many overdue reminders of ``period`` are due by ``now`` (one more at each interval;
    after an outage, one reminder stands for the missed ones)."""
    if now < period.ends_at:
        return 0
    return (now - period.ends_at) // state.decision.policy.overdue_reminder_every + 1


def loan_next_due(state: LoanState) -> dt.datetime | None:
    """When a loan next needs the workflow: the renewal reminder, the period's end, or the next
    overdue reminder; None before the hand-over and once returned."""
    if not state.periods:
        return None
    period = state.periods[-1]
    if state.stage == ElusStage.AB_LENT:
        if not period.renewal_reminded:
            return min(renewal_reminder_at(state, period), period.ends_at)
        return period.ends_at
    if state.stage == ElusStage.AB_OVERDUE:
        return overdue_reminder_at(state, period)
    return None


def state_protection_reminders_owed(state: CandidateProtectionState, now: dt.datetime) -> int:
    """How many decision reminders a candidate's request has earned by ``now``."""
    return (now - state.requested_at) // state.request.policy.decision_reminder_every


def state_protection_next_due(state: CandidateProtectionState) -> dt.datetime | None:
    """When the next decision reminder falls due; None once the request is closed."""
    if state.stage.is_terminal:
        return None
    every = state.request.policy.decision_reminder_every
    return state.requested_at + every * (state.reminders_sent + 1)
