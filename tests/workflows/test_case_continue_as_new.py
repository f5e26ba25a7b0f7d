"""Continue-as-new on a dev server that suggests it after a few dozen events.

A case continues as new when the server suggests it (never with an email unsent or a handler
running) and carries its whole state to the next run: nothing is lost, the case goes on.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from core.settings import Settings
from core.storage import DocumentStorage
from core.temporal import connect_when_ready
from domain.contracts import (
    AddExpenseLineInput,
    ContactPrefectureInput,
    DecideInput,
    RecipientKind,
    RecordPaymentInput,
    SubmitInput,
)
from domain.stages import Action, Stage
from embedded.mailbox import MailServer
from embedded.temporal_server import running_dev_server
from tests.helpers import (
    CNCCFP,
    PREFECTURE_60,
    TestCaseClient,
    assert_eventually,
    candidate,
    paris_today,
    running_worker,
)
from tests.workflows.steps import line, recognised_open_space, write_histories

SUGGEST_AT = 40


@pytest.fixture(scope="module")
def low_limit_server(workdir: Path) -> Iterator[str]:
    extra = ["--dynamic-config-value", f"limit.historyCount.suggestContinueAsNew={SUGGEST_AT}"]
    with running_dev_server(workdir, extra_args=extra) as address:
        yield address


@pytest.fixture
async def short_history_cases(
    low_limit_server: str,
    settings: Settings,
    db_engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
) -> AsyncIterator[tuple[TestCaseClient, Client]]:
    local = settings.model_copy(update={"temporal_address": low_limit_server})
    client = await connect_when_ready(local)
    async with running_worker(client, local, db_engine, storage, task_queue) as cases:
        yield cases, client
    # Recorded here, while this test's own server is still up (`make histories`).
    label = os.environ.get("SECUPOL_RECORD_HISTORIES")
    if label:
        await write_histories(client, task_queue, label, "continue_as_new")


@pytest.mark.record_history("continue_as_new")  # written by its fixture (its own server)
async def test_case_continues_as_new_and_loses_nothing(
    short_history_cases: tuple[TestCaseClient, Client], mail_server: MailServer
) -> None:
    cases, client = short_history_cases
    case, case_id, invoice = await recognised_open_space(cases)
    me = candidate(case)
    lines = 25
    for index in range(lines):
        await cases.act(
            case_id,
            Action.ADD_EXPENSE_LINE,
            AddExpenseLineInput(actor=me, line=line(10_000, f"F-{index}", invoice)),
        )

    async def lines_checked() -> None:
        # People act seconds apart, leaving the quiet moments a case continues as new in; a
        # test that fires actions back to back must leave one too.
        state = await cases.state(case_id)
        assert len(state.line_checks) == lines

    await assert_eventually(lines_checked)
    await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    await cases.act(case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=lines * 10_000))
    await cases.act(case_id, Action.CONTACT_PREFECTURE, ContactPrefectureInput(actor=me))
    state = await cases.act(
        case_id,
        Action.RECORD_PAYMENT,
        RecordPaymentInput(
            actor=PREFECTURE_60,
            amount_cents=lines * 10_000,
            paid_on=paris_today(),
            reference="VIR-CAN",
        ),
    )
    assert state.stage == Stage.PAID
    await cases.wait_closed(case_id)

    runs = [run async for run in client.list_workflows(f"WorkflowId = '{case_id}'")]
    assert len(runs) >= 2, "the case never continued as new"
    final = await cases.state(case_id)
    assert len(final.expense_lines) == lines
    assert [change.to_stage for change in final.history][-1] == Stage.PAID
    assert all(record.status == "sent" for record in final.notifications)

    async def every_email_once() -> None:
        sent = [str(m["Subject"]) for m in mail_server.store.for_recipient(case.candidate.email)]
        to_candidate = [n for n in final.notifications if n.recipient == RecipientKind.CANDIDATE]
        assert len(sent) == len(to_candidate)

    await assert_eventually(every_email_once)
