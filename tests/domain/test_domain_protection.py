"""Jours francs of the automatic functional protection, against DOMAIN.md's reading.

"The day of receipt is not counted, five full days follow, protection starts the next day at
00:00; if either obligation was done late, from the day the later one was done; a last day on a
weekend or public holiday extends the delay only when the setting says so."
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import PARIS
from domain.protection import (
    add_months,
    delay_end,
    is_working_day,
    loan_period_end,
    protection_start,
    public_holidays,
    received_day,
    start_of_day,
    start_once_done,
    withdrawal_window_end,
)

DAY = dt.timedelta(days=1)
dates = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2035, 12, 31))
offsets = st.integers(min_value=0, max_value=40)


def reference_start(
    received: dt.date, transmitted: dt.date | None, informed: dt.date | None
) -> dt.date | None:
    """DOMAIN.md's reading, written out day by day (no extension)."""
    if transmitted is None or informed is None:
        return None
    counted = [received + DAY * n for n in range(1, 6)]  # five full days after the receipt
    if max(transmitted, informed) <= counted[-1]:
        return counted[-1] + DAY
    return max(transmitted, informed)


# Monday 1 June to Sunday 7 June 2026: no public holiday near; holidays are checked below.
WEEK = [dt.date(2026, 6, 1) + DAY * n for n in range(7)]


@pytest.mark.parametrize("received", WEEK, ids=[d.strftime("%A") for d in WEEK])
def test_receipt_on_every_weekday_starts_on_the_sixth_day(received: dt.date) -> None:
    # Both done on the day of receipt, on the last day, and the day after it.
    assert protection_start(received, received, received) == received + 6 * DAY
    assert protection_start(received, received + 5 * DAY, received + DAY) == received + 6 * DAY
    late = received + 6 * DAY
    assert protection_start(received, late, received) == late
    assert protection_start(received, received, late + DAY) == late + DAY
    assert protection_start(received, None, received) is None
    assert protection_start(received, received, None) is None


@pytest.mark.parametrize("received", WEEK, ids=[d.strftime("%A") for d in WEEK])
def test_extension_setting_on_every_weekday(received: dt.date) -> None:
    start = protection_start(received, received, received, extend_to_working_day=True)
    last = received + 5 * DAY
    while last.weekday() >= 5:
        last += DAY
    assert start == last + DAY
    # Off by default: the weekend changes nothing.
    assert protection_start(received, received, received) == received + 6 * DAY


@given(received=dates, transmitted=offsets, informed=offsets)
def test_agrees_with_the_day_by_day_reading(received: dt.date, transmitted: int, informed: int):
    t, i = received + transmitted * DAY, received + informed * DAY
    assert protection_start(received, t, i) == reference_start(received, t, i)


@given(received=dates, transmitted=offsets, informed=offsets)
def test_extension_only_moves_a_last_day_off_a_closed_day(
    received: dt.date, transmitted: int, informed: int
) -> None:
    t, i = received + transmitted * DAY, received + informed * DAY
    last = delay_end(received, extend_to_working_day=True)
    assert last >= received + 5 * DAY
    assert is_working_day(last)
    # Every day between the fifth and the extended last day is a closed one.
    day = received + 5 * DAY
    while day < last:
        assert not is_working_day(day)
        day += DAY
    start = protection_start(received, t, i, extend_to_working_day=True)
    plain = protection_start(received, t, i)
    assert start is not None and plain is not None
    assert start >= plain  # the setting never shortens the delay
    assert start == start_once_done(last, t, i)


def test_a_holiday_inside_the_window_does_not_extend_it() -> None:
    # Received Thursday 30 April 2026: 1 May (Friday) is inside the five days, the last day is
    # Tuesday 5 May, a working day: the delay ends there with or without the setting.
    received = dt.date(2026, 4, 30)
    assert dt.date(2026, 5, 1) in public_holidays(2026)
    assert protection_start(received, received, received) == dt.date(2026, 5, 6)
    assert protection_start(received, received, received, extend_to_working_day=True) == dt.date(
        2026, 5, 6
    )


def test_a_last_day_on_a_holiday_extends_only_with_the_setting() -> None:
    # Received Sunday 3 May 2026: the fifth day is Friday 8 May (Victoire 1945), then a weekend.
    received = dt.date(2026, 5, 3)
    assert protection_start(received, received, received) == dt.date(2026, 5, 9)
    assert protection_start(received, received, received, extend_to_working_day=True) == dt.date(
        2026, 5, 12
    )
    # Done on Monday 11 May: late without the setting, in time with it.
    monday = dt.date(2026, 5, 11)
    assert protection_start(received, monday, received) == monday
    assert protection_start(received, monday, received, extend_to_working_day=True) == dt.date(
        2026, 5, 12
    )


def test_overseas_and_alsace_moselle_holidays() -> None:
    # 27 May: abolition of slavery in Guadeloupe, not a holiday in mainland France.
    guadeloupe_day = dt.date(2026, 5, 27)
    assert guadeloupe_day in public_holidays(2026, "971")
    assert guadeloupe_day not in public_holidays(2026)
    received = guadeloupe_day - 5 * DAY
    assert (
        protection_start(
            received, received, received, extend_to_working_day=True, departement="971"
        )
        == guadeloupe_day + 2 * DAY
    )
    assert (
        protection_start(received, received, received, extend_to_working_day=True, departement="60")
        == guadeloupe_day + DAY
    )
    # 26 December in Alsace-Moselle (Saturday in 2026, so look at 2025: a Friday).
    assert dt.date(2025, 12, 26) in public_holidays(2025, "67")
    assert dt.date(2025, 12, 26) not in public_holidays(2025, "75")


@pytest.mark.parametrize(
    "received",
    [dt.date(2026, 3, 24), dt.date(2026, 3, 28), dt.date(2026, 10, 20), dt.date(2026, 10, 24)],
    ids=["before-spring-change", "eve-of-spring-change", "before-autumn-change", "eve-of-autumn"],
)
def test_across_both_dst_changes_protection_starts_at_midnight_paris(received: dt.date) -> None:
    start = protection_start(received, received, received)
    assert start == received + 6 * DAY
    begins = start_of_day(start)
    assert begins.tzinfo is PARIS and (begins.hour, begins.minute) == (0, 0)
    # Six calendar days: an hour fewer (spring) or more (autumn) in UTC across a change.
    received_at = start_of_day(received)
    shift = (begins.utcoffset() or DAY) - (received_at.utcoffset() or DAY)
    assert begins.astimezone(dt.UTC) - received_at.astimezone(dt.UTC) == 6 * DAY - shift
    assert abs(shift) == dt.timedelta(hours=1)  # each window crosses a change


@given(
    instant=st.datetimes(
        min_value=dt.datetime(2024, 1, 1),
        max_value=dt.datetime(2035, 12, 31),
        timezones=st.just(dt.UTC),
    )
)
def test_the_day_of_receipt_is_the_paris_date(instant: dt.datetime) -> None:
    day = received_day(instant)
    assert day == instant.astimezone(PARIS).date()
    assert start_of_day(day) <= instant < start_of_day(day + DAY)


@pytest.mark.parametrize(
    ("utc", "paris_day"),
    [
        # Midnight in Paris is still the previous day in UTC (winter +1, summer +2).
        (dt.datetime(2026, 1, 14, 23, 0, tzinfo=dt.UTC), dt.date(2026, 1, 15)),
        (dt.datetime(2026, 1, 14, 22, 59, 59, tzinfo=dt.UTC), dt.date(2026, 1, 14)),
        (dt.datetime(2026, 7, 14, 22, 0, tzinfo=dt.UTC), dt.date(2026, 7, 15)),
        (dt.datetime(2026, 7, 14, 21, 59, 59, tzinfo=dt.UTC), dt.date(2026, 7, 14)),
        # The nights of the changes.
        (dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC), dt.date(2026, 3, 29)),
        (dt.datetime(2026, 10, 24, 22, 0, tzinfo=dt.UTC), dt.date(2026, 10, 25)),
    ],
)
def test_midnight_receipts_in_paris_time(utc: dt.datetime, paris_day: dt.date) -> None:
    assert received_day(utc) == paris_day
    assert protection_start(received_day(utc), paris_day, paris_day) == paris_day + 6 * DAY


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError):
        received_day(dt.datetime(2026, 1, 1, 12, 0))


def test_an_obligation_before_the_receipt_is_refused() -> None:
    with pytest.raises(ValueError):
        protection_start(dt.date(2026, 6, 2), dt.date(2026, 6, 1), dt.date(2026, 6, 2))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2026, 10, 31), 4, dt.date(2027, 2, 28)),
        (dt.date(2027, 10, 31), 4, dt.date(2028, 2, 29)),
        (dt.date(2026, 11, 15), 3, dt.date(2027, 2, 15)),
        (dt.date(2026, 6, 12), 4, dt.date(2026, 10, 12)),
    ],
)
def test_add_months(day: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(day, months) == expected


def test_withdrawal_window_and_loan_period_end_at_midnight_paris() -> None:
    end = withdrawal_window_end(dt.date(2026, 6, 12))
    assert end == dt.datetime(2026, 10, 12, tzinfo=PARIS)
    assert loan_period_end(dt.date(2026, 1, 10)) == dt.datetime(2026, 4, 10, tzinfo=PARIS)
