"""The case page's timeline, as pure functions of the case's view and the time."""

from __future__ import annotations

import datetime as dt

from api.schemas import CasePublic, StageChangePublic
from api.web import timeline
from domain.stages import Action, Role, Stage

OPENED = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
DEADLINE = dt.datetime(2027, 5, 21, 16, 0, tzinfo=dt.UTC)  # 18 h in Paris (summer time)


def view(stage: Stage, **fields: object) -> CasePublic:
    values: dict[str, object] = {
        "stage": stage,
        "opened_at": OPENED,
        "deposit_deadline": DEADLINE,
        "rounds": [],
        "decision_due": None,
        "history": [],
    }
    values.update(fields)
    return CasePublic.model_construct(**values)  # type: ignore[arg-type]


def test_before_the_deposit_the_deadline_is_the_deposit_deadline_in_paris_days() -> None:
    # 23:30 UTC on 19 May is already 20 May in Paris: one day left, not two.
    now = dt.datetime(2027, 5, 19, 23, 30, tzinfo=dt.UTC)
    deadline = timeline.next_deadline(view(Stage.SPACE_OPEN), now)
    assert deadline is not None
    assert deadline.at == DEADLINE and deadline.days_left == 1
    assert timeline.days_text(deadline.days_left) == "il reste 1 jour (demain)"
    assert timeline.days_text(0) == "c'est aujourd'hui"
    assert timeline.days_text(-3) == "la date est passée"


def test_after_the_deposit_the_deadline_is_the_decision_and_none_once_decided() -> None:
    due = dt.datetime(2027, 11, 20, 17, 0, tzinfo=dt.UTC)
    deadline = timeline.next_deadline(view(Stage.SUBMITTED, decision_due=due), OPENED)
    assert deadline is not None and deadline.at == due
    assert timeline.next_deadline(view(Stage.DECIDED, decision_due=due), OPENED) is None


def test_events_say_who_acted_and_timers_are_the_service() -> None:
    history = [
        StageChangePublic.model_construct(
            at=OPENED,
            action=Action.REQUEST_EVALUATION,
            role=Role.CANDIDATE,
            from_stage=Stage.OPENED,
            to_stage=Stage.EVALUATION_REQUESTED,
        ),
        StageChangePublic.model_construct(
            at=DEADLINE,
            action=Action.ADMINISTRATION_DEADLINE_PASSED,
            role=Role.OPERATOR,
            from_stage=Stage.EVALUATION_REQUESTED,
            to_stage=Stage.AWAITING_ADMINISTRATION,
        ),
    ]
    events = timeline.events(view(Stage.AWAITING_ADMINISTRATION, history=history))
    assert [event.actor for event in events] == ["le candidat", "le candidat", timeline.SYSTEM]
    assert events[-1].label == "Échéance passée : en attente de l'administration"


def test_every_stage_tells_the_candidate_what_is_expected() -> None:
    assert set(timeline.EXPECTED) == set(Stage)
