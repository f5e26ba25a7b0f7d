"""A registry's permanent answer is kept, and the latest check of a line wins (issue 11)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities import open_activities
from core.settings import Settings
from core.storage import DocumentStorage
from domain.contracts import AddExpenseLineInput, SubmitInput
from domain.registries import CheckCnapsInput, CnapsCheckResult, RegistryOutcome
from domain.stages import Action
from tests.helpers import TestCaseClient, assert_eventually, candidate
from tests.workflows.steps import line, recognised_open_space
from worker.run import build_worker


class Cnaps:
    """A CNAPS registry whose answers the test chooses (branches no real registry gives on
    demand): a permanent refusal, or a first answer that comes late."""

    def __init__(self) -> None:
        self.calls = 0
        self.answer: Callable[[int], Any] = lambda _: None

    @activity.defn(name="check_cnaps_authorisation")
    async def check(self, input: CheckCnapsInput) -> CnapsCheckResult:
        self.calls += 1
        result: CnapsCheckResult = await self.answer(self.calls)
        return result


@pytest.fixture
async def cnaps(
    client: Client,
    settings: Settings,
    db_engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
) -> AsyncIterator[tuple[TestCaseClient, Cnaps]]:
    local = settings.model_copy(update={"task_queue": task_queue})
    fake = Cnaps()
    async with open_activities(local, db_engine) as real:
        activities = [a for a in real if a.__name__ != "check_cnaps_authorisation"]
        async with build_worker(client, local, [*activities, fake.check]):
            yield TestCaseClient(client, task_queue, storage), fake


@pytest.mark.record_history("registry_refusal")
async def test_a_permanent_refusal_is_kept_not_turned_into_unavailable(
    cnaps: tuple[TestCaseClient, Cnaps],
) -> None:
    cases, fake = cnaps

    async def refuse(_: int) -> CnapsCheckResult:
        raise ApplicationError("identifiant refusé", type="InvalidIdentifier", non_retryable=True)

    fake.answer = refuse
    case, case_id, invoice = await recognised_open_space(cases)
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=candidate(case), line=line(1_000, "F-1", invoice)),
    )

    async def checked() -> None:
        state = await cases.state(case_id)
        assert len(state.line_checks) == 1
        check = state.line_checks[0]
        assert check.cnaps is not None and check.cnaps.outcome == RegistryOutcome.INVALID
        assert not check.needs_manual_verification

    await assert_eventually(checked)
    assert fake.calls == 1  # a permanent answer is not retried


async def test_an_older_check_finishing_last_does_not_win(
    cnaps: tuple[TestCaseClient, Cnaps],
) -> None:
    cases, fake = cnaps
    first_may_answer = asyncio.Event()

    async def answer(call: int) -> CnapsCheckResult:
        if call == 1:  # the check at the line's addition, slow, with an outdated answer
            await first_may_answer.wait()
            return CnapsCheckResult(outcome=RegistryOutcome.EXPIRED, source="file")
        return CnapsCheckResult(outcome=RegistryOutcome.VALID, source="file")

    fake.answer = answer
    case, case_id, invoice = await recognised_open_space(cases)
    me = candidate(case)
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(1_000, "F-1", invoice)),
    )
    await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))

    async def valid() -> None:
        state = await cases.state(case_id)
        assert state.line_checks
        check = state.line_checks[0]
        assert check.cnaps is not None and check.cnaps.outcome == RegistryOutcome.VALID

    await assert_eventually(valid)
    first_may_answer.set()

    async def first_answered() -> None:
        description = await cases.handle(case_id).describe()
        assert not description.raw_description.pending_activities

    await assert_eventually(first_answered)
    assert fake.calls == 2
    # The older check answered last: dropped, the newer answer stays.
    final = await cases.state(case_id)
    assert final.line_checks[0].cnaps is not None
    assert final.line_checks[0].cnaps.outcome == RegistryOutcome.VALID
