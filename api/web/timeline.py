"""The candidate's timeline of a case: what happened, what is expected now, the next deadline.

Pure functions of the case as the JSON API shows it (``CasePublic``) and of the time: the page
and the JSON route read the same view of the same state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from api.schemas import CasePublic
from domain.calendar import paris_time
from domain.stages import BEFORE_SUBMISSION, STAGE_LABELS, UNDER_EXAMINATION, Role, Stage

ACTORS = {
    Role.CANDIDATE: "le candidat",
    Role.THIRD_PARTY: "le tiers mandaté",
    Role.PREFECTURE: "la préfecture",
    Role.CNCCFP: "la CNCCFP",
    Role.OPERATOR: "l'exploitation de Sécu'Pol",
    Role.ADMIN: "l'administration de Sécu'Pol",
}
SYSTEM = "Sécu'Pol (échéance automatique)"

EXPECTED: dict[Stage, str] = {
    Stage.OPENED: "Demandez l'évaluation de la menace au préfet de votre département.",
    Stage.EVALUATION_REQUESTED: (
        "Le préfet de votre département évalue la menace. Rien n'est attendu de vous pour "
        "l'instant : sa décision s'affichera sur cette page dès qu'elle sera enregistrée."
    ),
    Stage.THREAT_NOT_RECOGNISED: (
        "Le préfet n'a pas reconnu la menace. Si des faits nouveaux surviennent, vous pouvez "
        "demander une nouvelle évaluation, jusqu'à la date limite de dépôt."
    ),
    Stage.THREAT_RECOGNISED: (
        "La menace est avérée : demandez l'ouverture de votre espace de dépôt (ci-dessous)."
    ),
    Stage.SPACE_REQUESTED: (
        "La CNCCFP ouvre votre espace de dépôt. Rien n'est attendu de vous pour l'instant."
    ),
    Stage.SPACE_OPEN: (
        "Ajoutez vos lignes de dépense avec leurs factures, puis déposez la demande avant la "
        "date limite."
    ),
    Stage.SUBMITTED: (
        "Votre demande est déposée. La CNCCFP l'examine ; si elle vous adresse des observations, "
        "elles s'afficheront ici avec le délai pour y répondre."
    ),
    Stage.OBSERVATIONS_PENDING: (
        "La CNCCFP vous a adressé des observations : répondez-y avant la date indiquée."
    ),
    Stage.UNDER_REVIEW: "La CNCCFP examine votre demande avec vos réponses.",
    Stage.DECIDED: (
        "Le montant est arrêté : signalez-vous à la préfecture pour le paiement (ci-dessous)."
    ),
    Stage.PAYMENT_PENDING: "La préfecture procède au paiement. Rien n'est attendu de vous.",
    Stage.PAID: "Le remboursement est payé. Le dossier est clos.",
    Stage.REJECTED: "La CNCCFP n'a retenu aucun montant. Le dossier est clos.",
    Stage.TIME_BARRED: (
        "La demande n'a pas été déposée avant la date limite : le dossier est clos (forclos)."
    ),
    Stage.WITHDRAWN: "Vous avez retiré ce dossier. Il est clos.",
    Stage.AWAITING_ADMINISTRATION: (
        "La date limite est passée alors que le dossier attendait l'administration : vous "
        "n'êtes pas forclos. La CNCCFP ouvrira un nouveau délai de dépôt ou clora le dossier, "
        "en vous indiquant ses raisons."
    ),
    Stage.CLOSED: "La CNCCFP a clos le dossier ; ses raisons sont indiquées ci-dessous.",
}


@dataclass(frozen=True)
class Deadline:
    label: str
    at: dt.datetime
    days_left: int
    """Whole days from today to the deadline's day, in Paris time (0: today; negative: passed)."""


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    label: str
    actor: str


def next_deadline(view: CasePublic, now: dt.datetime) -> Deadline | None:
    """The next deadline that matters to the candidate in the case's stage."""
    at: dt.datetime | None = None
    label = ""
    if view.stage in BEFORE_SUBMISSION and view.stage != Stage.SPACE_REQUESTED:
        at, label = view.deposit_deadline, "Date limite de dépôt de la demande"
    elif view.stage == Stage.SPACE_REQUESTED:
        at, label = view.deposit_deadline, "Date limite de dépôt (l'espace doit être ouvert avant)"
    elif view.stage == Stage.OBSERVATIONS_PENDING and view.rounds:
        at, label = view.rounds[-1].answer_due, "Réponse aux observations attendue avant le"
    elif view.stage in UNDER_EXAMINATION and view.decision_due is not None:
        at, label = view.decision_due, "Décision de la CNCCFP attendue au plus tard le"
    if at is None:
        return None
    days = (paris_time(at).date() - paris_time(now).date()).days
    return Deadline(label=label, at=at, days_left=days)


def events(view: CasePublic) -> list[Event]:
    """What happened, oldest first: the opening, then each change of stage with who made it."""
    found = [Event(view.opened_at, "Dossier ouvert", ACTORS[Role.CANDIDATE])]
    for change in view.history:
        actor = ACTORS.get(change.role, SYSTEM) if change.action.value not in _TIMERS else SYSTEM
        found.append(Event(change.at, STAGE_LABELS[change.to_stage], actor))
    return found


_TIMERS = {"deposit_deadline_expired", "answer_delay_expired", "administration_deadline_passed"}


def days_text(days: int) -> str:
    if days > 1:
        return f"il reste {days} jours"
    if days == 1:
        return "il reste 1 jour (demain)"
    if days == 0:
        return "c'est aujourd'hui"
    return "la date est passée"
