"""Operators' signals: corrections and a forced retry, never a decision."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client

from core.cases import CaseActionRefused
from core.settings import Settings
from core.storage import DocumentStorage
from domain.contracts import (
    AddExpenseLineInput,
    AddNoteInput,
    AddNoteUpdate,
    CasePolicy,
    CorrectDepositDeadlineInput,
    RetryRegistryChecksUpdate,
    WithdrawInput,
)
from domain.registries import RegistryOutcome
from domain.stages import Action
from tests.helpers import (
    OPERATOR,
    TestCaseClient,
    assert_eventually,
    candidate,
    evaluation_request,
    new_case_input,
    running_worker,
    unreachable_cnaps,
)
from tests.workflows.steps import assert_refused, line, recognised_open_space


@pytest.mark.record_history("registry_retry")
async def test_a_forced_retry_checks_again_the_lines_left_to_verify_by_hand(
    client: Client,
    settings: Settings,
    db_engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
) -> None:
    # While the CNAPS registry is down, the line is left "à vérifier manuellement".
    async with running_worker(
        client,
        settings,
        db_engine,
        storage,
        task_queue,
        **unreachable_cnaps(),
    ) as cases:
        case, case_id, invoice = await recognised_open_space(
            cases, policy=CasePolicy(reminder_offsets=[], registry_max_attempts=2)
        )
        await cases.act(
            case_id,
            Action.ADD_EXPENSE_LINE,
            AddExpenseLineInput(actor=candidate(case), line=line(100_000, "F-1", invoice)),
        )

        async def to_verify_by_hand() -> None:
            state = await cases.state(case_id)
            assert state.line_checks and state.line_checks[0].needs_manual_verification

        await assert_eventually(to_verify_by_hand, timeout=30)

    # The registry is back (the referential again); an operator asks for a new check.
    async with running_worker(client, settings, db_engine, storage, task_queue) as cases:
        await cases.act(
            case_id,
            Action.RETRY_REGISTRY_CHECKS,
            RetryRegistryChecksUpdate(actor=OPERATOR, reason="Fin de la panne du CNAPS."),
        )

        async def checked_again() -> None:
            state = await cases.state(case_id)
            check = state.line_checks[0]
            assert check.cnaps is not None and check.cnaps.outcome == RegistryOutcome.VALID
            assert not check.needs_manual_verification
            assert "Fin de la panne du CNAPS." in state.operator_notes[-1].text

        await assert_eventually(checked_again, timeout=30)


async def test_the_summary_shown_beside_the_case_has_no_personal_data(
    cases: TestCaseClient,
) -> None:
    case = new_case_input()
    state = await cases.open_case(case, evaluation_request(case))
    handle = cases.handle(state.case_id)

    async def summarised() -> str:
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        summary = metadata.current_details
        assert "Évaluation de la menace demandée au préfet" in summary
        return summary

    summary = await assert_eventually(summarised)
    assert "département 60" in summary and "prochaine échéance le" in summary
    assert case.candidate.name not in summary and case.candidate.email not in summary
    # Cases at the lean version write no memo: the summary is in the current details only.
    assert await (await handle.describe()).memo() == {}


@pytest.mark.record_history("operator_note")
async def test_an_operator_note_is_kept_and_a_closed_case_takes_none(
    cases: TestCaseClient,
) -> None:
    case = new_case_input()
    state = await cases.open_case(case, evaluation_request(case))
    case_id = state.case_id
    note = AddNoteUpdate(actor=OPERATOR, reason="Relance téléphonique de la préfecture.")
    state = await cases.act(case_id, Action.ADD_NOTE, note)
    assert [(n.operator_id, n.text) for n in state.operator_notes] == [(OPERATOR.id, note.reason)]
    # Only an operator corrects; a refused correction is an answer, with nothing recorded.
    await assert_refused(
        cases,
        case_id,
        Action.ADD_NOTE,
        AddNoteUpdate(actor=candidate(case), reason="Je me note."),
        "forbidden_role",
    )
    await cases.act(case_id, Action.WITHDRAW, WithdrawInput(actor=candidate(case)))
    await cases.wait_closed(case_id, timeout=dt.timedelta(seconds=30))
    with pytest.raises(CaseActionRefused) as closed:
        await cases.act(case_id, Action.ADD_NOTE, note)
    assert closed.value.code == "case_closed"
    assert len((await cases.state(case_id)).operator_notes) == 1


async def test_the_unauthenticated_signals_of_earlier_versions_are_refused(
    cases: TestCaseClient,
) -> None:
    case = new_case_input()
    state = await cases.open_case(case, evaluation_request(case))
    # What an old runbook command sends: a free-text operator id, no authentication.
    await cases.signal(
        state.case_id,
        Action.ADD_NOTE,
        AddNoteInput(operator_id="quelqu-un", reason="Note par signal."),
    )
    await cases.signal(
        state.case_id,
        Action.CORRECT_DEPOSIT_DEADLINE,
        CorrectDepositDeadlineInput(
            operator_id="quelqu-un",
            reason="Par signal.",
            deposit_deadline=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2),
        ),
    )
    # A later update is handled after the signals: by then they were refused.
    after = await cases.act(
        state.case_id, Action.ADD_NOTE, AddNoteUpdate(actor=OPERATOR, reason="Vu.")
    )
    assert [n.text for n in after.operator_notes] == ["Vu."]
    assert after.deposit_deadline == state.deposit_deadline
