"""The rules of DOMAIN.md's legal review, on the real dev server (each fails on the code before
them): no cut without a hearing, rounds attended stated at the deposit, no time bar for the
administration's delay, deposits dated at receipt, the decision due date, the evaluation's proofs,
re-evaluation of the threat, line-by-line review, third-party copies."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from core.cases import DECISION_DUE_KEY, CaseActionRefused
from domain.calendar import PARIS
from domain.contracts import (
    AddExpenseLineInput,
    AnswerObservationsInput,
    CasePolicy,
    CloseCaseInput,
    CorrectRoundsAttendedInput,
    DecideInput,
    MandateThirdPartyInput,
    OpenLateWindowInput,
    OpenSpaceInput,
    RecordEvaluationInput,
    RecordLineVerdictInput,
    ReevaluateThreatInput,
    RequestEvaluationInput,
    RequestReevaluationInput,
    RequestSpaceInput,
    SendObservationsInput,
    SubmitInput,
)
from domain.documents import DocumentKind
from domain.expenses import LineCertification
from domain.ids import case_workflow_id
from domain.money import DecisionOutcome, ThreatLevel
from domain.stages import Action, Stage
from embedded.mailbox import MailServer
from tests.helpers import (
    CNCCFP,
    PREFECTURE_60,
    TestCaseClient,
    assert_eventually,
    candidate,
    evaluation_request,
    new_case_input,
    templates_of,
    utcnow,
)
from tests.workflows.steps import assert_refused, line, recognised_open_space

S = dt.timedelta(seconds=1)


async def submitted(cases: TestCaseClient, *amounts: int, level: ThreatLevel = ThreatLevel.ONE):
    """A case deposited with one line per amount; returns (case, case_id, line ids)."""
    case, case_id, invoice = await recognised_open_space(cases, level=level)
    me = candidate(case)
    for number, amount in enumerate(amounts):
        await cases.act(
            case_id,
            Action.ADD_EXPENSE_LINE,
            AddExpenseLineInput(actor=me, line=line(amount, f"F-{number}", invoice)),
        )
    state = await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    return case, case_id, [recorded.line_id for recorded in state.expense_lines]


# --- Rule 1: no cut without a contradictory procedure --------------------------------------------


async def test_rule1_no_cut_right_after_the_deposit(cases: TestCaseClient) -> None:
    _, case_id, _ = await submitted(cases, 500_000, 300_000)
    for amount in (0, 700_000):
        await assert_refused(
            cases,
            case_id,
            Action.DECIDE,
            DecideInput(actor=CNCCFP, amount_cents=amount, reasons="Pièces insuffisantes."),
            "contradictory_procedure_required",
        )
    # Approving the whole claim needs no procedure.
    state = await cases.act(case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=800_000))
    assert state.stage == Stage.DECIDED
    assert state.decision is not None and state.decision.outcome == DecisionOutcome.APPROVED


async def test_rule1_capping_at_the_ceiling_is_the_law_applied(cases: TestCaseClient) -> None:
    _, case_id, _ = await submitted(cases, 1_200_000, 900_000)  # level 1: ceiling 15,000 €
    state = await cases.act(
        case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=1_500_000)
    )
    assert state.decision is not None
    assert state.decision.outcome == DecisionOutcome.APPROVED
    assert state.decision.ceiling_cents == 1_500_000


@pytest.mark.record_history("line_verdicts")
async def test_rule1_and_8_cut_after_a_hearing_line_by_line(cases: TestCaseClient) -> None:
    case, case_id, (first, second) = await submitted(cases, 500_000, 300_000)
    me = candidate(case)
    await cases.act(
        case_id,
        Action.SEND_OBSERVATIONS,
        SendObservationsInput(
            actor=CNCCFP, observations="Preuve de paiement ?", contested_line_ids=[second]
        ),
    )
    # A line the observations did not name cannot be cut.
    await assert_refused(
        cases,
        case_id,
        Action.RECORD_LINE_VERDICT,
        RecordLineVerdictInput(actor=CNCCFP, line_id=first, accepted_cents=0, reason="Non."),
        "line_not_contested",
    )
    await assert_refused(
        cases,
        case_id,
        Action.RECORD_LINE_VERDICT,
        RecordLineVerdictInput(actor=CNCCFP, line_id=second, accepted_cents=100_000),
        "reasons_required",
    )
    await assert_refused(
        cases,
        case_id,
        Action.RECORD_LINE_VERDICT,
        RecordLineVerdictInput(actor=CNCCFP, line_id=second, accepted_cents=300_001),
        "verdict_above_line",
    )
    await cases.act(
        case_id,
        Action.RECORD_LINE_VERDICT,
        RecordLineVerdictInput(
            actor=CNCCFP, line_id=second, accepted_cents=100_000, reason="Paiement non prouvé."
        ),
    )
    await cases.act(
        case_id,
        Action.ANSWER_OBSERVATIONS,
        AnswerObservationsInput(actor=me, answer="Voici le relevé."),
    )
    # Every line needs its verdict before a cut...
    await assert_refused(
        cases,
        case_id,
        Action.DECIDE,
        DecideInput(actor=CNCCFP, amount_cents=600_000),
        "line_verdicts_required",
    )
    await cases.act(
        case_id,
        Action.RECORD_LINE_VERDICT,
        RecordLineVerdictInput(actor=CNCCFP, line_id=first, accepted_cents=500_000),
    )
    # ...and the amount is their sum.
    await assert_refused(
        cases,
        case_id,
        Action.DECIDE,
        DecideInput(actor=CNCCFP, amount_cents=550_000),
        "amount_differs_from_verdicts",
    )
    state = await cases.act(case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=600_000))
    assert state.decision is not None
    assert state.decision.outcome == DecisionOutcome.AMENDED
    assert state.decision.reasons is not None and "Paiement non prouvé" in state.decision.reasons


# --- Rule 2: rounds attended are stated at the deposit -------------------------------------------


@pytest.mark.record_history("rounds_attended")
async def test_rule2_rounds_attended_at_deposit(cases: TestCaseClient) -> None:
    case, case_id, invoice = await recognised_open_space(cases)
    me = candidate(case)
    # Before the deposit the period runs to the election's last round (22 March 2026).
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(
            actor=me,
            line=line(100_000, "F-2T", invoice, service_end=dt.date(2026, 3, 22)),
        ),
    )
    await assert_refused(
        cases, case_id, Action.SUBMIT, SubmitInput(actor=me), "rounds_attended_required"
    )
    await assert_refused(
        cases,
        case_id,
        Action.SUBMIT,
        SubmitInput(actor=me, rounds_attended=0),
        "not_a_first_round_candidate",
    )
    await assert_refused(
        cases,
        case_id,
        Action.SUBMIT,
        SubmitInput(actor=me, rounds_attended=1),
        "lines_outside_attended_rounds",
    )
    state = await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=2))
    assert state.rounds_attended == 2
    state = await cases.act(
        case_id,
        Action.CORRECT_ROUNDS_ATTENDED,
        CorrectRoundsAttendedInput(
            actor=CNCCFP, rounds_attended=1, reason="Résultats officiels du premier tour."
        ),
    )
    assert state.rounds_attended == 1
    assert state.eligible_period[1] == dt.date(2026, 3, 15)


# --- Rule 3: the administration's delay never time-bars ------------------------------------------


@pytest.mark.record_history("administration_delay_evaluation")
async def test_rule3_waiting_on_the_prefect_is_not_a_time_bar(
    cases: TestCaseClient, mail_server: MailServer
) -> None:
    policy = CasePolicy(
        reminder_offsets=[],
        receipt_grace=dt.timedelta(0),
        prefecture_reminder_after=2 * S,
        prefecture_reminder_every=30 * S,
        prefecture_reminder_before=[],
    )
    case = new_case_input(deadline_in=5 * S, policy=policy)
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    await cases.open_case(case, evaluation_request(case))

    async def awaiting() -> None:
        state = await cases.state(case_id)
        assert state.stage == Stage.AWAITING_ADMINISTRATION
        assert state.awaited_stage == Stage.EVALUATION_REQUESTED

    await assert_eventually(awaiting, timeout=30)
    # The prefecture was reminded; the candidate is told it is not their delay.
    prefecture = templates_of(mail_server.store.for_recipient(case.prefecture_email))
    assert prefecture.count("evaluation_reminder") == 1
    to_candidate = templates_of(mail_server.store.for_recipient(case.candidate.email))
    assert "time_barred" not in to_candidate

    async def told() -> None:
        assert "administration_delay" in templates_of(
            mail_server.store.for_recipient(case.candidate.email)
        )

    await assert_eventually(told)
    # The CNCCFP opens a late window: the prefect may now decide, then the case goes on.
    new_deadline = utcnow() + dt.timedelta(days=10)
    state = await cases.act(
        case_id,
        Action.OPEN_LATE_WINDOW,
        OpenLateWindowInput(
            actor=CNCCFP, deposit_deadline=new_deadline, reason="Évaluation tardive."
        ),
    )
    assert state.stage == Stage.EVALUATION_REQUESTED
    assert state.deposit_deadline == new_deadline
    assert state.late_windows[0].reason == "Évaluation tardive."


@pytest.mark.record_history("administration_delay_space")
async def test_rule3_waiting_on_the_cnccfp_then_late_window_or_closing(
    cases: TestCaseClient, mail_server: MailServer
) -> None:
    policy = CasePolicy(
        reminder_offsets=[],
        receipt_grace=dt.timedelta(0),
        cnccfp_reminder_after=S,
        cnccfp_reminder_before=[],
    )
    for closing in (False, True):
        case = new_case_input(deadline_in=6 * S, policy=policy)
        case_id = case_workflow_id(case.election.election_id, case.candidate_id)
        await cases.open_case(case, evaluation_request(case))
        decision = await cases.upload(case_id, DocumentKind.EVALUATION_DECISION, "d.pdf")
        await cases.act(
            case_id,
            Action.RECORD_EVALUATION,
            RecordEvaluationInput(
                actor=PREFECTURE_60,
                recognised=True,
                level=ThreatLevel.ONE,
                decided_on=dt.date(2026, 3, 1),
                decision_document=decision,
            ),
        )
        await cases.act(case_id, Action.REQUEST_SPACE, RequestSpaceInput(actor=candidate(case)))

        async def awaiting(case_id: str = case_id) -> None:
            assert (await cases.state(case_id)).stage == Stage.AWAITING_ADMINISTRATION

        await assert_eventually(awaiting, timeout=30)
        cnccfp = templates_of(mail_server.store.for_recipient(case.cnccfp_email or ""))
        assert "space_requested" in cnccfp and "space_reminder" in cnccfp
        if closing:
            state = await cases.act(
                case_id,
                Action.CLOSE_CASE,
                CloseCaseInput(actor=CNCCFP, reason="Le candidat a renoncé par courrier."),
            )
            assert state.stage == Stage.CLOSED
            assert state.closing_reason == "Le candidat a renoncé par courrier."
        else:
            state = await cases.act(
                case_id,
                Action.OPEN_LATE_WINDOW,
                OpenLateWindowInput(
                    actor=CNCCFP,
                    deposit_deadline=utcnow() + dt.timedelta(days=3),
                    reason="Espace ouvert en retard.",
                ),
            )
            assert state.stage == Stage.SPACE_OPEN
            assert state.space_opened_at is not None


# --- Rule 4: a deposit counts when it is received ------------------------------------------------


@pytest.mark.record_history("receipt_time")
async def test_rule4_deposit_received_before_the_deadline_counts(cases: TestCaseClient) -> None:
    policy = CasePolicy(reminder_offsets=[], receipt_grace=dt.timedelta(seconds=20))
    case, case_id, invoice = await recognised_open_space(cases, deadline_in=6 * S, policy=policy)
    me = candidate(case)
    await cases.act(
        case_id, Action.ADD_EXPENSE_LINE, AddExpenseLineInput(actor=me, line=line(1, "F", invoice))
    )
    deadline = (await cases.state(case_id)).deposit_deadline
    await asyncio.sleep(max((deadline - utcnow()).total_seconds(), 0) + 1)
    # Received one second after the deadline: late, even though the case is still open. (The
    # deadline's timer may fire meanwhile, so only the refusal is checked here.)
    with pytest.raises(CaseActionRefused) as late:
        await cases.act(
            case_id,
            Action.SUBMIT,
            SubmitInput(actor=me, rounds_attended=1, received_at=deadline + S),
        )
    assert late.value.code == "deposit_deadline_passed"
    received = deadline - dt.timedelta(milliseconds=10)
    state = await cases.act(
        case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1, received_at=received)
    )
    assert state.stage == Stage.SUBMITTED
    assert state.submitted_at == received


# --- Rule 5: the decision deadline is watched ----------------------------------------------------


@pytest.mark.record_history("decision_due")
async def test_rule5_decision_due_reminders_and_search_attribute(
    cases: TestCaseClient, mail_server: MailServer
) -> None:
    policy = CasePolicy(reminder_offsets=[], decision_reminder_before=[2 * S])
    case, case_id, invoice = await recognised_open_space(cases, policy=policy)
    me = candidate(case)
    await cases.act(
        case_id, Action.ADD_EXPENSE_LINE, AddExpenseLineInput(actor=me, line=line(1, "F", invoice))
    )
    due = utcnow() + 4 * S
    state = await cases.act(
        case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1, decision_due=due)
    )
    assert state.decision_due == due
    description = await cases.handle(case_id).describe()
    assert description.typed_search_attributes.get(DECISION_DUE_KEY) is not None

    async def reminded() -> None:
        sent = templates_of(mail_server.store.for_recipient(case.cnccfp_email or ""))
        assert sent.count("decision_due_reminder") == 2  # two seconds before, and on the day

    await assert_eventually(reminded, timeout=30)


async def test_rule5_decision_due_is_six_months_after_the_deposit(cases: TestCaseClient) -> None:
    _, case_id, _ = await submitted(cases, 1_000)
    state = await cases.state(case_id)
    assert state.submitted_at is not None and state.decision_due is not None
    submitted_local = state.submitted_at.astimezone(PARIS)
    due_local = state.decision_due.astimezone(PARIS)
    months = (due_local.year - submitted_local.year) * 12 + due_local.month - submitted_local.month
    assert months == 6


# --- Rule 6: the evaluation request carries its proofs -------------------------------------------


async def test_rule6_proofs_required_and_date_checked(cases: TestCaseClient) -> None:
    case = new_case_input()
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    me = candidate(case)
    with pytest.raises(CaseActionRefused) as refused:
        await cases.open_case(case, RequestEvaluationInput(actor=me, candidacy_proof_ref="proof"))
    assert refused.value.code == "evaluation_proofs_required"
    state = await cases.state(case_id)
    assert state.stage == Stage.OPENED  # the request was refused, nothing recorded
    await assert_refused(
        cases,
        case_id,
        Action.REQUEST_EVALUATION,
        RequestEvaluationInput(actor=me, complaint_document_refs=["plainte"]),
        "evaluation_proofs_required",
    )
    state = await cases.act(case_id, Action.REQUEST_EVALUATION, evaluation_request(case))
    assert state.stage == Stage.EVALUATION_REQUESTED
    await assert_refused(
        cases,
        case_id,
        Action.RECORD_EVALUATION,
        RecordEvaluationInput(
            actor=PREFECTURE_60,
            recognised=False,
            decided_on=dt.date(2026, 3, 1),
            decision_document="d",
            candidacy_declared_on=dt.date(2026, 4, 1),  # after the first round
        ),
        "candidacy_date_invalid",
    )
    state = await cases.act(
        case_id,
        Action.RECORD_EVALUATION,
        RecordEvaluationInput(
            actor=PREFECTURE_60,
            recognised=True,
            level=ThreatLevel.ONE,
            decided_on=dt.date(2026, 3, 1),
            decision_document="d",
            candidacy_declared_on=dt.date(2025, 12, 1),
        ),
    )
    assert state.candidacy_declared_on == dt.date(2025, 12, 1)
    assert state.eligible_period[0] == dt.date(2025, 12, 1)


# --- Rule 7: re-evaluation -----------------------------------------------------------------------


@pytest.mark.record_history("reevaluation_of_threat")
async def test_rule7_escalation_raises_the_ceiling(
    cases: TestCaseClient, mail_server: MailServer
) -> None:
    case, case_id, invoice = await recognised_open_space(cases, level=ThreatLevel.ONE)
    me = candidate(case)
    await cases.act(
        case_id,
        Action.REQUEST_REEVALUATION,
        RequestReevaluationInput(actor=me, new_facts="Agression physique le 2 mars."),
    )
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(3_000_000, "F-1", invoice)),
    )
    second_decision = await cases.upload(case_id, DocumentKind.EVALUATION_DECISION, "d2.pdf")
    state = await cases.act(
        case_id,
        Action.REEVALUATE_THREAT,
        ReevaluateThreatInput(
            actor=PREFECTURE_60,
            level=ThreatLevel.TWO,
            decided_on=dt.date(2026, 3, 3),
            decision_document=second_decision,
            reason="Atteinte physique.",
        ),
    )
    assert state.threat_level == ThreatLevel.TWO and state.ceiling_cents == 7_500_000
    assert state.stage == Stage.SPACE_OPEN
    await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    state = await cases.act(
        case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=3_000_000)
    )
    assert state.decision is not None and state.decision.outcome == DecisionOutcome.APPROVED

    async def emails() -> None:
        assert "reevaluation_requested" in templates_of(
            mail_server.store.for_recipient(case.prefecture_email)
        )
        assert "threat_reevaluated" in templates_of(
            mail_server.store.for_recipient(case.candidate.email)
        )

    await assert_eventually(emails)


# --- Rule 8: certification of each line ----------------------------------------------------------


async def test_rule8_lines_are_certified(cases: TestCaseClient) -> None:
    case, case_id, invoice = await recognised_open_space(cases)
    uncertified = line(1_000, "F-1", invoice, certification=LineCertification())
    await assert_refused(
        cases,
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=candidate(case), line=uncertified),
        "line_not_certified",
    )


# --- Copies to the mandated third party ----------------------------------------------------------


@pytest.mark.record_history("third_party_copies")
async def test_third_party_gets_a_copy_of_what_asks_for_action(
    cases: TestCaseClient, mail_server: MailServer
) -> None:
    case = new_case_input()
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    await cases.open_case(case, evaluation_request(case))
    mandate = await cases.upload(case_id, DocumentKind.MANDATE, "mandat.pdf")
    third_party_email = f"tiers-{case.candidate_id}@example.test"
    await cases.act(
        case_id,
        Action.MANDATE_THIRD_PARTY,
        MandateThirdPartyInput(
            actor=candidate(case),
            third_party_id=f"tiers{case.candidate_id}",
            name="Dominique Tiers",
            email=third_party_email,
            mandate_document=mandate,
        ),
    )
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
    await cases.act(case_id, Action.REQUEST_SPACE, RequestSpaceInput(actor=candidate(case)))
    await cases.act(case_id, Action.OPEN_SPACE, OpenSpaceInput(actor=CNCCFP))

    async def copied() -> None:
        copies = mail_server.store.for_recipient(third_party_email)
        assert templates_of(copies) == ["evaluation_recorded", "space_opened"]
        assert all("01 80 52 33 84" not in str(message) for message in copies)

    await assert_eventually(copied)
