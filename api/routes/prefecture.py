"""What prefecture staff do, on the cases of their départements: evaluate (and re-evaluate), pay."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.actions import action_route
from api.schemas import EvaluationBody, PaymentBody, ReevaluationBody
from domain.contracts import RecordEvaluationInput, RecordPaymentInput, ReevaluateThreatInput
from domain.money import ceiling_cents
from domain.stages import Action

router = APIRouter(tags=["Préfectures"])

action_route(
    router,
    "/evaluation",
    Action.RECORD_EVALUATION,
    EvaluationBody,
    lambda context, body: RecordEvaluationInput(
        actor=context.actor,
        **body.model_dump(),
        ceiling_cents=ceiling_cents(body.level) if body.recognised and body.level else None,
    ),
    summary="Enregistrer la décision d'évaluation de la menace",
    description="Enregistre la décision du préfet : menace avérée (niveau 1 ou 2) ou non, et la "
    "date de déclaration de candidature vérifiée sur le justificatif joint à la demande. La "
    "décision signée est déposée au préalable (POST /cases/{case_id}/documents, nature "
    "evaluation_decision). Le candidat en est informé par courriel.",
)
action_route(
    router,
    "/reevaluations",
    Action.REEVALUATE_THREAT,
    ReevaluationBody,
    lambda context, body: ReevaluateThreatInput(
        actor=context.actor, **body.model_dump(), ceiling_cents=ceiling_cents(body.level)
    ),
    summary="Réévaluer ou corriger le niveau de la menace",
    description="Avant la décision de la Commission, réévalue (par exemple au niveau 2) ou "
    "corrige le niveau d'une menace avérée, avec un motif et la décision déposée au préalable. "
    "Le plafond en vigueur devient celui du nouveau niveau.",
)
action_route(
    router,
    "/payment",
    Action.RECORD_PAYMENT,
    PaymentBody,
    lambda context, body: RecordPaymentInput(actor=context.actor, **body.model_dump()),
    summary="Enregistrer le paiement",
    description="Enregistre le paiement du montant arrêté par la CNCCFP (date, montant, "
    "référence). Le dossier est clos et le candidat en est informé.",
)
