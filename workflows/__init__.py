"""Deterministic workflow classes. ``WORKFLOWS`` is what the worker registers."""

from workflows.alert_button import AlertButtonLoanWorkflow
from workflows.candidate_protection import CandidateProtectionWorkflow
from workflows.case import CandidateCaseWorkflow
from workflows.functional_protection import FunctionalProtectionWorkflow
from workflows.retention import RetentionPurgeWorkflow

WORKFLOWS: list[type] = [
    CandidateCaseWorkflow,
    RetentionPurgeWorkflow,
    FunctionalProtectionWorkflow,
    AlertButtonLoanWorkflow,
    CandidateProtectionWorkflow,
]

__all__ = [
    "WORKFLOWS",
    "AlertButtonLoanWorkflow",
    "CandidateCaseWorkflow",
    "CandidateProtectionWorkflow",
    "FunctionalProtectionWorkflow",
    "RetentionPurgeWorkflow",
]
