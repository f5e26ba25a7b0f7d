"""The deposit's documents and companies: sealing at submission, registry checks on each line,
and the reviewer's manual verification."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from core.cases import CaseActionRefused
from core.settings import Settings
from core.storage import DocumentStorage
from domain.contracts import (
    AddExpenseLineInput,
    CasePolicy,
    DecideInput,
    RecordManualVerificationInput,
    RemoveExpenseLineInput,
    SubmitInput,
)
from domain.documents import DocumentKind
from domain.registries import RegistryOutcome
from domain.stages import Action, Stage
from tests.helpers import (
    CNCCFP,
    TestCaseClient,
    assert_eventually,
    candidate,
    running_worker,
    unreachable_cnaps,
)
from tests.workflows.steps import line, recognised_open_space
from tests.workflows.test_case_refusals import assert_refused


@pytest.mark.record_history("line_removed")
async def test_submission_citing_a_missing_document_is_refused(cases: TestCaseClient) -> None:
    case, case_id, invoice = await recognised_open_space(cases)
    me = candidate(case)
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(100_000, "F-1", invoice)),
    )
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(50_000, "F-2", "doc-never-uploaded")),
    )
    before = await cases.state(case_id)
    with pytest.raises(CaseActionRefused) as refused:
        await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    assert refused.value.code == "document_not_found"
    assert "introuvable" in refused.value.message
    after = await cases.state(case_id)
    assert after.stage == Stage.SPACE_OPEN
    assert after.submitted_at is None and after.seal is None
    assert after.expense_lines == before.expense_lines

    # Once the line cites a stored document, the same request is deposited.
    await cases.act(
        case_id,
        Action.REMOVE_EXPENSE_LINE,
        RemoveExpenseLineInput(actor=me, line_id=after.expense_lines[1].line_id),
    )
    state = await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    assert state.stage == Stage.SUBMITTED
    assert state.seal is not None


@pytest.mark.record_history("manual_verification")
async def test_companies_are_checked_and_a_reviewer_can_overrule(
    cases: TestCaseClient, storage: DocumentStorage
) -> None:
    case, case_id, invoice = await recognised_open_space(cases)
    me = candidate(case)
    # AUT-075-… belongs to SIREN 552100554, not to this line's company.
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(
            actor=me,
            line=line(
                100_000, "F-1", invoice, cnaps_authorisation="AUT-075-2124-07-01-20250906336"
            ),
        ),
    )

    async def mismatch_seen() -> str:
        state = await cases.state(case_id)
        assert len(state.line_checks) == 1
        check = state.line_checks[0]
        assert check.cnaps is not None and check.cnaps.outcome == RegistryOutcome.MISMATCH
        assert check.sirene is not None and check.sirene.outcome == RegistryOutcome.VALID
        assert not check.at_submission
        return check.line_id

    line_id = await assert_eventually(mismatch_seen)
    state = await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))

    async def checked_again() -> None:
        assert (await cases.state(case_id)).line_checks[0].at_submission

    await assert_eventually(checked_again)

    verification = RecordManualVerificationInput(
        actor=CNCCFP,
        line_id=line_id,
        valid=True,
        note="Autorisation du sous-traitant produite en réponse aux observations.",
    )
    # Only a reviewer verifies, and only a line of the case.
    await assert_refused(
        cases,
        case_id,
        Action.RECORD_MANUAL_VERIFICATION,
        verification.model_copy(update={"actor": me}),
        "forbidden_role",
    )
    await assert_refused(
        cases,
        case_id,
        Action.RECORD_MANUAL_VERIFICATION,
        verification.model_copy(update={"line_id": "nope"}),
        "unknown_expense_line",
    )
    state = await cases.act(case_id, Action.RECORD_MANUAL_VERIFICATION, verification)
    manual = state.line_checks[0].manual
    assert manual is not None and manual.valid and manual.verified_by == CNCCFP.id
    # The registries' answer stays beside the reviewer's.
    assert state.line_checks[0].cnaps is not None
    assert state.line_checks[0].cnaps.outcome == RegistryOutcome.MISMATCH

    # The receipt and manifest are stored documents of the case, with matching fingerprints.
    assert state.seal is not None
    manifest = await storage.read_bytes(state.seal.manifest_document_id)
    assert hashlib.sha256(manifest).hexdigest() == state.seal.manifest_sha256
    kinds = {d.kind for d in await storage.list_for_case(case_id)}
    assert {DocumentKind.DOSSIER_MANIFEST, DocumentKind.DEPOSIT_RECEIPT} <= kinds


@pytest.fixture
async def unreachable_registry(
    client: Client,
    settings: Settings,
    db_engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
) -> AsyncIterator[TestCaseClient]:
    """A worker whose CNAPS registry is an HTTP endpoint nobody listens on."""
    async with running_worker(
        client,
        settings,
        db_engine,
        storage,
        task_queue,
        **unreachable_cnaps(),
    ) as cases:
        yield cases


async def test_unreachable_registry_marks_the_line_for_manual_verification(
    unreachable_registry: TestCaseClient,
) -> None:
    cases = unreachable_registry
    case, case_id, invoice = await recognised_open_space(
        cases, policy=CasePolicy(reminder_offsets=[], registry_max_attempts=2)
    )
    me = candidate(case)
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(100_000, "F-1", invoice)),
    )

    async def to_verify_by_hand() -> None:
        state = await cases.state(case_id)
        assert len(state.line_checks) == 1
        check = state.line_checks[0]
        assert check.cnaps is not None and check.cnaps.outcome == RegistryOutcome.UNAVAILABLE
        assert check.needs_manual_verification

    await assert_eventually(to_verify_by_hand, timeout=30)
    # The case is not blocked: it is deposited and decided all the same.
    state = await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    assert state.stage == Stage.SUBMITTED
    state = await cases.act(case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=100_000))
    assert state.stage == Stage.DECIDED
