"""Staff reminders as pure functions of the state (DOMAIN.md rules 3 and 5)."""

from __future__ import annotations

import datetime as dt
import itertools

from domain.contracts import (
    CandidateContact,
    CasePolicy,
    CaseState,
    ElectionInfo,
    EmailTemplate,
    EvaluationRequest,
    RecipientKind,
    StageChange,
)
from domain.reminders import (
    before_deadline_at,
    owed_staff_reminders,
    spread_offset,
    staff_reminders,
)
from domain.stages import Action, Role, Stage

UTC = dt.UTC
OPENED = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DEADLINE = dt.datetime(2026, 5, 22, 16, 0, tzinfo=UTC)
DAY = dt.timedelta(days=1)


def state(stage: Stage, **changes: object) -> CaseState:
    base = CaseState(
        case_id="case-municipales-2026-c1",
        election=ElectionInfo(
            election_id="municipales-2026",
            label="Élections municipales 2026",
            first_round=dt.date(2026, 3, 15),
            second_round=dt.date(2026, 3, 22),
        ),
        candidate_id="c1",
        candidate=CandidateContact(name="Camille Martin", email="c@example.test"),
        departement="60",
        prefecture_email="pref@example.test",
        cnccfp_email="cnccfp@example.test",
        procedure_version=2,
        candidacy_declared_on=dt.date(2026, 1, 5),
        policy=CasePolicy(),
        opened_at=OPENED,
        stage=stage,
        deposit_deadline=DEADLINE,
        deadline_set_at=OPENED,
        evaluation_requests=[EvaluationRequest(number=1, requested_at=OPENED)],
    )
    return base.model_copy(update=changes)


def entered(stage: Stage, at: dt.datetime) -> StageChange:
    return StageChange(
        at=at,
        action=Action.REQUEST_SPACE,
        role=Role.CANDIDATE,
        actor_id="c1",
        from_stage=Stage.THREAT_RECOGNISED,
        to_stage=stage,
    )


def test_prefecture_after_seven_days_then_weekly_and_before_the_deadline() -> None:
    reminders = staff_reminders(state(Stage.EVALUATION_REQUESTED))
    assert {r.template for r in reminders} == {EmailTemplate.EVALUATION_REMINDER}
    assert {r.recipient for r in reminders} == {RecipientKind.PREFECTURE}
    weekly = [r.at for r in reminders if ":after:" in r.key]
    assert weekly[0] == OPENED + 7 * DAY
    assert all(b - a == 7 * DAY for a, b in itertools.pairwise(weekly))
    assert weekly[-1] < DEADLINE <= weekly[-1] + 7 * DAY
    before = sorted(DEADLINE - r.at for r in reminders if ":before:" in r.key)
    assert before == [7 * DAY, 21 * DAY]
    assert [r.at for r in reminders] == sorted(r.at for r in reminders)


def test_a_reminder_due_before_the_request_is_never_owed() -> None:
    late_request = DEADLINE - 10 * DAY
    reminders = staff_reminders(
        state(
            Stage.EVALUATION_REQUESTED,
            evaluation_requests=[EvaluationRequest(number=1, requested_at=late_request)],
        )
    )
    assert DEADLINE - 21 * DAY not in [r.at for r in reminders]
    assert DEADLINE - 7 * DAY in [r.at for r in reminders]


def test_cnccfp_two_days_after_the_space_request_then_before_the_deadline() -> None:
    asked = OPENED + 3 * DAY
    reminders = staff_reminders(
        state(Stage.SPACE_REQUESTED, history=[entered(Stage.SPACE_REQUESTED, asked)])
    )
    assert {r.recipient for r in reminders} == {RecipientKind.CNCCFP}
    assert [r.at for r in reminders] == [
        asked + 2 * DAY,
        DEADLINE - 7 * DAY,
        DEADLINE - 3 * DAY,
        DEADLINE - DAY,
    ]


def test_no_cnccfp_reminder_without_its_address() -> None:
    assert staff_reminders(state(Stage.SPACE_REQUESTED, cnccfp_email=None)) == []


def test_decision_due_thirty_and_seven_days_before_and_on_the_day() -> None:
    submitted = dt.datetime(2026, 5, 20, 10, 0, tzinfo=UTC)
    due = dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    for stage in (Stage.SUBMITTED, Stage.OBSERVATIONS_PENDING, Stage.UNDER_REVIEW):
        reminders = staff_reminders(state(stage, submitted_at=submitted, decision_due=due))
        assert [due - r.at for r in reminders] == [30 * DAY, 7 * DAY, dt.timedelta(0)]
        assert {r.template for r in reminders} == {EmailTemplate.DECISION_DUE_REMINDER}
    assert staff_reminders(state(Stage.DECIDED, submitted_at=submitted, decision_due=due)) == []


def test_cases_opened_before_the_rules_owe_none() -> None:
    assert staff_reminders(state(Stage.EVALUATION_REQUESTED, procedure_version=1)) == []


def test_sent_reminders_are_not_owed_again() -> None:
    current = state(Stage.EVALUATION_REQUESTED)
    first = staff_reminders(current)[0]
    owed = owed_staff_reminders(current.model_copy(update={"staff_reminders_sent": [first.key]}))
    assert first not in owed
    assert len(owed) == len(staff_reminders(current)) - 1


def test_a_new_deadline_gives_new_before_reminders() -> None:
    moved = DEADLINE + 10 * DAY
    current = state(Stage.EVALUATION_REQUESTED)
    sent = [r.key for r in staff_reminders(current)]
    later = current.model_copy(
        update={"deposit_deadline": moved, "staff_reminders_sent": sent, "deadline_set_at": OPENED}
    )
    assert {moved - r.at for r in owed_staff_reminders(later) if ":before:" in r.key} == {
        7 * DAY,
        21 * DAY,
    }


HOUR = dt.timedelta(hours=1)


def test_the_spread_offset_depends_on_the_case_id_alone_and_stays_in_its_window() -> None:
    ids = [f"case-municipales-2026-c{number}" for number in range(2000)]
    offsets = [spread_offset(case_id, HOUR) for case_id in ids]
    assert offsets == [spread_offset(case_id, HOUR) for case_id in ids]  # any worker, any replay
    assert all(dt.timedelta(0) <= offset < HOUR for offset in offsets)
    assert all(offset.microseconds == 0 for offset in offsets)
    # Spread over the window: no second holds 1 % of the cases, every quarter has some.
    seconds = [int(offset.total_seconds()) for offset in offsets]
    assert max(seconds.count(second) for second in set(seconds)) < len(ids) // 100
    assert {second // 900 for second in seconds} == {0, 1, 2, 3}


def test_no_spread_keeps_the_exact_time() -> None:
    assert spread_offset("case-municipales-2026-c1", dt.timedelta(0)) == dt.timedelta(0)
    exact = state(Stage.EVALUATION_REQUESTED)
    assert before_deadline_at(exact, DEADLINE, DAY) == DEADLINE - DAY


def test_a_spread_reminder_comes_later_but_keeps_its_day_count() -> None:
    spread = state(Stage.EVALUATION_REQUESTED, policy=CasePolicy(reminder_spread=HOUR))
    delay = spread_offset(spread.case_id, HOUR)
    for offset in (14 * DAY, 3 * DAY, DAY):
        at = before_deadline_at(spread, DEADLINE, offset)
        assert at == DEADLINE - offset + delay
        assert (DEADLINE - at) // DAY == offset // DAY - 1 and DEADLINE - at > offset / 2
    # A window wider than the reminder's own distance is capped at half of it.
    wide = spread.model_copy(update={"policy": CasePolicy(reminder_spread=10 * DAY)})
    assert DEADLINE - before_deadline_at(wide, DEADLINE, DAY) >= DAY / 2
    # The staff reminders counted back from the deadline move the same way; the others stay.
    reminders = staff_reminders(spread)
    assert sorted(DEADLINE - r.at for r in reminders if ":before:" in r.key) == [
        7 * DAY - delay,
        21 * DAY - delay,
    ]
    assert next(r.at for r in reminders if ":after:" in r.key) == OPENED + 7 * DAY
