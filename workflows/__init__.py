"""Deterministic workflow classes. ``WORKFLOWS`` is what the worker registers."""

from workflows.case import CandidateCaseWorkflow
from workflows.retention import RetentionPurgeWorkflow

WORKFLOWS: list[type] = [CandidateCaseWorkflow, RetentionPurgeWorkflow]

__all__ = ["WORKFLOWS", "CandidateCaseWorkflow", "RetentionPurgeWorkflow"]
