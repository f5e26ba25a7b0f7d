"""What CNCCFP reviewers do: open deposit spaces, review line by line, observe, verify, decide,
and settle the cases whose deadline passed while they waited on the administration."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.actions import ActionContext, action_route
from api.schemas import (
    ClosingBody,
    DecisionBody,
    LateWindowBody,
    LineVerdictBody,
    ManualVerificationBody,
    ObservationsBody,
    RoundsAttendedBody,
)
from domain.calendar import end_of_day_paris
from domain.contracts import (
    CloseCaseInput,
    CorrectRoundsAttendedInput,
    DecideInput,
    OpenLateWindowInput,
    OpenSpaceInput,
    RecordLineVerdictInput,
    RecordManualVerificationInput,
    SendObservationsInput,
)
from domain.stages import Action

router = APIRouter(tags=["CNCCFP"])


def _observations(context: ActionContext, body: ObservationsBody) -> SendObservationsInput:
    days = body.answer_delay_days or context.settings.answer_delay_days
    return SendObservationsInput(
        actor=context.actor,
        received_at=context.received_at,
        observations=body.observations,
        contested_line_ids=body.contested_line_ids,
        # A delay in days ends at 23:59:59 (Paris) of its last day, whatever the hour sent.
        answer_due=end_of_day_paris(context.received_at, days),
    )


action_route(
    router,
    "/space",
    Action.OPEN_SPACE,
    None,
    lambda context, _: OpenSpaceInput(actor=context.actor),
    summary="Ouvrir l'espace de dépôt",
    description="Ouvre l'espace Sécu'Pol demandé par le candidat ; il en est informé par courriel.",
)
action_route(
    router,
    "/observations",
    Action.SEND_OBSERVATIONS,
    ObservationsBody,
    _observations,
    summary="Adresser des observations",
    description="Ouvre un tour de la procédure contradictoire : le candidat est informé et peut "
    "répondre dans le délai (15 jours par défaut, jusqu'à 23 h 59 min 59 s, heure de Paris, du "
    "dernier jour). Plusieurs tours sont possibles. Une ligne ne peut être réduite ou écartée "
    "qu'après un tour qui la conteste.",
)
action_route(
    router,
    "/manual-verifications",
    Action.RECORD_MANUAL_VERIFICATION,
    ManualVerificationBody,
    lambda context, body: RecordManualVerificationInput(actor=context.actor, **body.model_dump()),
    summary="Vérifier manuellement une entreprise",
    description="Enregistre la vérification faite par le rapporteur lorsque les registres CNAPS "
    "ou SIRENE n'ont pas pu répondre ; leur réponse éventuelle est conservée à côté.",
)
action_route(
    router,
    "/expense-lines/{line_id}/verdict",
    Action.RECORD_LINE_VERDICT,
    LineVerdictBody,
    lambda context, body: RecordLineVerdictInput(
        actor=context.actor, line_id=context.line_id, **body.model_dump()
    ),
    summary="Statuer sur une ligne de dépense",
    description="Fixe le montant retenu pour une ligne : son montant entier, ou moins (jusqu'à "
    "0) avec un motif. Une ligne ne peut être réduite qu'après un tour d'observations clos qui "
    "la conteste (réponse reçue ou délai expiré).",
)
action_route(
    router,
    "/rounds-attended",
    Action.CORRECT_ROUNDS_ATTENDED,
    RoundsAttendedBody,
    lambda context, body: CorrectRoundsAttendedInput(actor=context.actor, **body.model_dump()),
    summary="Corriger le dernier tour de présence du candidat",
    description="Corrige, d'après les résultats officiels et avec un motif, le dernier tour de "
    "scrutin auquel le candidat a été présent (1 ou 2), indiqué par lui au dépôt.",
)
action_route(
    router,
    "/decision",
    Action.DECIDE,
    DecisionBody,
    lambda context, body: DecideInput(actor=context.actor, **body.model_dump()),
    summary="Arrêter le montant du remboursement",
    description="Fixe le montant remboursé, dans la limite du montant éligible demandé et du "
    "plafond du niveau de menace en vigueur (15 000 € au niveau 1, 75 000 € au niveau 2). Le "
    "montant demandé, ramené au plafond, peut être arrêté à tout moment ; un montant inférieur "
    "(ou nul, qui rejette la demande) exige une procédure contradictoire close "
    "(contradictory_procedure_required), une décision sur chaque ligne, et doit être leur somme "
    "dans la limite du plafond, avec des motifs.",
)
action_route(
    router,
    "/late-window",
    Action.OPEN_LATE_WINDOW,
    LateWindowBody,
    lambda context, body: OpenLateWindowInput(actor=context.actor, **body.model_dump()),
    summary="Ouvrir un délai de dépôt tardif",
    description="Pour un dossier dont l'échéance est passée alors qu'il attendait la préfecture "
    "ou la Commission, fixe une nouvelle date limite de dépôt, avec un motif. Le dossier reprend "
    "là où il attendait.",
)
action_route(
    router,
    "/closing",
    Action.CLOSE_CASE,
    ClosingBody,
    lambda context, body: CloseCaseInput(actor=context.actor, **body.model_dump()),
    summary="Clore un dossier dont l'échéance est passée",
    description="Clôt, avec un motif, un dossier dont l'échéance est passée alors qu'il "
    "attendait l'administration. Le candidat en est informé ; il n'est jamais dit forclos.",
)
