"""Deterministic workflow classes. ``WORKFLOWS`` is what the worker registers."""

from workflows.case import CandidateCaseWorkflow

WORKFLOWS: list[type] = [CandidateCaseWorkflow]

__all__ = ["WORKFLOWS", "CandidateCaseWorkflow"]
