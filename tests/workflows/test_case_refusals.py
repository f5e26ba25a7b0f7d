"""Refusals: wrong stage, wrong actor, bad input. Each changes nothing, not even the history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from domain.contracts import (
    ActionInput,
    Actor,
    AddExpenseLineInput,
    AnswerObservationsInput,
    ContactPrefectureInput,
    DecideInput,
    OpenSpaceInput,
    RecordEvaluationInput,
    RecordPaymentInput,
    RemoveExpenseLineInput,
    RequestEvaluationInput,
    RequestSpaceInput,
    SendObservationsInput,
    SubmitInput,
    WithdrawInput,
)
from domain.ids import case_workflow_id
from domain.money import ThreatLevel
from domain.stages import Action, Role, Stage
from tests.helpers import (
    CNCCFP,
    PREFECTURE_60,
    PREFECTURE_75,
    TestCaseClient,
    candidate,
    evaluation_request,
    new_case_input,
    paris_today,
)
from tests.workflows.steps import assert_refused, line, recognised_open_space


def evaluation(actor: Actor) -> RecordEvaluationInput:
    return RecordEvaluationInput(
        actor=actor,
        recognised=True,
        level=ThreatLevel.ONE,
        decided_on=dt.date(2026, 3, 1),
        decision_document="doc",
    )


async def test_wrong_stage_is_refused_for_every_action(cases: TestCaseClient) -> None:
    case = new_case_input()
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    await cases.open_case(case, evaluation_request(case))
    me = candidate(case)
    # In evaluation_requested, everything but the prefecture's evaluation (and withdrawal,
    # mandate) is out of stage.
    out_of_stage: list[tuple[Action, ActionInput]] = [
        (Action.REQUEST_EVALUATION, RequestEvaluationInput(actor=me)),
        (Action.REQUEST_SPACE, RequestSpaceInput(actor=me)),
        (Action.OPEN_SPACE, OpenSpaceInput(actor=CNCCFP)),
        (
            Action.ADD_EXPENSE_LINE,
            AddExpenseLineInput(actor=me, line=line(100, "F-1", "doc-not-checked-here")),
        ),
        (Action.REMOVE_EXPENSE_LINE, RemoveExpenseLineInput(actor=me, line_id="x")),
        (Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1)),
        (Action.SEND_OBSERVATIONS, SendObservationsInput(actor=CNCCFP, observations="x")),
        (Action.ANSWER_OBSERVATIONS, AnswerObservationsInput(actor=me, answer="x")),
        (Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=0)),
        (Action.CONTACT_PREFECTURE, ContactPrefectureInput(actor=me)),
        (
            Action.RECORD_PAYMENT,
            RecordPaymentInput(
                actor=PREFECTURE_60, amount_cents=1, paid_on=dt.date(2026, 6, 1), reference="r"
            ),
        ),
    ]
    for action, input in out_of_stage:
        await assert_refused(cases, case_id, action, input, "wrong_stage")


async def test_wrong_actor_is_refused(cases: TestCaseClient) -> None:
    case = new_case_input()
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    await cases.open_case(case, evaluation_request(case))
    stranger = Actor(role=Role.CANDIDATE, id="cand-someone-else")
    not_mandated = Actor(role=Role.THIRD_PARTY, id="tiers-x")
    operator = Actor(role=Role.OPERATOR, id="ops-1")

    await assert_refused(
        cases, case_id, Action.RECORD_EVALUATION, evaluation(PREFECTURE_75), "out_of_scope"
    )
    await assert_refused(
        cases, case_id, Action.RECORD_EVALUATION, evaluation(CNCCFP), "forbidden_role"
    )
    await assert_refused(
        cases, case_id, Action.RECORD_EVALUATION, evaluation(operator), "forbidden_role"
    )
    await assert_refused(
        cases, case_id, Action.RECORD_EVALUATION, evaluation(candidate(case)), "forbidden_role"
    )
    await assert_refused(
        cases, case_id, Action.WITHDRAW, WithdrawInput(actor=stranger), "not_your_case"
    )
    await assert_refused(
        cases, case_id, Action.WITHDRAW, WithdrawInput(actor=not_mandated), "forbidden_role"
    )
    # A stranger learns nothing about the stage: the scope is checked before it.
    await assert_refused(
        cases,
        case_id,
        Action.SUBMIT,
        SubmitInput(actor=stranger, rounds_attended=1),
        "not_your_case",
    )
    await assert_refused(
        cases,
        case_id,
        Action.SUBMIT,
        SubmitInput(actor=not_mandated, rounds_attended=1),
        "not_your_case",
    )

    await cases.act(case_id, Action.RECORD_EVALUATION, evaluation(PREFECTURE_60))
    await assert_refused(
        cases, case_id, Action.REQUEST_SPACE, RequestSpaceInput(actor=CNCCFP), "forbidden_role"
    )
    await assert_refused(
        cases, case_id, Action.REQUEST_SPACE, RequestSpaceInput(actor=not_mandated), "not_your_case"
    )


GOOD_LINE: dict[str, Any] = {
    "category": "premises_security",
    "company_name": "Gardiennage Picard SARL",
    "siren": "732829320",
    "cnaps_authorisation": "AUT-060-2124-07-01-20250906336",
    "certification": {
        "not_public_service": True,
        "not_in_campaign_account": True,
        "not_state_protection": True,
    },
    "invoice_reference": "F-1",
    "service_start": "2026-02-01",
    "service_end": "2026-03-15",
    "amount_cents": 100_000,
    "document_refs": ["doc-1"],
}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount_cents": -5}, "invalid_amount"),
        ({"amount_cents": 0}, "invalid_amount"),
        ({"amount_cents": 1234.5}, "amount_not_integer"),
        ({"amount_cents": 1234.0}, "amount_not_integer"),
        ({"amount_cents": "1234"}, "amount_not_integer"),
        ({"category": "repas"}, "unknown_category"),
        ({"siren": "732829321"}, "invalid_siren"),
        ({"siren": "73282932"}, "invalid_siren"),
        ({"cnaps_authorisation": "CAR-060-2124-07-01-20250906336"}, "invalid_cnaps_authorisation"),
        ({"cnaps_authorisation": "AUT-60-2124"}, "invalid_cnaps_authorisation"),
        ({"company_name": ""}, "empty_field"),
        ({"invoice_reference": "   "}, "empty_field"),
        ({"document_refs": []}, "empty_field"),
        ({"service_end": "2026-01-01"}, "invalid_date_range"),
    ],
    ids=lambda value: (
        "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value
    ),
)
async def test_malformed_line_is_refused_by_the_workflow(
    cases: TestCaseClient, change: dict[str, Any], code: str
) -> None:
    case, case_id, _ = await recognised_open_space(cases)
    payload = {
        "actor": candidate(case).model_dump(mode="json"),
        "line": {**GOOD_LINE, **change},
    }
    await assert_refused(cases, case_id, Action.ADD_EXPENSE_LINE, payload, code)


@pytest.mark.parametrize(
    ("dates", "code"),
    [
        (("2025-08-31", "2025-09-30"), "date_outside_eligible_period"),  # before 1 September 2025
        (("2025-09-15", "2025-09-30"), "date_outside_eligible_period"),  # before the candidacy
        # Until the deposit states the rounds attended, the period ends at the last round (rule 2).
        (("2026-03-01", "2026-03-23"), "date_outside_eligible_period"),  # after the second round
    ],
)
async def test_line_outside_the_eligible_period(
    cases: TestCaseClient, dates: tuple[str, str], code: str
) -> None:
    case, case_id, invoice = await recognised_open_space(cases)
    start, end = (dt.date.fromisoformat(value) for value in dates)
    bad = line(100_000, "F-1", invoice, service_start=start, service_end=end)
    await assert_refused(
        cases,
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=candidate(case), line=bad),
        code,
    )


async def test_rules_that_need_the_case(cases: TestCaseClient) -> None:
    case, case_id, invoice = await recognised_open_space(cases)
    me = candidate(case)
    await assert_refused(
        cases, case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1), "empty_claim"
    )
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(100_000, "F-1", invoice)),
    )
    await assert_refused(
        cases,
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(5_000, "f-1", invoice)),
        "duplicate_expense_line",
    )
    await assert_refused(
        cases,
        case_id,
        Action.REMOVE_EXPENSE_LINE,
        RemoveExpenseLineInput(actor=me, line_id="nope"),
        "unknown_expense_line",
    )
    state = await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    assert state.stage == Stage.SUBMITTED
    await cases.act(case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=100_000))
    for amount, paid_on, code in (
        (99_999, paris_today(), "payment_amount_mismatch"),
        (100_000, dt.date(2026, 1, 1), "payment_date_invalid"),
        (100_000, paris_today() + dt.timedelta(days=2), "payment_date_invalid"),
    ):
        await assert_refused(
            cases,
            case_id,
            Action.RECORD_PAYMENT,
            RecordPaymentInput(
                actor=PREFECTURE_60, amount_cents=amount, paid_on=paid_on, reference="VIR-1"
            ),
            code,
        )


async def test_bad_evaluation_and_decision_payloads(cases: TestCaseClient) -> None:
    case = new_case_input()
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    await cases.open_case(case, evaluation_request(case))
    prefecture = PREFECTURE_60.model_dump(mode="json")
    base = {"actor": prefecture, "decided_on": "2026-03-01", "decision_document": "d"}
    pirate = {"role": "pirate", "id": "x"}
    for payload, code in (
        ({**base, "recognised": True}, "invalid_threat_level"),
        ({**base, "recognised": False, "level": 2}, "invalid_threat_level"),
        ({**base, "recognised": True, "level": 3}, "invalid_input"),
        ({**base, "recognised": True, "level": 1, "decision_document": ""}, "empty_field"),
        ({**base, "recognised": True, "level": 1, "actor": pirate}, "invalid_input"),
        ({**base, "recognised": True, "level": 1, "decided_on": "hier"}, "invalid_input"),
    ):
        await assert_refused(cases, case_id, Action.RECORD_EVALUATION, payload, code)
    future = paris_today() + dt.timedelta(days=3)
    await assert_refused(
        cases,
        case_id,
        Action.RECORD_EVALUATION,
        RecordEvaluationInput(
            actor=PREFECTURE_60,
            recognised=True,
            level=ThreatLevel.ONE,
            decided_on=future,
            decision_document="d",
        ),
        "invalid_input",
    )
