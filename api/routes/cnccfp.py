"""What CNCCFP reviewers do: open deposit spaces, review, observe, verify, decide."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from api.routes.actions import action_route
from api.schemas import DecisionBody, ManualVerificationBody, ObservationsBody
from domain.contracts import (
    DecideInput,
    OpenSpaceInput,
    RecordManualVerificationInput,
    SendObservationsInput,
)
from domain.stages import Action

router = APIRouter(tags=["CNCCFP"])

action_route(
    router,
    "/space",
    Action.OPEN_SPACE,
    None,
    lambda actor, _: OpenSpaceInput(actor=actor),
    summary="Ouvrir l'espace de dépôt",
    description="Ouvre l'espace Sécu'Pol demandé par le candidat ; il en est informé par courriel.",
)
action_route(
    router,
    "/observations",
    Action.SEND_OBSERVATIONS,
    ObservationsBody,
    lambda actor, body: SendObservationsInput(
        actor=actor,
        observations=body.observations,
        contested_line_ids=body.contested_line_ids,
        answer_delay=dt.timedelta(days=body.answer_delay_days)
        if body.answer_delay_days is not None
        else None,
    ),
    summary="Adresser des observations",
    description="Ouvre un tour de la procédure contradictoire : le candidat est informé et peut "
    "répondre dans le délai (15 jours par défaut). Plusieurs tours sont possibles.",
)
action_route(
    router,
    "/manual-verifications",
    Action.RECORD_MANUAL_VERIFICATION,
    ManualVerificationBody,
    lambda actor, body: RecordManualVerificationInput(actor=actor, **body.model_dump()),
    summary="Vérifier manuellement une entreprise",
    description="Enregistre la vérification faite par le rapporteur lorsque les registres CNAPS "
    "ou SIRENE n'ont pas pu répondre ; leur réponse éventuelle est conservée à côté.",
)
action_route(
    router,
    "/decision",
    Action.DECIDE,
    DecisionBody,
    lambda actor, body: DecideInput(actor=actor, **body.model_dump()),
    summary="Arrêter le montant du remboursement",
    description="Fixe le montant remboursé, dans la limite du montant éligible demandé et du "
    "plafond du niveau de menace (15 000 € au niveau 1, 75 000 € au niveau 2). Un montant nul "
    "rejette la demande ; une réduction ou un rejet doit être motivé.",
)
