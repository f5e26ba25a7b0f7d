"""One recipient whose server refuses for ever holds neither the other recipients' emails nor the
case: each email is given up after the policy's delay, with an operator note (issue 11)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities, EmailRenderer
from core.settings import Settings
from core.storage import DocumentStorage
from domain.contracts import (
    MESSAGE_POSTED_SIGNAL,
    CasePolicy,
    MessagePostedInput,
    NotificationStatus,
    RecordEvaluationInput,
    SendEmailInput,
    SendEmailResult,
    WithdrawInput,
)
from domain.ids import case_workflow_id
from domain.money import ThreatLevel
from domain.stages import Action, Role, Stage
from embedded.mailbox import MailServer
from tests.helpers import (
    PREFECTURE_60,
    TestCaseClient,
    assert_eventually,
    candidate,
    evaluation_request,
    new_case_input,
    templates_of,
)
from worker.run import build_worker


class RefusingRecipient:
    """The real ``send_email``, except for one address whose server answers 4xx for ever (a
    branch no real relay gives on demand)."""

    def __init__(self, real: EmailActivities, refused: str):
        self.real = real
        self.refused = refused

    @activity.defn(name="send_email")
    async def send_email(self, input: SendEmailInput) -> SendEmailResult:
        if input.to == self.refused:
            raise ApplicationError("4xx, for ever", type="SmtpTemporaryFailure")
        return await self.real.send_email(input)


@pytest.fixture
async def refusing(
    client: Client,
    settings: Settings,
    db_engine: AsyncEngine,
    storage: DocumentStorage,
    task_queue: str,
) -> AsyncIterator[tuple[TestCaseClient, RefusingRecipient]]:
    local = settings.model_copy(update={"task_queue": task_queue})
    wrapper = RefusingRecipient(EmailActivities(local, db_engine, EmailRenderer()), refused="")
    async with build_worker(client, local, [wrapper.send_email]):
        yield TestCaseClient(client, task_queue, storage), wrapper


@pytest.mark.record_history("email_given_up")
async def test_a_refusing_recipient_holds_nothing_and_is_given_up(
    refusing: tuple[TestCaseClient, RefusingRecipient], mail_server: MailServer
) -> None:
    cases, wrapper = refusing
    case = new_case_input(
        # Room for the other recipients' sessions on a loaded machine (each attempt's SMTP
        # session gets a share of what is left of the delay; at 4 s, a session cut at 2 s gave
        # the candidate's email up too).
        policy=CasePolicy(reminder_offsets=[], email_give_up_after=dt.timedelta(seconds=12))
    )
    wrapper.refused = case.prefecture_email
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    await cases.open_case(case, evaluation_request(case))
    await cases.act(
        case_id,
        Action.RECORD_EVALUATION,
        RecordEvaluationInput(
            actor=PREFECTURE_60,
            recognised=True,
            level=ThreatLevel.ONE,
            decided_on=dt.date(2026, 3, 1),
            decision_document="d",
        ),
    )

    async def candidate_told() -> None:
        # Not held behind the prefecture's email, which is still being retried.
        assert templates_of(mail_server.store.for_recipient(case.candidate.email)) == [
            "evaluation_recorded"
        ]

    # Sooner than the prefecture's email is given up: not held behind it.
    await assert_eventually(candidate_told, timeout=11)

    async def given_up() -> None:
        state = await cases.state(case_id)
        first = state.notifications[0]
        assert first.status == NotificationStatus.FAILED
        assert first.error_code == "gave_up"
        assert any("abandonné" in note.text for note in state.operator_notes)

    await assert_eventually(given_up, timeout=30)
    # With nothing left in the outbox, the case can end.
    await cases.act(case_id, Action.WITHDRAW, WithdrawInput(actor=candidate(case)))
    await cases.wait_closed(case_id, timeout=dt.timedelta(seconds=20))
    assert (await cases.state(case_id)).stage == Stage.WITHDRAWN


@pytest.mark.record_history("message_notice")
async def test_a_message_notice_goes_through_the_outbox_once(
    refusing: tuple[TestCaseClient, RefusingRecipient], mail_server: MailServer
) -> None:
    cases, _ = refusing
    case = new_case_input()
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    await cases.open_case(case, evaluation_request(case))
    notice = MessagePostedInput(message_id="m1", author_role=Role.CNCCFP)
    handle = cases.handle(case_id)
    await handle.signal(MESSAGE_POSTED_SIGNAL, notice)
    await handle.signal(MESSAGE_POSTED_SIGNAL, notice)  # a retried request
    await handle.signal(
        MESSAGE_POSTED_SIGNAL, MessagePostedInput(message_id="m2", author_role=Role.CANDIDATE)
    )

    async def noticed_once() -> None:
        assert templates_of(mail_server.store.for_recipient(case.candidate.email)) == [
            "new_message"
        ]
        state = await cases.state(case_id)
        assert [n.template for n in state.notifications].count("new_message") == 1

    await assert_eventually(noticed_once)
