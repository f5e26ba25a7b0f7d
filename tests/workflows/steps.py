"""Steps shared by the workflow tests: a certified expense line, a case with an open space."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.cases import CaseActionRefused
from domain.contracts import (
    CaseState,
    OpenCaseInput,
    OpenSpaceInput,
    RecordEvaluationInput,
    RequestSpaceInput,
)
from domain.documents import DocumentKind
from domain.expenses import ALL_CERTIFIED, ExpenseCategory, ExpenseLineDraft
from domain.ids import case_workflow_id
from domain.money import ThreatLevel
from domain.stages import Action
from tests.helpers import (
    CNCCFP,
    PREFECTURE_60,
    TestCaseClient,
    assert_eventually,
    candidate,
    evaluation_request,
    new_case_input,
)

CERTIFIED = ALL_CERTIFIED


def line(amount_cents: int, invoice: str, doc: str, **overrides: object) -> ExpenseLineDraft:
    values: dict[str, object] = {
        "category": ExpenseCategory.PREMISES_SECURITY,
        "company_name": "Gardiennage Picard SARL",
        "siren": "732829320",
        "cnaps_authorisation": "AUT-060-2124-07-01-20250906336",
        "invoice_reference": invoice,
        "service_start": dt.date(2026, 2, 1),
        "service_end": dt.date(2026, 3, 15),
        "amount_cents": amount_cents,
        "document_refs": [doc],
        "certification": CERTIFIED,
    }
    values.update(overrides)
    return ExpenseLineDraft.model_validate(values)


class OpenSpace(NamedTuple):
    case: OpenCaseInput
    case_id: str
    invoice: str
    """A real invoice document already stored for the case."""


async def recognised_open_space(
    cases: TestCaseClient, level: ThreatLevel = ThreatLevel.TWO, **kw: Any
) -> OpenSpace:
    """Open a case and bring it to an open deposit space, with a stored invoice."""
    case = new_case_input(**kw)
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    await cases.open_case(case, evaluation_request(case))
    decision = await cases.upload(case_id, DocumentKind.EVALUATION_DECISION, "decision.pdf")
    await cases.act(
        case_id,
        Action.RECORD_EVALUATION,
        RecordEvaluationInput(
            actor=PREFECTURE_60,
            recognised=True,
            level=level,
            decided_on=dt.date(2026, 3, 1),
            decision_document=decision,
        ),
    )
    await cases.act(case_id, Action.REQUEST_SPACE, RequestSpaceInput(actor=candidate(case)))
    await cases.act(case_id, Action.OPEN_SPACE, OpenSpaceInput(actor=CNCCFP))
    invoice = await cases.upload(case_id, DocumentKind.INVOICE, "facture.pdf")
    return OpenSpace(case, case_id, invoice)


async def history_length(cases: TestCaseClient, case_id: str) -> int:
    history = await cases.handle(case_id).fetch_history()
    return len(history.events)


async def assert_refused(
    cases: TestCaseClient,
    case_id: str,
    action: Action,
    input: BaseModel | dict[str, Any],
    code: str,
) -> None:
    """The action is refused with ``code`` and neither the state nor the history changes."""

    async def settled() -> CaseState:
        # Emails and registry checks finish in the background; compare states once both are idle.
        state = await cases.state(case_id)
        assert all(record.status != "pending" for record in state.notifications)
        checks = {check.line_id: check for check in state.line_checks}
        for recorded in state.expense_lines:
            assert recorded.line_id in checks
            assert checks[recorded.line_id].at_submission or state.submitted_at is None
        return state

    before_state = await assert_eventually(settled)
    before_events = await history_length(cases, case_id)
    if isinstance(input, BaseModel):
        with pytest.raises(CaseActionRefused) as refused:
            await cases.act(case_id, action, input)
        assert refused.value.code == code, refused.value.message
        assert refused.value.message  # French, for the person who acted
    else:
        # A raw payload that bypasses the client-side contract: the workflow refuses it with the
        # same stable code the contract gives.
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await cases.handle(case_id).execute_update(action.value, input)
        cause = failed.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == code, cause.message
        assert cause.non_retryable
    assert await cases.state(case_id) == before_state
    assert await history_length(cases, case_id) == before_events


HISTORIES = Path(__file__).parent / "histories"


async def write_histories(client: Client, task_queue: str, label: str, name: str) -> None:
    """Write every workflow history of ``task_queue`` as ``<label>-<name>-<n>.json``."""
    HISTORIES.mkdir(exist_ok=True)
    index = 0
    async for execution in client.list_workflows(f"TaskQueue = '{task_queue}'"):
        history = await client.get_workflow_handle(
            execution.id, run_id=execution.run_id
        ).fetch_history()
        (HISTORIES / f"{label}-{name}-{index}.json").write_text(history.to_json())
        index += 1
