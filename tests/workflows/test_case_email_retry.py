"""An email activity that fails after the SMTP server accepted the message is retried by
Temporal, and the outbox makes sure the candidate still receives exactly one message."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities, EmailRenderer
from core.settings import Settings
from core.storage import DocumentStorage
from domain.contracts import EmailTemplate, SendEmailInput, SendEmailResult
from domain.ids import case_workflow_id
from domain.stages import Action
from embedded.mailbox import MailServer
from tests.helpers import TestCaseClient, assert_eventually, evaluation_request, new_case_input
from tests.workflows.steps import recognised_open_space
from worker.run import build_worker


class CrashAfterSend:
    """The real ``send_email``, followed on the first attempt of each email by a crash no real
    server produces on demand: the worker dying between the SMTP server's acceptance and the
    activity's completion."""

    def __init__(self, real: EmailActivities, templates: set[EmailTemplate]):
        self.real = real
        self.templates = templates
        self.crashes = 0
        self.crashed: set[str] = set()

    @activity.defn(name="send_email")
    async def send_email(self, input: SendEmailInput) -> SendEmailResult:
        result = await self.real.send_email(input)
        if input.template in self.templates and input.idempotency_key not in self.crashed:
            self.crashed.add(input.idempotency_key)
            self.crashes += 1
            raise ApplicationError("worker lost after the SMTP send", type="InjectedCrash")
        return result


@pytest.fixture
async def crashing(
    client: Client,
    settings: Settings,
    db_engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
) -> AsyncIterator[tuple[TestCaseClient, CrashAfterSend]]:
    local = settings.model_copy(update={"task_queue": task_queue})
    wrapper = CrashAfterSend(
        EmailActivities(local, db_engine, EmailRenderer()),
        {EmailTemplate.EVALUATION_REQUESTED, EmailTemplate.SPACE_OPENED},
    )
    async with build_worker(client, local, [wrapper.send_email]):
        yield TestCaseClient(client, task_queue, storage), wrapper


async def test_retry_after_send_delivers_one_message(
    crashing: tuple[TestCaseClient, CrashAfterSend], mail_server: MailServer
) -> None:
    cases, wrapper = crashing
    case, case_id, _ = await recognised_open_space(cases)

    async def delivered_once() -> None:
        state = await cases.state(case_id)
        # evaluation requested, evaluation recorded, space requested (to the CNCCFP), space opened
        assert [r.status for r in state.notifications] == ["sent"] * 4
        to_prefecture = mail_server.store.for_recipient(case.prefecture_email)
        to_candidate = mail_server.store.for_recipient(case.candidate.email)
        assert [m["X-Secupol-Template"] for m in to_prefecture] == ["evaluation_requested"]
        assert [m["X-Secupol-Template"] for m in to_candidate] == [
            "evaluation_recorded",
            "space_opened",
        ]

    await assert_eventually(delivered_once)
    assert wrapper.crashes == 2

    # The history shows the retries: each email was first tried in the workflow task that
    # queued it (a local activity); the two that crashed went on to the durable activity, whose
    # first attempt found them sent (the outbox) and sent nothing.
    history = await cases.handle(case_id).fetch_history()
    attempts = [
        event.activity_task_started_event_attributes.attempt
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
    ]
    local = [
        event
        for event in history.events
        if event.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    assert sorted(attempts) == [1, 1]
    assert len(local) == 4


async def test_unknown_case_is_not_found(cases: TestCaseClient) -> None:
    from core.cases import CaseNotFound
    from domain.contracts import SubmitInput
    from tests.helpers import candidate

    case = new_case_input()
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    with pytest.raises(CaseNotFound):
        await cases.act(
            case_id, Action.SUBMIT, SubmitInput(actor=candidate(case), rounds_attended=1)
        )
    with pytest.raises(CaseNotFound):
        await cases.state(case_id)
    # And it opens normally afterwards.
    state = await cases.open_case(case, evaluation_request(case))
    assert state.case_id == case_id
