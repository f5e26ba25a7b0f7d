"""The stage machine of a case: the one table of who may do what, when, and what follows.

Workflow validators and the API read ``RULES``; nothing else encodes the procedure's order. An
action's value is also the name of the Temporal update (or signal, for operators) that carries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.errors import DomainError, ErrorCode


class Stage(StrEnum):
    """Where a case stands."""

    OPENED = "opened"
    """The case exists; the evaluation has not been asked yet."""
    EVALUATION_REQUESTED = "evaluation_requested"
    """The prefect of the département is asked to evaluate the threat."""
    THREAT_NOT_RECOGNISED = "threat_not_recognised"
    """The prefect found no threat; a new evaluation may be asked until the deposit deadline."""
    THREAT_RECOGNISED = "threat_recognised"
    """The threat is avérée (level 1 or 2); the candidate may ask for a deposit space."""
    SPACE_REQUESTED = "space_requested"
    """A Sécu'Pol deposit space was asked of the CNCCFP."""
    SPACE_OPEN = "space_open"
    """The deposit space is open: expense lines are added, then the request is submitted."""
    SUBMITTED = "submitted"
    """The request is deposited and awaits review."""
    OBSERVATIONS_PENDING = "observations_pending"
    """Contradictory procedure: the CNCCFP sent observations, the candidate may answer."""
    UNDER_REVIEW = "under_review"
    """The CNCCFP reviews the request after a round of observations."""
    DECIDED = "decided"
    """The CNCCFP fixed a non-zero amount; the candidate is to contact the prefecture."""
    PAYMENT_PENDING = "payment_pending"
    """The candidate contacted the prefecture, which is to pay."""
    PAID = "paid"
    """The prefecture recorded the payment: the case is closed."""
    REJECTED = "rejected"
    """The CNCCFP decided that nothing is reimbursed: the case is closed."""
    TIME_BARRED = "time_barred"
    """Forclos: the deposit deadline passed before the request was submitted."""
    WITHDRAWN = "withdrawn"
    """The candidate withdrew the case."""
    AWAITING_ADMINISTRATION = "awaiting_administration"
    """Échéance passée, en attente de l'administration: the deposit deadline passed while the
    case waited on the prefect (evaluation) or on the CNCCFP (space). Never a time bar: the
    CNCCFP opens a late deposit window or closes the case, with a reason (rule 3)."""
    CLOSED = "closed"
    """The CNCCFP closed, with a reason, a case whose deadline passed while it waited on the
    administration."""

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STAGES


STAGE_LABELS: dict[Stage, str] = {
    Stage.OPENED: "Dossier ouvert",
    Stage.EVALUATION_REQUESTED: "Évaluation de la menace demandée au préfet",
    Stage.THREAT_NOT_RECOGNISED: "Menace non avérée",
    Stage.THREAT_RECOGNISED: "Menace avérée",
    Stage.SPACE_REQUESTED: "Espace de dépôt demandé",
    Stage.SPACE_OPEN: "Espace de dépôt ouvert",
    Stage.SUBMITTED: "Demande déposée",
    Stage.OBSERVATIONS_PENDING: "Observations de la Commission en attente de réponse",
    Stage.UNDER_REVIEW: "Demande en cours d'examen",
    Stage.DECIDED: "Montant arrêté : contactez la préfecture",
    Stage.PAYMENT_PENDING: "Paiement en cours par la préfecture",
    Stage.PAID: "Remboursement payé",
    Stage.REJECTED: "Demande rejetée",
    Stage.TIME_BARRED: "Forclos : demande non déposée dans le délai",
    Stage.WITHDRAWN: "Dossier retiré",
    Stage.AWAITING_ADMINISTRATION: "Échéance passée : en attente de l'administration",
    Stage.CLOSED: "Dossier clos par la Commission",
}
"""Each stage in French, for people (API answers, the case's summary in the Web UI)."""

TERMINAL_STAGES = frozenset(
    {Stage.PAID, Stage.REJECTED, Stage.TIME_BARRED, Stage.WITHDRAWN, Stage.CLOSED}
)
OPEN_STAGES = frozenset(Stage) - TERMINAL_STAGES
BEFORE_SUBMISSION = frozenset(
    {
        Stage.OPENED,
        Stage.EVALUATION_REQUESTED,
        Stage.THREAT_NOT_RECOGNISED,
        Stage.THREAT_RECOGNISED,
        Stage.SPACE_REQUESTED,
        Stage.SPACE_OPEN,
    }
)
"""Stages the deposit deadline applies to: reminders go out before it."""
WAITING_ON_ADMINISTRATION = frozenset({Stage.EVALUATION_REQUESTED, Stage.SPACE_REQUESTED})
"""Before the deadline, stages where the next step is the prefect's or the CNCCFP's: the deadline
passing there never time-bars the case (rule 3)."""
TIME_BARRED_AT_DEADLINE = BEFORE_SUBMISSION - WAITING_ON_ADMINISTRATION
"""Stages where the deposit deadline passing ends the case: the next step was the candidate's."""
THREAT_RECOGNISED_STAGES = frozenset(
    {
        Stage.THREAT_RECOGNISED,
        Stage.SPACE_REQUESTED,
        Stage.SPACE_OPEN,
        Stage.SUBMITTED,
        Stage.OBSERVATIONS_PENDING,
        Stage.UNDER_REVIEW,
    }
)
"""Open stages after a recognised threat and before the decision: the threat may be
re-evaluated there (rule 7)."""
UNDER_EXAMINATION = frozenset({Stage.SUBMITTED, Stage.OBSERVATIONS_PENDING, Stage.UNDER_REVIEW})
"""The CNCCFP examines the deposited request: its decision is due (rule 5)."""


class Role(StrEnum):
    """Who acts."""

    CANDIDATE = "candidate"
    THIRD_PARTY = "third_party"
    """A tiers mandaté, acting on the one case they hold a mandate for."""
    PREFECTURE = "prefecture"
    """Staff of the prefecture of the case's département."""
    CNCCFP = "cnccfp"
    OPERATOR = "operator"
    ADMIN = "admin"
    """Manages accounts and elections; takes no action on a case."""
    SYSTEM = "system"
    """The workflow itself, when a timer expires."""
    # The élus' procedures (domain/elus.py).
    COLLECTIVITE = "collectivite"
    """Staff of a collectivité (commune, département, région), for the collectivités they serve."""
    ELU = "elu"
    """An elected official, for their own requests."""


class Action(StrEnum):
    """Every event that can change a case."""

    REQUEST_EVALUATION = "request_evaluation"
    RECORD_EVALUATION = "record_evaluation"
    MANDATE_THIRD_PARTY = "mandate_third_party"
    REQUEST_SPACE = "request_space"
    OPEN_SPACE = "open_space"
    ADD_EXPENSE_LINE = "add_expense_line"
    REMOVE_EXPENSE_LINE = "remove_expense_line"
    SUBMIT = "submit"
    SEND_OBSERVATIONS = "send_observations"
    ANSWER_OBSERVATIONS = "answer_observations"
    RECORD_MANUAL_VERIFICATION = "record_manual_verification"
    DECIDE = "decide"
    CONTACT_PREFECTURE = "contact_prefecture"
    RECORD_PAYMENT = "record_payment"
    WITHDRAW = "withdraw"
    REQUEST_REEVALUATION = "request_reevaluation"
    REEVALUATE_THREAT = "reevaluate_threat"
    RECORD_LINE_VERDICT = "record_line_verdict"
    CORRECT_ROUNDS_ATTENDED = "correct_rounds_attended"
    OPEN_LATE_WINDOW = "open_late_window"
    CLOSE_CASE = "close_case"
    # Operators (signals): corrections, never decisions.
    CORRECT_FIRST_ROUND = "correct_first_round"
    CORRECT_DEPOSIT_DEADLINE = "correct_deposit_deadline"
    ADD_NOTE = "add_note"
    RETRY_REGISTRY_CHECKS = "retry_registry_checks"
    # Timers.
    DEPOSIT_DEADLINE_EXPIRED = "deposit_deadline_expired"
    ANSWER_DELAY_EXPIRED = "answer_delay_expired"
    ADMINISTRATION_DEADLINE_PASSED = "administration_deadline_passed"


class Outcome(StrEnum):
    """Which branch an action with several possible results took."""

    DEFAULT = "default"
    RECOGNISED = "recognised"
    NOT_RECOGNISED = "not_recognised"
    AMOUNT_DECIDED = "amount_decided"
    NOTHING_DECIDED = "nothing_decided"
    EVALUATION_PENDING = "evaluation_pending"
    """A late window reopened while the prefect's evaluation is still awaited."""
    SPACE_OPENED = "space_opened"
    """A late window reopened with the deposit space open."""


@dataclass(frozen=True)
class Rule:
    """One action: who may take it, from which stages, and the stage that follows.

    ``to`` maps each outcome to the next stage; an empty map means the stage does not change.
    """

    action: Action
    roles: frozenset[Role]
    from_stages: frozenset[Stage]
    to: tuple[tuple[Outcome, Stage], ...] = ()
    label: str = ""
    """What the action is, in French, for people reading lists of actions."""


_CANDIDATE_SIDE = frozenset({Role.CANDIDATE, Role.THIRD_PARTY})

RULES: dict[Action, Rule] = {
    rule.action: rule
    for rule in (
        Rule(
            Action.REQUEST_EVALUATION,
            frozenset({Role.CANDIDATE}),
            frozenset({Stage.OPENED, Stage.THREAT_NOT_RECOGNISED}),
            ((Outcome.DEFAULT, Stage.EVALUATION_REQUESTED),),
            "Demander l'évaluation de la menace",
        ),
        Rule(
            Action.RECORD_EVALUATION,
            frozenset({Role.PREFECTURE}),
            frozenset({Stage.EVALUATION_REQUESTED}),
            (
                (Outcome.RECOGNISED, Stage.THREAT_RECOGNISED),
                (Outcome.NOT_RECOGNISED, Stage.THREAT_NOT_RECOGNISED),
            ),
            "Enregistrer la décision d'évaluation",
        ),
        Rule(
            Action.MANDATE_THIRD_PARTY,
            frozenset({Role.CANDIDATE}),
            OPEN_STAGES,
            (),
            "Désigner un tiers mandaté",
        ),
        Rule(
            Action.REQUEST_SPACE,
            _CANDIDATE_SIDE,
            frozenset({Stage.THREAT_RECOGNISED}),
            ((Outcome.DEFAULT, Stage.SPACE_REQUESTED),),
            "Demander l'ouverture d'un espace de dépôt",
        ),
        Rule(
            Action.OPEN_SPACE,
            frozenset({Role.CNCCFP}),
            frozenset({Stage.SPACE_REQUESTED}),
            ((Outcome.DEFAULT, Stage.SPACE_OPEN),),
            "Ouvrir l'espace de dépôt",
        ),
        Rule(
            Action.ADD_EXPENSE_LINE,
            _CANDIDATE_SIDE,
            frozenset({Stage.SPACE_OPEN}),
            (),
            "Ajouter une ligne de dépense",
        ),
        Rule(
            Action.REMOVE_EXPENSE_LINE,
            _CANDIDATE_SIDE,
            frozenset({Stage.SPACE_OPEN}),
            (),
            "Retirer une ligne de dépense",
        ),
        Rule(
            Action.SUBMIT,
            _CANDIDATE_SIDE,
            frozenset({Stage.SPACE_OPEN}),
            ((Outcome.DEFAULT, Stage.SUBMITTED),),
            "Déposer la demande",
        ),
        Rule(
            Action.SEND_OBSERVATIONS,
            frozenset({Role.CNCCFP}),
            frozenset({Stage.SUBMITTED, Stage.UNDER_REVIEW}),
            ((Outcome.DEFAULT, Stage.OBSERVATIONS_PENDING),),
            "Adresser des observations",
        ),
        Rule(
            Action.ANSWER_OBSERVATIONS,
            _CANDIDATE_SIDE,
            frozenset({Stage.OBSERVATIONS_PENDING}),
            ((Outcome.DEFAULT, Stage.UNDER_REVIEW),),
            "Répondre aux observations",
        ),
        Rule(
            Action.RECORD_MANUAL_VERIFICATION,
            frozenset({Role.CNCCFP}),
            frozenset({Stage.SUBMITTED, Stage.OBSERVATIONS_PENDING, Stage.UNDER_REVIEW}),
            (),
            "Vérifier manuellement une entreprise",
        ),
        Rule(
            Action.DECIDE,
            frozenset({Role.CNCCFP}),
            frozenset({Stage.SUBMITTED, Stage.UNDER_REVIEW}),
            (
                (Outcome.AMOUNT_DECIDED, Stage.DECIDED),
                (Outcome.NOTHING_DECIDED, Stage.REJECTED),
            ),
            "Arrêter le montant du remboursement",
        ),
        Rule(
            Action.CONTACT_PREFECTURE,
            _CANDIDATE_SIDE,
            frozenset({Stage.DECIDED}),
            ((Outcome.DEFAULT, Stage.PAYMENT_PENDING),),
            "Se signaler à la préfecture pour le paiement",
        ),
        Rule(
            Action.RECORD_PAYMENT,
            frozenset({Role.PREFECTURE}),
            frozenset({Stage.DECIDED, Stage.PAYMENT_PENDING}),
            ((Outcome.DEFAULT, Stage.PAID),),
            "Enregistrer le paiement",
        ),
        Rule(
            Action.WITHDRAW,
            frozenset({Role.CANDIDATE}),
            OPEN_STAGES,
            ((Outcome.DEFAULT, Stage.WITHDRAWN),),
            "Retirer le dossier",
        ),
        Rule(
            Action.REQUEST_REEVALUATION,
            frozenset({Role.CANDIDATE}),
            THREAT_RECOGNISED_STAGES,
            (),
            "Demander le réexamen du niveau de la menace",
        ),
        Rule(
            Action.REEVALUATE_THREAT,
            frozenset({Role.PREFECTURE}),
            THREAT_RECOGNISED_STAGES,
            (),
            "Réévaluer ou corriger le niveau de la menace",
        ),
        Rule(
            Action.RECORD_LINE_VERDICT,
            frozenset({Role.CNCCFP}),
            UNDER_EXAMINATION,
            (),
            "Statuer sur une ligne de dépense",
        ),
        Rule(
            Action.CORRECT_ROUNDS_ATTENDED,
            frozenset({Role.CNCCFP}),
            UNDER_EXAMINATION,
            (),
            "Corriger les tours auxquels le candidat a participé",
        ),
        Rule(
            Action.OPEN_LATE_WINDOW,
            frozenset({Role.CNCCFP}),
            frozenset({Stage.AWAITING_ADMINISTRATION}),
            (
                (Outcome.EVALUATION_PENDING, Stage.EVALUATION_REQUESTED),
                (Outcome.SPACE_OPENED, Stage.SPACE_OPEN),
            ),
            "Ouvrir un délai de dépôt tardif",
        ),
        Rule(
            Action.CLOSE_CASE,
            frozenset({Role.CNCCFP}),
            frozenset({Stage.AWAITING_ADMINISTRATION}),
            ((Outcome.DEFAULT, Stage.CLOSED),),
            "Clore le dossier (échéance passée)",
        ),
        Rule(
            Action.CORRECT_FIRST_ROUND,
            frozenset({Role.OPERATOR}),
            OPEN_STAGES,
            (),
            "Corriger la date du premier tour",
        ),
        Rule(
            Action.CORRECT_DEPOSIT_DEADLINE,
            frozenset({Role.OPERATOR}),
            OPEN_STAGES,
            (),
            "Corriger la date limite de dépôt",
        ),
        Rule(
            Action.ADD_NOTE,
            frozenset({Role.OPERATOR}),
            OPEN_STAGES,
            (),
            "Ajouter une note d'exploitation",
        ),
        Rule(
            Action.RETRY_REGISTRY_CHECKS,
            frozenset({Role.OPERATOR}),
            OPEN_STAGES,
            (),
            "Relancer la vérification des entreprises",
        ),
        Rule(
            Action.DEPOSIT_DEADLINE_EXPIRED,
            frozenset({Role.SYSTEM}),
            TIME_BARRED_AT_DEADLINE,
            ((Outcome.DEFAULT, Stage.TIME_BARRED),),
            "Forclusion au délai de dépôt",
        ),
        Rule(
            Action.ADMINISTRATION_DEADLINE_PASSED,
            frozenset({Role.SYSTEM}),
            WAITING_ON_ADMINISTRATION,
            ((Outcome.DEFAULT, Stage.AWAITING_ADMINISTRATION),),
            "Échéance passée en attente de l'administration",
        ),
        Rule(
            Action.ANSWER_DELAY_EXPIRED,
            frozenset({Role.SYSTEM}),
            frozenset({Stage.OBSERVATIONS_PENDING}),
            ((Outcome.DEFAULT, Stage.UNDER_REVIEW),),
            "Expiration du délai de réponse",
        ),
    )
}


def check_role(action: Action, role: Role) -> Rule:
    """Refuse an action its role may never take.

    Raises:
        DomainError: ``forbidden_role``.
    """
    rule = RULES[action]
    if role not in rule.roles:
        raise DomainError(ErrorCode.FORBIDDEN_ROLE)
    return rule


def check_stage(stage: Stage, action: Action) -> Rule:
    """Refuse an action the stage does not allow.

    Raises:
        DomainError: ``case_closed`` (terminal stage) or ``wrong_stage``.
    """
    rule = RULES[action]
    if stage not in rule.from_stages:
        if stage.is_terminal:
            raise DomainError(ErrorCode.CASE_CLOSED)
        raise DomainError(ErrorCode.WRONG_STAGE)
    return rule


def check_allowed(stage: Stage, action: Action, role: Role) -> Rule:
    """Refuse an action its role may not take, or that the stage does not allow.

    The role is checked first: someone who may never take the action learns nothing about the
    stage of the case. (The workflow checks the actor's scope between the two.)

    Raises:
        DomainError: ``forbidden_role``, ``case_closed`` or ``wrong_stage``.
    """
    check_role(action, role)
    return check_stage(stage, action)


def next_stage(stage: Stage, action: Action, outcome: Outcome = Outcome.DEFAULT) -> Stage:
    """The stage after ``action`` taken in ``stage`` with ``outcome``.

    Raises:
        KeyError: the outcome is not one the action can have.
    """
    rule = RULES[action]
    if not rule.to:
        return stage
    return dict(rule.to)[outcome]


def actions_for(stage: Stage, role: Role) -> list[Action]:
    """What ``role`` may do on a case in ``stage``, in the table's order."""
    return [
        rule.action for rule in RULES.values() if role in rule.roles and stage in rule.from_stages
    ]
