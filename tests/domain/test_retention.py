"""Retention delays and what a purge removes: pure rules."""

from __future__ import annotations

import datetime as dt

import pytest

from core.settings import Settings
from domain.elus import ElusStage
from domain.retention import (
    DEFAULT_RETENTION_DAYS,
    PURGED_RECORDS,
    ClosureOutcome,
    PurgeAction,
    RetentionPolicy,
    is_due,
    outcome_of,
)
from domain.stages import TERMINAL_STAGES, Stage

CLOSED_AT = dt.datetime(2026, 6, 30, 14, 0, tzinfo=dt.UTC)


def test_default_delays_are_five_years_for_paid_and_one_year_otherwise() -> None:
    policy = Settings(_env_file=None).retention_policy()  # type: ignore[call-arg]
    assert policy.purge_due_at(ClosureOutcome.PAID, CLOSED_AT) == dt.datetime(
        2031, 6, 30, 14, 0, tzinfo=dt.UTC
    )
    five_years = {
        ClosureOutcome.PAID,
        ClosureOutcome.PROTECTION_FINAL,
        ClosureOutcome.STATE_PROTECTION_GRANTED,
    }
    for outcome in five_years:
        assert policy.purge_due_at(outcome, CLOSED_AT).year == 2031
    for outcome in set(ClosureOutcome) - five_years:
        assert policy.purge_due_at(outcome, CLOSED_AT) == dt.datetime(
            2027, 6, 30, 14, 0, tzinfo=dt.UTC
        )
    assert DEFAULT_RETENTION_DAYS[ClosureOutcome.PAID] == 1826


def test_each_outcome_follows_its_own_setting() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        retention_days_withdrawn=0.5,
        retention_days_time_barred=30,
        retention_days_ab_returned=2,
    )
    policy = settings.retention_policy()
    assert policy.purge_due_at(ClosureOutcome.WITHDRAWN, CLOSED_AT) == CLOSED_AT + dt.timedelta(
        hours=12
    )
    assert policy.purge_due_at(ClosureOutcome.TIME_BARRED, CLOSED_AT) == CLOSED_AT + dt.timedelta(
        days=30
    )
    assert policy.purge_due_at(
        ClosureOutcome.ALERT_BUTTON_RETURNED, CLOSED_AT
    ) == CLOSED_AT + dt.timedelta(days=2)


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError):
        Settings(_env_file=None, retention_days_paid=-1)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        RetentionPolicy.from_days({ClosureOutcome.PAID: 1})


def test_a_naive_closing_time_is_refused() -> None:
    policy = RetentionPolicy.from_days(dict.fromkeys(ClosureOutcome, 1))
    with pytest.raises(ValueError):
        policy.purge_due_at(ClosureOutcome.PAID, CLOSED_AT.replace(tzinfo=None))


def test_due_exactly_at_the_due_date_and_before_only_by_override() -> None:
    due = CLOSED_AT + dt.timedelta(days=365)
    assert not is_due(due, due - dt.timedelta(seconds=1))
    assert is_due(due, due)
    assert is_due(due, due - dt.timedelta(days=300), before_due=True)


def test_every_terminal_stage_has_an_outcome_and_no_other_stage_does() -> None:
    for stage in Stage:
        assert (outcome_of(stage.value) is not None) == (stage in TERMINAL_STAGES)
    for elus_stage in ElusStage:
        assert (outcome_of(elus_stage.value) is not None) == elus_stage.is_terminal
    assert outcome_of(None) is None
    assert outcome_of("not-a-stage") is None


def test_every_personal_record_is_purged_and_only_records_without_personal_data_are_kept() -> None:
    for rule in PURGED_RECORDS:
        assert rule.personal == (rule.action != PurgeAction.KEEP), rule.record
    assert {"documents", "case_messages", "email_outbox", "invoice_claims"} <= {
        rule.record for rule in PURGED_RECORDS
    }
