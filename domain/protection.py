"""The dates of the élus' procedures: jours francs, the withdrawal window, the loan period.

Automatic functional protection (CGCT L. 2123-35, L. 3123-29, L. 4135-29, L. 2573-10; loi
2024-247 art. 5): the official is protected at the expiry of five jours francs from the receipt of
the request if, within that delay, the request was transmitted to the prefect and the council
members were informed; otherwise from the date both were done. Our reading of jours francs: the
day of receipt is not counted, five full days follow, protection starts the next day at 00:00
(Paris time). Whether a last day on a Saturday, a Sunday or a public holiday extends the delay to
the next working day is a setting (``extend_to_working_day``, off by default); public holidays are
those of France and, for an overseas département or collectivité (or Alsace-Moselle), its own,
from the ``holidays`` package.

Pure functions: every date comes in as an argument. What depends on the calendar and the
settings (``delay_end``) is computed once, outside the workflows, and carried in their input; the
workflows call only ``start_once_done`` and ``add_months``, plain arithmetic.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from collections.abc import Container

from domain.calendar import PARIS

JOURS_FRANCS = 5
"""Jours francs after the receipt of a functional-protection request."""
WITHDRAWAL_MONTHS = 4
"""The council may withdraw or abrogate the protection within four months of its start."""
ALERT_BUTTON_LOAN_MONTHS = 3
"""An alert button is lent for three months, renewable."""

_SUBDIVISIONS: dict[str, str] = {
    # Alsace-Moselle keeps Good Friday and 26 December.
    "57": "57",
    "67": "6AE",
    "68": "6AE",
    "971": "971",
    "972": "972",
    "973": "973",
    "974": "974",
    "975": "PM",
    "976": "976",
    "977": "BL",
    "978": "MF",
    "984": "TF",
    "986": "WF",
    "987": "PF",
    "988": "NC",
}
"""Département or collectivité code to the ``holidays`` package's French subdivision."""

SATURDAY = 5


def holiday_subdivision(departement: str | None) -> str | None:
    """The ``holidays`` subdivision of France whose public holidays apply, or None (mainland)."""
    if departement is None:
        return None
    return _SUBDIVISIONS.get(departement)


@functools.lru_cache(maxsize=64)
def _holidays(subdivision: str | None, year: int) -> frozenset[dt.date]:
    import holidays  # imported here: only the API's computations need the calendar data

    return frozenset(holidays.country_holidays("FR", subdiv=subdivision, years=year).keys())


def public_holidays(year: int, departement: str | None = None) -> frozenset[dt.date]:
    """The public holidays of France in ``year``, with those of ``departement``'s territory.

    Args:
        year: The calendar year.
        departement: A département or overseas collectivité code (``"971"``, ``"988"``,
            ``"67"``); None or a mainland code gives the national holidays.
    """
    return _holidays(holiday_subdivision(departement), year)


def is_working_day(day: dt.date, departement: str | None = None) -> bool:
    """Neither a Saturday, a Sunday nor a public holiday of ``departement``'s territory."""
    return day.weekday() < SATURDAY and day not in public_holidays(day.year, departement)


def delay_end(
    received_on: dt.date,
    *,
    extend_to_working_day: bool = False,
    departement: str | None = None,
    holidays: Container[dt.date] | None = None,
) -> dt.date:
    """The last day of the five jours francs that follow the receipt of a request.

    Args:
        received_on: The day the collectivité received the request (Paris date); not counted.
        extend_to_working_day: A last day on a Saturday, a Sunday or a public holiday moves to
            the next working day (the setting ``protection_extend_to_working_day``).
        departement: Whose public holidays count (overseas territories and Alsace-Moselle have
            their own); the national ones otherwise.
        holidays: The public holidays to use instead of the ``holidays`` package's (tests).

    Returns:
        ``received_on`` + 5 days, or the next working day after it when the setting is on.
    """
    last = received_on + dt.timedelta(days=JOURS_FRANCS)
    if not extend_to_working_day:
        return last

    def holiday(day: dt.date) -> bool:
        if holidays is not None:
            return day in holidays
        return day in public_holidays(day.year, departement)

    while last.weekday() >= SATURDAY or holiday(last):
        last += dt.timedelta(days=1)
    return last


def start_once_done(
    delay_ends_on: dt.date, transmitted_on: dt.date | None, informed_on: dt.date | None
) -> dt.date | None:
    """The first day of protection, given the last day of the delay and the two obligations.

    Both done on or before the last day: the day after it. Otherwise: the day the later of the
    two was done. None while either is not done.
    """
    if transmitted_on is None or informed_on is None:
        return None
    done = max(transmitted_on, informed_on)
    if done <= delay_ends_on:
        return delay_ends_on + dt.timedelta(days=1)
    return done


def protection_start(
    received_on: dt.date,
    transmitted_on: dt.date | None,
    informed_on: dt.date | None,
    *,
    extend_to_working_day: bool = False,
    departement: str | None = None,
) -> dt.date | None:
    """The first day of an official's automatic functional protection (from 00:00 Paris time).

    Args:
        received_on: The day the collectivité received the request.
        transmitted_on: The day the request was transmitted to the prefect, or None.
        informed_on: The day the council members were informed, or None.
        extend_to_working_day: See ``delay_end`` (default off, as the setting).
        departement: Whose public holidays count when the delay is extended.

    Returns:
        None while either obligation is not done; the day after the fifth jour franc when both
        were done within the delay; otherwise the day the later one was done.

    Raises:
        ValueError: an obligation dated before the receipt (the request did not exist yet).
    """
    for done in (transmitted_on, informed_on):
        if done is not None and done < received_on:
            raise ValueError("an obligation cannot be done before the request was received")
    last = delay_end(
        received_on, extend_to_working_day=extend_to_working_day, departement=departement
    )
    return start_once_done(last, transmitted_on, informed_on)


def received_day(instant: dt.datetime) -> dt.date:
    """The day a request received at ``instant`` counts as received: its date in Paris time.

    Raises:
        ValueError: a naive datetime (its day would depend on the machine's time zone).
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("naive datetime: the time zone of the receipt is unknown")
    return instant.astimezone(PARIS).date()


def start_of_day(day: dt.date) -> dt.datetime:
    """00:00 Paris time on ``day`` (a protection, a loan period or a window starts then)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=PARIS)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months; a missing day is the month's last (31 → 30)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def withdrawal_window_end(starts_on: dt.date) -> dt.datetime:
    """When the council can no longer withdraw or abrogate: four months after the start, 00:00.

    Protection began on ``starts_on`` at 00:00; the window of four months ends the same day four
    months later at 00:00 (that day is outside it).
    """
    return start_of_day(add_months(starts_on, WITHDRAWAL_MONTHS))


def loan_period_end(starts_on: dt.date, months: int = ALERT_BUTTON_LOAN_MONTHS) -> dt.datetime:
    """When an alert-button loan period that began on ``starts_on`` ends (00:00 Paris time)."""
    return start_of_day(add_months(starts_on, months))
