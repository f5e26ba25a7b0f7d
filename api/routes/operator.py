"""What operators do on a case: corrections, never decisions (issue 11).

Each is an update of the stage table sent with the operator taken from the token, with its audit
row; the workflow's validator checks the role and the stage, and a refusal is a 409 or 422 like
any other action. (The runbook's command-line path sends the same updates through the codec.)
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.actions import action_route
from api.schemas import DeadlineCorrectionBody, FirstRoundCorrectionBody, OperatorReasonBody
from domain.calendar import deposit_deadline
from domain.contracts import (
    AddNoteUpdate,
    CorrectDepositDeadlineUpdate,
    CorrectFirstRoundUpdate,
    RetryRegistryChecksUpdate,
)
from domain.stages import Action

router = APIRouter(tags=["Exploitation"])

action_route(
    router,
    "/operator/first-round",
    Action.CORRECT_FIRST_ROUND,
    FirstRoundCorrectionBody,
    lambda context, body: CorrectFirstRoundUpdate(
        actor=context.actor,
        received_at=context.received_at,
        first_round=body.first_round,
        second_round=body.second_round,
        # The law's deadline, computed here once: the workflow carries it.
        deposit_deadline=deposit_deadline(body.first_round),
        reason=body.reason,
    ),
    summary="Corriger la date des tours de scrutin",
    description="Corrige les dates du premier (et du second) tour de l'élection pour ce dossier ; "
    "la date limite de dépôt et ses rappels suivent. Le motif est consigné dans les notes "
    "d'exploitation du dossier.",
)
action_route(
    router,
    "/operator/deposit-deadline",
    Action.CORRECT_DEPOSIT_DEADLINE,
    DeadlineCorrectionBody,
    lambda context, body: CorrectDepositDeadlineUpdate(
        actor=context.actor,
        received_at=context.received_at,
        deposit_deadline=body.deposit_deadline,
        reason=body.reason,
    ),
    summary="Corriger la date limite de dépôt",
    description="Fixe directement la date limite de dépôt (changement de la loi, décision de "
    "justice, exercice), avec son motif.",
)
action_route(
    router,
    "/operator/notes",
    Action.ADD_NOTE,
    OperatorReasonBody,
    lambda context, body: AddNoteUpdate(
        actor=context.actor, received_at=context.received_at, reason=body.reason
    ),
    summary="Ajouter une note d'exploitation",
    description="Laisse une note sur le dossier pour l'exploitant suivant (jamais de donnée "
    "personnelle).",
)
action_route(
    router,
    "/operator/registry-checks",
    Action.RETRY_REGISTRY_CHECKS,
    OperatorReasonBody,
    lambda context, body: RetryRegistryChecksUpdate(
        actor=context.actor, received_at=context.received_at, reason=body.reason
    ),
    summary="Relancer la vérification des entreprises",
    description="Après une panne d'un registre (CNAPS, SIRENE), vérifie à nouveau les lignes "
    "restées « à vérifier manuellement ».",
)
