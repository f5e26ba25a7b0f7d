"""The élus' stage table: each procedure's rows stay within its stages, every stage is reachable,
closed stages allow nothing, and a loan never ends by a timer."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.elus import (
    ELUS_RULES,
    PROCEDURE_STAGES,
    TERMINAL_ELUS_STAGES,
    CandidateProtectionPolicy,
    CandidateProtectionState,
    CollectiviteInfo,
    DecideAlertButtonInput,
    ElusAction,
    ElusActor,
    ElusStage,
    FileProtectionRequestInput,
    LoanPeriod,
    LoanPolicy,
    LoanState,
    Person,
    Procedure,
    ProtectionState,
    RequestStateProtectionInput,
    check_elus_role,
    check_elus_stage,
    convening_deadline,
    convening_reminder_due,
    elus_actions_for,
    loan_next_due,
    overdue_reminders_owed,
    procedure_of,
    procedure_workflow_id,
    protection_next_due,
    renewal_reminder_at,
    state_protection_next_due,
    state_protection_reminders_owed,
)
from domain.errors import DomainError, ErrorCode
from domain.protection import start_of_day, withdrawal_window_end
from domain.stages import Role


@pytest.mark.parametrize("procedure", list(Procedure))
def test_each_procedure_stays_within_its_stages_and_reaches_all_of_them(
    procedure: Procedure,
) -> None:
    stages = PROCEDURE_STAGES[procedure]
    rules = [rule for rule in ELUS_RULES.values() if rule.procedure == procedure]
    reached: set[ElusStage] = set()
    for rule in rules:
        assert rule.from_stages <= stages, rule.action
        assert rule.label
        reached |= {stage for _, stage in rule.to}
        assert not rule.from_stages & TERMINAL_ELUS_STAGES, rule.action
    assert reached == stages
    # Exactly one action starts the procedure.
    assert len([rule for rule in rules if not rule.from_stages]) == 1


def test_a_loan_is_never_ended_by_a_timer() -> None:
    for rule in ELUS_RULES.values():
        if Role.SYSTEM in rule.roles:
            assert not {stage for _, stage in rule.to} & TERMINAL_ELUS_STAGES or (
                rule.procedure == Procedure.FUNCTIONAL_PROTECTION
            ), rule.action
    ends = ELUS_RULES[ElusAction.LOAN_PERIOD_ENDS]
    assert [stage for _, stage in ends.to] == [ElusStage.AB_OVERDUE]


def test_checks_refuse_role_before_stage() -> None:
    with pytest.raises(DomainError) as refused:
        check_elus_role(ElusAction.RECORD_DELIBERATION, Role.ELU)
    assert refused.value.code == ErrorCode.FORBIDDEN_ROLE
    with pytest.raises(DomainError) as refused:
        check_elus_stage(ElusStage.FP_FINAL, ElusAction.RECORD_DELIBERATION)
    assert refused.value.code == ErrorCode.CASE_CLOSED
    with pytest.raises(DomainError) as refused:
        check_elus_stage(ElusStage.FP_RECEIVED, ElusAction.RECORD_DELIBERATION)
    assert refused.value.code == ErrorCode.WRONG_STAGE
    assert elus_actions_for(ElusStage.AB_OVERDUE, Role.PREFECTURE) == [
        ElusAction.RENEW_LOAN,
        ElusAction.RECORD_RETURN,
    ]


@pytest.mark.parametrize("procedure", list(Procedure))
def test_workflow_ids_name_their_procedure(procedure: Procedure) -> None:
    assert procedure_of(procedure_workflow_id(procedure, "0123abcd")) == procedure
    assert procedure_of("case-municipales-2026-cand1") is None


# --- Due times as pure functions ------------------------------------------------------------------

START = dt.datetime(2026, 6, 1, 22, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _loan(stage: ElusStage, *periods: LoanPeriod) -> LoanState:
    decision = DecideAlertButtonInput(
        actor=ElusActor(role=Role.PREFECTURE, id="pref-1", departements=["60"]),
        loan_id="l1",
        official=Person(name="Dominique Leroy", email="elu@example.test"),
        mandate="Maire",
        departement="60",
        prefecture_email="pref@example.test",
        referent_evaluated_on=dt.date(2026, 5, 30),
        decided_on=dt.date(2026, 5, 31),
        policy=LoanPolicy(renewal_reminder_before=14 * DAY, overdue_reminder_every=7 * DAY),
    )
    return LoanState(
        procedure_id="bouton-l1",
        decision=decision,
        stage=stage,
        decided_at=START,
        periods=list(periods),
    )


def test_loan_due_times() -> None:
    ends = START + 91 * DAY
    assert loan_next_due(_loan(ElusStage.AB_DECIDED)) is None
    period = LoanPeriod(number=1, starts_on=dt.date(2026, 6, 2), ends_at=ends)
    lent = _loan(ElusStage.AB_LENT, period)
    assert loan_next_due(lent) == ends - 14 * DAY
    period.renewal_reminded = True
    assert loan_next_due(lent) == ends
    overdue = _loan(ElusStage.AB_OVERDUE, period)
    assert loan_next_due(overdue) == ends  # the first escalation at the end itself
    assert overdue_reminders_owed(overdue, period, ends - DAY) == 0
    assert overdue_reminders_owed(overdue, period, ends) == 1
    assert overdue_reminders_owed(overdue, period, ends + 20 * DAY) == 3  # one for the missed
    period.overdue_reminders = 3
    assert loan_next_due(overdue) == ends + 21 * DAY
    assert loan_next_due(_loan(ElusStage.AB_RETURNED, period)) is None


def test_a_short_period_reminds_at_once_not_before_its_start() -> None:
    period = LoanPeriod(number=1, starts_on=dt.date(2026, 6, 2), ends_at=START + 3 * DAY)
    lent = _loan(ElusStage.AB_LENT, period)
    assert renewal_reminder_at(lent, period) < START
    assert loan_next_due(lent) == START - 11 * DAY  # due already: the loop fires it now


def test_protection_and_state_protection_due_times() -> None:
    request = RequestStateProtectionInput(
        actor=ElusActor(role=Role.CANDIDATE, id="cand1"),
        request_id="r1",
        candidate=Person(name="Camille Martin", email="c@example.test", account_id="cand1"),
        departement="60",
        prefecture_email="pref@example.test",
        election_label="Municipales",
        facts="Faits.",
        policy=CandidateProtectionPolicy(decision_reminder_every=15 * DAY),
    )
    state = CandidateProtectionState(procedure_id="p", request=request, requested_at=START)
    assert state_protection_next_due(state) == START + 15 * DAY
    assert state_protection_reminders_owed(state, START + 46 * DAY) == 3
    state.reminders_sent = 3
    assert state_protection_next_due(state) == START + 60 * DAY
    state.stage = ElusStage.CP_GRANTED
    assert state_protection_next_due(state) is None


def _protection_received_on_23_january() -> ProtectionState:
    """A request received on Friday 23 January 2026, before either obligation was done."""
    request = FileProtectionRequestInput(
        actor=ElusActor(role=Role.ELU, id="elu-1"),
        request_id="r1",
        official=Person(name="Dominique Leroy", email="elu@example.test", account_id="elu-1"),
        mandate="Maire",
        collectivite=CollectiviteInfo(
            collectivite_id="commune-60057",
            name="Commune de Beauvais",
            departement="60",
            email="protection@beauvais.example.test",
        ),
        prefecture_email="pref@example.test",
        facts="Menaces.",
        received_on=dt.date(2026, 1, 23),
        delay_ends_on=dt.date(2026, 1, 28),
        delay_ends_at=start_of_day(dt.date(2026, 1, 29)),
    )
    return ProtectionState(
        procedure_id="protection-r1",
        request=request,
        filed_at=dt.datetime(2026, 1, 23, 9, tzinfo=dt.UTC),
    )


def test_the_convening_deadline_is_the_last_day_of_the_four_months() -> None:
    state = _protection_received_on_23_january()
    assert convening_deadline(state) is None
    # Scheduled: the window is not open yet, its end already known.
    state.starts_on = dt.date(2026, 1, 31)
    state.starts_at = start_of_day(state.starts_on)
    assert convening_deadline(state) == dt.date(2026, 5, 30)
    state.window_ends_at = withdrawal_window_end(state.starts_on)
    assert convening_deadline(state) == dt.date(2026, 5, 30)


def test_a_convening_request_without_convocation_is_reminded_before_the_deadline() -> None:
    state = _protection_received_on_23_january()
    state.stage = ElusStage.FP_PROTECTED
    state.starts_on = dt.date(2026, 1, 29)
    state.starts_at = start_of_day(state.starts_on)
    state.window_ends_at = withdrawal_window_end(dt.date(2026, 1, 29))
    window_end = state.window_ends_at
    assert convening_reminder_due(state) is None  # no request
    state.convening.requested_on = dt.date(2026, 3, 2)
    # A request recorded before the reminder existed (a replayed history) owes none.
    assert convening_reminder_due(state) is None
    assert protection_next_due(state) == window_end
    state.convening.reminder_owed = True
    reminder = window_end - dt.timedelta(days=15)
    assert convening_reminder_due(state) == reminder
    assert protection_next_due(state) == reminder
    # Scheduled, not begun yet: the same deadline, from the window the workflow will open.
    scheduled = state.model_copy(
        update={"stage": ElusStage.FP_SCHEDULED, "window_ends_at": None}, deep=True
    )
    assert convening_reminder_due(scheduled) == reminder
    assert protection_next_due(scheduled) == scheduled.starts_at
    # A convocation recorded, a reminder sent, or the protection final: nothing more.
    for done in (
        state.model_copy(
            deep=True,
            update={
                "convening": state.convening.model_copy(
                    update={"convened_on": dt.date(2026, 3, 9), "session_on": dt.date(2026, 3, 20)}
                )
            },
        ),
        state.model_copy(
            deep=True,
            update={"convening": state.convening.model_copy(update={"reminded_at": reminder})},
        ),
        state.model_copy(deep=True, update={"stage": ElusStage.FP_FINAL}),
        state.model_copy(deep=True, update={"stage": ElusStage.FP_WITHDRAWN}),
    ):
        assert convening_reminder_due(done) is None
    assert (
        protection_next_due(
            state.model_copy(
                deep=True,
                update={"convening": state.convening.model_copy(update={"reminded_at": reminder})},
            )
        )
        == window_end
    )
    # Fifteen days are the policy's default: a shorter delay moves the reminder later.
    state.request.policy.convening_reminder_before = dt.timedelta(days=3)
    assert convening_reminder_due(state) == window_end - dt.timedelta(days=3)
