"""Legal dates: the deposit deadline (L. 52-18-3) and the eligible period (R. 39-13)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import (
    PARIS,
    decision_due,
    deposit_deadline,
    eligible_period,
    eligible_period_start,
    end_of_day_paris,
    last_paris_day,
    paris_time,
)

WINTER = dt.timedelta(hours=1)
SUMMER = dt.timedelta(hours=2)

dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))


# --- deposit_deadline ----------------------------------------------------------------------------


def test_municipales_2026_deadline_is_friday_22_may_18h_paris() -> None:
    deadline = deposit_deadline(dt.date(2026, 3, 15))

    assert deadline == dt.datetime(2026, 5, 22, 18, 0, tzinfo=PARIS)
    assert deadline.isoformat() == "2026-05-22T18:00:00+02:00"
    assert deadline.astimezone(dt.UTC) == dt.datetime(2026, 5, 22, 16, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("first_round", "weekday", "days", "expected_deadline"),
    [
        (dt.date(2026, 3, 9), "Monday", 67, dt.date(2026, 5, 15)),
        (dt.date(2026, 3, 10), "Tuesday", 66, dt.date(2026, 5, 15)),
        (dt.date(2026, 3, 11), "Wednesday", 65, dt.date(2026, 5, 15)),
        (dt.date(2026, 3, 12), "Thursday", 64, dt.date(2026, 5, 15)),
        # "Suivant" is strict: a Friday first round counts from the next Friday.
        (dt.date(2026, 3, 13), "Friday", 70, dt.date(2026, 5, 22)),
        # A Saturday first round (overseas) counts from that Saturday.
        (dt.date(2026, 3, 14), "Saturday", 69, dt.date(2026, 5, 22)),
        (dt.date(2026, 3, 15), "Sunday", 68, dt.date(2026, 5, 22)),
    ],
)
def test_deadline_day_count_by_weekday_of_first_round(
    first_round: dt.date, weekday: str, days: int, expected_deadline: dt.date
) -> None:
    assert first_round.strftime("%A") == weekday

    deadline = deposit_deadline(first_round)

    assert deadline.date() == expected_deadline
    assert (deadline.date() - first_round).days == days
    assert deadline.time() == dt.time(18, 0)


def test_saturday_and_sunday_of_same_weekend_share_the_deadline() -> None:
    saturday = deposit_deadline(dt.date(2026, 3, 14))
    sunday = deposit_deadline(dt.date(2026, 3, 15))

    assert saturday == sunday


def test_friday_first_round_does_not_count_itself() -> None:
    friday = dt.date(2026, 3, 13)

    assert deposit_deadline(friday).date() == friday + dt.timedelta(weeks=10)
    assert deposit_deadline(friday) > deposit_deadline(dt.date(2026, 3, 12))


@pytest.mark.parametrize(
    ("first_round", "expected_iso"),
    [
        # A first round in winter still has its deadline in winter (March 20, before DST).
        (dt.date(2026, 1, 11), "2026-03-20T18:00:00+01:00"),
        (dt.date(2026, 4, 12), "2026-06-19T18:00:00+02:00"),
        # Last Sunday of March 2026 is the 29th: the Friday before is winter, the one after summer.
        (dt.date(2026, 1, 18), "2026-03-27T18:00:00+01:00"),
        (dt.date(2026, 1, 25), "2026-04-03T18:00:00+02:00"),
        # Last Sunday of October 2026 is the 25th: the Friday before is summer, after is winter.
        (dt.date(2026, 8, 16), "2026-10-23T18:00:00+02:00"),
        (dt.date(2026, 8, 23), "2026-10-30T18:00:00+01:00"),
    ],
)
def test_deadline_offset_follows_daylight_saving_time(
    first_round: dt.date, expected_iso: str
) -> None:
    deadline = deposit_deadline(first_round)

    assert deadline.isoformat() == expected_iso


@pytest.mark.parametrize(
    ("first_round", "utc_offset", "utc_hour"),
    [
        (dt.date(2026, 8, 16), SUMMER, 16),
        (dt.date(2026, 8, 23), WINTER, 17),
        (dt.date(2026, 1, 18), WINTER, 17),
        (dt.date(2026, 1, 25), SUMMER, 16),
    ],
)
def test_deadline_is_18h_local_whatever_the_utc_hour(
    first_round: dt.date, utc_offset: dt.timedelta, utc_hour: int
) -> None:
    deadline = deposit_deadline(first_round)

    assert deadline.utcoffset() == utc_offset
    assert deadline.astimezone(dt.UTC).hour == utc_hour
    assert deadline.astimezone(dt.UTC).astimezone(PARIS).hour == 18


@given(first_round=dates)
def test_deadline_properties(first_round: dt.date) -> None:
    deadline = deposit_deadline(first_round)

    assert deadline.tzinfo is not None
    assert deadline.tzinfo == PARIS
    assert str(deadline.tzinfo) == "Europe/Paris"
    assert deadline.utcoffset() in {WINTER, SUMMER}
    assert deadline.weekday() == 4
    assert (deadline.hour, deadline.minute, deadline.second, deadline.microsecond) == (18, 0, 0, 0)
    # Local 18:00 stays 18:00 after a trip through UTC (no non-existent or folded time).
    assert deadline.astimezone(dt.UTC).astimezone(PARIS).time() == dt.time(18, 0)
    days = (deadline.date() - first_round).days
    assert 64 <= days <= 70
    assert deadline.date() > first_round
    fridays = [
        first_round + dt.timedelta(days=offset)
        for offset in range(1, days + 1)
        if (first_round + dt.timedelta(days=offset)).weekday() == 4
    ]
    assert len(fridays) == 10
    assert fridays[-1] == deadline.date()


@given(first_round=dates)
def test_deadline_moves_by_a_week_with_the_first_round(first_round: dt.date) -> None:
    later = first_round + dt.timedelta(weeks=1)

    assert deposit_deadline(later).date() == deposit_deadline(first_round).date() + dt.timedelta(
        weeks=1
    )


def test_paris_time_shows_the_same_instant_in_paris() -> None:
    moment = dt.datetime(2026, 5, 22, 16, 0, tzinfo=dt.UTC)

    local = paris_time(moment)

    assert local == moment
    assert local.isoformat() == "2026-05-22T18:00:00+02:00"


# --- eligible period -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_round", "expected"),
    [
        (dt.date(2026, 3, 15), dt.date(2025, 9, 1)),
        (dt.date(2026, 1, 1), dt.date(2025, 7, 1)),
        (dt.date(2026, 1, 31), dt.date(2025, 7, 1)),
        (dt.date(2026, 6, 14), dt.date(2025, 12, 1)),
        (dt.date(2026, 7, 5), dt.date(2026, 1, 1)),
        (dt.date(2026, 12, 31), dt.date(2026, 6, 1)),
        (dt.date(2024, 6, 30), dt.date(2023, 12, 1)),
        (dt.date(2024, 8, 31), dt.date(2024, 2, 1)),
    ],
)
def test_eligible_period_start(first_round: dt.date, expected: dt.date) -> None:
    assert eligible_period_start(first_round) == expected


@given(first_round=dates)
def test_eligible_period_start_is_first_day_six_months_before(first_round: dt.date) -> None:
    start = eligible_period_start(first_round)

    assert start.day == 1
    months_between = (first_round.year * 12 + first_round.month) - (start.year * 12 + start.month)
    assert months_between == 6
    assert start < first_round


@pytest.mark.parametrize(
    ("candidacy_declared_on", "last_round", "expected"),
    [
        # Declared before the legal start: the legal start wins.
        (dt.date(2025, 6, 1), dt.date(2026, 3, 15), (dt.date(2025, 9, 1), dt.date(2026, 3, 15))),
        # Declared on the legal start.
        (dt.date(2025, 9, 1), dt.date(2026, 3, 15), (dt.date(2025, 9, 1), dt.date(2026, 3, 15))),
        # Declared later: the declaration wins.
        (dt.date(2026, 1, 5), dt.date(2026, 3, 15), (dt.date(2026, 1, 5), dt.date(2026, 3, 15))),
        # Stood in the second round: the period runs until it.
        (dt.date(2026, 1, 5), dt.date(2026, 3, 22), (dt.date(2026, 1, 5), dt.date(2026, 3, 22))),
    ],
)
def test_eligible_period(
    candidacy_declared_on: dt.date,
    last_round: dt.date,
    expected: tuple[dt.date, dt.date],
) -> None:
    assert eligible_period(dt.date(2026, 3, 15), candidacy_declared_on, last_round) == expected


@given(first_round=dates, declared_offset=st.integers(min_value=-400, max_value=60))
def test_eligible_period_starts_at_the_later_of_both_dates(
    first_round: dt.date, declared_offset: int
) -> None:
    declared = first_round + dt.timedelta(days=declared_offset)

    start, end = eligible_period(first_round, declared, first_round)

    assert start == max(declared, eligible_period_start(first_round))
    assert start >= declared
    assert start >= eligible_period_start(first_round)
    assert end == first_round


# --- Answer delays and the decision due date (rules 1 and 5) -------------------------------------


def test_answer_delay_ends_at_23_59_59_paris_whatever_the_hour_sent() -> None:
    late_evening = dt.datetime(2026, 6, 1, 21, 30, tzinfo=dt.UTC)  # 23:30 in Paris, 1 June
    just_after_midnight = dt.datetime(2026, 6, 1, 22, 30, tzinfo=dt.UTC)  # 2 June in Paris
    assert end_of_day_paris(late_evening, 15) == dt.datetime(2026, 6, 16, 23, 59, 59, tzinfo=PARIS)
    assert end_of_day_paris(just_after_midnight, 15) == dt.datetime(
        2026, 6, 17, 23, 59, 59, tzinfo=PARIS
    )
    # Across the change to winter time (25 October 2026) the wall clock still says 23:59:59.
    assert end_of_day_paris(dt.datetime(2026, 10, 20, 10, tzinfo=dt.UTC), 15).utcoffset() == (
        dt.timedelta(hours=1)
    )


@given(st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2030, 12, 31)))
def test_decision_due_is_six_months_later_same_day_or_month_end(naive: dt.datetime) -> None:
    submitted = naive.replace(tzinfo=dt.UTC)
    local = submitted.astimezone(PARIS)
    due = decision_due(submitted).astimezone(PARIS)
    assert (due.year * 12 + due.month) - (local.year * 12 + local.month) == 6
    assert due.day == local.day or (due.day < local.day and (due + dt.timedelta(days=1)).day == 1)
    assert due > submitted


def test_decision_due_of_31_august_is_the_end_of_february() -> None:
    assert decision_due(dt.datetime(2027, 8, 31, 10, tzinfo=PARIS)).date() == dt.date(2028, 2, 29)
    assert decision_due(dt.datetime(2026, 8, 31, 10, tzinfo=PARIS)).date() == dt.date(2027, 2, 28)


@pytest.mark.parametrize(
    ("end", "last"),
    [
        # A span ending at 00:00 Paris: its last day is the day before, in winter and summer time,
        # and across both changes of the clocks.
        (dt.datetime(2026, 1, 15, 0, 0, tzinfo=PARIS), dt.date(2026, 1, 14)),
        (dt.datetime(2026, 3, 30, 0, 0, tzinfo=PARIS), dt.date(2026, 3, 29)),
        (dt.datetime(2026, 10, 26, 0, 0, tzinfo=PARIS), dt.date(2026, 10, 25)),
        (dt.datetime(2026, 7, 14, 22, 0, tzinfo=dt.UTC), dt.date(2026, 7, 14)),
        # An end inside a day (a test policy's short span): that day.
        (dt.datetime(2026, 7, 14, 9, 30, tzinfo=PARIS), dt.date(2026, 7, 14)),
    ],
)
def test_the_last_paris_day_of_a_span_is_the_day_of_its_last_second(
    end: dt.datetime, last: dt.date
) -> None:
    assert last_paris_day(end) == last


def test_the_last_paris_day_refuses_a_naive_end() -> None:
    with pytest.raises(ValueError, match="naive"):
        last_paris_day(dt.datetime(2026, 1, 15))
