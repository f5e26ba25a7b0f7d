"""What prefecture staff do, on the cases of their départements: evaluate, pay."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.actions import action_route
from api.schemas import EvaluationBody, PaymentBody
from domain.contracts import RecordEvaluationInput, RecordPaymentInput
from domain.stages import Action

router = APIRouter(tags=["Préfectures"])

action_route(
    router,
    "/evaluation",
    Action.RECORD_EVALUATION,
    EvaluationBody,
    lambda actor, body: RecordEvaluationInput(actor=actor, **body.model_dump()),
    summary="Enregistrer la décision d'évaluation de la menace",
    description="Enregistre la décision du préfet : menace avérée (niveau 1 ou 2) ou non. La "
    "décision signée est déposée au préalable (POST /cases/{case_id}/documents, nature "
    "evaluation_decision). Le candidat en est informé par courriel.",
)
action_route(
    router,
    "/payment",
    Action.RECORD_PAYMENT,
    PaymentBody,
    lambda actor, body: RecordPaymentInput(actor=actor, **body.model_dump()),
    summary="Enregistrer le paiement",
    description="Enregistre le paiement du montant arrêté par la CNCCFP (date, montant, "
    "référence). Le dossier est clos et le candidat en est informé.",
)
