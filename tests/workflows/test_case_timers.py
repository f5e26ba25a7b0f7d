"""Deadlines raced against people, with real timers put a few seconds ahead."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from core.cases import CaseActionRefused
from domain.calendar import deposit_deadline
from domain.contracts import (
    AddExpenseLineInput,
    AnswerObservationsInput,
    CasePolicy,
    ContactPrefectureInput,
    CorrectDepositDeadlineUpdate,
    CorrectFirstRoundUpdate,
    DecideInput,
    RecordEvaluationInput,
    SendObservationsInput,
    SubmitInput,
)
from domain.ids import case_workflow_id
from domain.stages import Action, Stage
from embedded.mailbox import MailServer
from tests.helpers import (
    CNCCFP,
    OPERATOR,
    PREFECTURE_60,
    TestCaseClient,
    assert_eventually,
    candidate,
    evaluation_request,
    new_case_input,
    templates_of,
    utcnow,
)
from tests.workflows.steps import line, recognised_open_space

S = dt.timedelta(seconds=1)


@pytest.mark.record_history("time_barred")
async def test_reminders_once_each_then_time_barred(
    cases: TestCaseClient, mail_server: MailServer
) -> None:
    case, case_id, _ = await recognised_open_space(
        # The first reminder falls due 4 s after the opening: after the space is open, even on a
        # loaded machine.
        cases,
        deadline_in=10 * S,
        policy=CasePolicy(reminder_offsets=[6 * S, 3 * S]),
    )
    await cases.wait_closed(case_id, timeout=dt.timedelta(seconds=30))
    final = await cases.state(case_id)
    assert final.stage == Stage.TIME_BARRED
    assert final.history[-1].action == Action.DEPOSIT_DEADLINE_EXPIRED
    assert len(final.reminders_sent) == 2

    async def emails() -> None:
        assert templates_of(mail_server.store.for_recipient(case.candidate.email)) == [
            "evaluation_recorded",
            "space_opened",
            "deposit_reminder",
            "deposit_reminder",
            "time_barred",
        ]

    await assert_eventually(emails)

    # A time-barred case takes no more action.
    try:
        await cases.act(
            case_id, Action.SUBMIT, SubmitInput(actor=candidate(case), rounds_attended=1)
        )
    except CaseActionRefused as refusal:
        assert refusal.code == "case_closed"
    else:
        raise AssertionError("a time-barred case accepted a submission")


async def test_no_reminder_after_submission(cases: TestCaseClient, mail_server: MailServer) -> None:
    # The reminders fall due 7 s and 8 s after the opening: after the submission, even on a
    # loaded machine.
    case, case_id, invoice = await recognised_open_space(
        cases, deadline_in=10 * S, policy=CasePolicy(reminder_offsets=[3 * S, 2 * S])
    )
    me = candidate(case)
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(10_000, "F-1", invoice)),
    )
    state = await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    # Past every reminder and the deadline itself.
    await asyncio.sleep(max((state.deposit_deadline - utcnow()).total_seconds(), 0) + 1)
    state = await cases.state(case_id)
    assert state.stage == Stage.SUBMITTED
    assert state.reminders_sent == []
    assert "deposit_reminder" not in templates_of(
        mail_server.store.for_recipient(case.candidate.email)
    )


@pytest.mark.record_history("observations")
async def test_two_rounds_of_observations_one_unanswered(
    cases: TestCaseClient, mail_server: MailServer
) -> None:
    case, case_id, invoice = await recognised_open_space(cases)
    me = candidate(case)
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(300_000, "F-1", invoice)),
    )
    await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))

    # Round 1 expires unanswered: the review goes on without the answer.
    await cases.act(
        case_id,
        Action.SEND_OBSERVATIONS,
        SendObservationsInput(actor=CNCCFP, observations="Pièce manquante.", answer_delay=2 * S),
    )

    async def review_went_on() -> None:
        state = await cases.state(case_id)
        assert state.stage == Stage.UNDER_REVIEW
        assert state.rounds[0].expired_unanswered

    await assert_eventually(review_went_on, timeout=15)
    try:
        await cases.act(
            case_id,
            Action.ANSWER_OBSERVATIONS,
            AnswerObservationsInput(actor=me, answer="Trop tard"),
        )
    except CaseActionRefused as refusal:
        assert refusal.code == "wrong_stage"
    else:
        raise AssertionError("an answer after the delay was accepted")

    # Round 2 is answered in time.
    state = await cases.act(
        case_id,
        Action.SEND_OBSERVATIONS,
        SendObservationsInput(
            actor=CNCCFP, observations="Précisez les horaires.", answer_delay=60 * S
        ),
    )
    assert state.rounds[1].number == 2
    state = await cases.act(
        case_id,
        Action.ANSWER_OBSERVATIONS,
        AnswerObservationsInput(actor=me, answer="Horaires joints."),
    )
    assert state.stage == Stage.UNDER_REVIEW
    assert state.rounds[1].answer == "Horaires joints."
    assert not state.rounds[1].expired_unanswered
    state = await cases.act(case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=300_000))
    assert state.stage == Stage.DECIDED

    async def both_rounds_emailed() -> None:
        sent = templates_of(mail_server.store.for_recipient(case.candidate.email))
        assert sent.count("observations_received") == 2

    await assert_eventually(both_rounds_emailed)


@pytest.mark.record_history("payment_followup")
async def test_payment_followup_when_prefecture_not_contacted(
    cases: TestCaseClient, mail_server: MailServer
) -> None:
    case, case_id, invoice = await recognised_open_space(
        cases,
        policy=CasePolicy(
            reminder_offsets=[], payment_followup_delay=2 * S, payment_followup_max=2
        ),
    )
    me = candidate(case)
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(100_000, "F-1", invoice)),
    )
    await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    await cases.act(case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=100_000))

    async def two_followups() -> None:
        state = await cases.state(case_id)
        assert state.payment_followups_sent == 2
        sent = templates_of(mail_server.store.for_recipient(case.candidate.email))
        assert sent.count("payment_followup") == 2

    await assert_eventually(two_followups, timeout=20)
    await asyncio.sleep(2.5)  # no third one: the maximum is 2
    assert (await cases.state(case_id)).payment_followups_sent == 2
    state = await cases.act(case_id, Action.CONTACT_PREFECTURE, ContactPrefectureInput(actor=me))
    assert state.stage == Stage.PAYMENT_PENDING


@pytest.mark.record_history("operator_correction")
async def test_operator_moves_the_deadline_and_timers_follow(
    cases: TestCaseClient, mail_server: MailServer
) -> None:
    case, case_id, _ = await recognised_open_space(
        cases, deadline_in=dt.timedelta(days=10), policy=CasePolicy(reminder_offsets=[2 * S])
    )
    # A corrected first round recomputes the legal deadline.
    state = await cases.act(
        case_id,
        Action.CORRECT_FIRST_ROUND,
        CorrectFirstRoundUpdate(
            actor=OPERATOR,
            reason="Date du premier tour mal saisie",
            first_round=dt.date(2027, 3, 14),
            second_round=dt.date(2027, 3, 21),
            deposit_deadline=deposit_deadline(dt.date(2027, 3, 14)),
        ),
    )
    assert state.deposit_deadline == deposit_deadline(dt.date(2027, 3, 14))
    assert state.election.first_round == dt.date(2027, 3, 14)
    assert state.operator_notes and "mal saisie" in state.operator_notes[-1].text

    # A deadline pulled a few seconds ahead re-arms the reminder and the time bar.
    soon = dt.datetime.now(dt.UTC) + 4 * S
    await cases.act(
        case_id,
        Action.CORRECT_DEPOSIT_DEADLINE,
        CorrectDepositDeadlineUpdate(actor=OPERATOR, reason="Exercice", deposit_deadline=soon),
    )
    await cases.wait_closed(case_id, timeout=dt.timedelta(seconds=30))
    final = await cases.state(case_id)
    assert final.stage == Stage.TIME_BARRED
    sent = templates_of(mail_server.store.for_recipient(case.candidate.email))
    assert sent.count("deposit_reminder") == 1
    assert sent[-1] == "time_barred"


async def test_time_bar_applies_to_an_unrecognised_threat(cases: TestCaseClient) -> None:
    """Once the prefect has answered (not recognised), the next step was the candidate's: the
    deadline ends the case. (Still waiting on the prefect, it would not: rule 3.)"""
    case = new_case_input(deadline_in=3 * S)
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    await cases.open_case(case, evaluation_request(case))
    await cases.act(
        case_id,
        Action.RECORD_EVALUATION,
        RecordEvaluationInput(
            actor=PREFECTURE_60,
            recognised=False,
            decided_on=dt.date(2026, 3, 1),
            decision_document="doc-refus",
        ),
    )
    await cases.wait_closed(case_id, timeout=dt.timedelta(seconds=20))
    assert (await cases.state(case_id)).stage == Stage.TIME_BARRED
