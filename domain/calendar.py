"""Legal dates of the procedure (code électoral L. 52-18-3, R. 39-13).

Pure functions: the caller passes every date in (the workflow passes ``workflow.now()``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
"""Legal time of the deposit deadline."""

DEPOSIT_DEADLINE_TIME = dt.time(18, 0)
FRIDAY = 4
DEPOSIT_DEADLINE_FRIDAYS = 10
ELIGIBLE_PERIOD_MONTHS = 6


def deposit_deadline(first_round: dt.date) -> dt.datetime:
    """Deadline to deposit the request: 18:00 Paris time, tenth Friday after the first round.

    "Suivant" is strict: a Friday first round counts from the next Friday. A Saturday first round
    (some overseas territories vote the day before) counts from that Saturday like any other day.

    Args:
        first_round: Date of the first round of the election.

    Returns:
        A timezone-aware datetime in Europe/Paris (64 to 70 days after the first round).
    """
    days_to_first_friday = (FRIDAY - first_round.weekday()) % 7 or 7
    tenth_friday = first_round + dt.timedelta(
        days=days_to_first_friday, weeks=DEPOSIT_DEADLINE_FRIDAYS - 1
    )
    return dt.datetime.combine(tenth_friday, DEPOSIT_DEADLINE_TIME, tzinfo=PARIS)


def eligible_period_start(first_round: dt.date) -> dt.date:
    """First day of the sixth month before the month of the first round.

    Args:
        first_round: Date of the first round (15 March 2026 gives 1 September 2025).
    """
    months = first_round.year * 12 + (first_round.month - 1) - ELIGIBLE_PERIOD_MONTHS
    return dt.date(months // 12, months % 12 + 1, 1)


def eligible_period(
    first_round: dt.date,
    candidacy_declared_on: dt.date,
    last_round_attended: dt.date,
) -> tuple[dt.date, dt.date]:
    """Inclusive dates between which a security service is eligible for reimbursement.

    From the later of the legal start and the public declaration of candidacy, up to the last
    round the candidate took part in.

    Args:
        first_round: Date of the first round.
        candidacy_declared_on: Date the candidacy was made public (or a mandataire declared).
        last_round_attended: Date of the last round the candidate stood in.
    """
    start = max(eligible_period_start(first_round), candidacy_declared_on)
    return start, last_round_attended


DECISION_DELAY_MONTHS = 6
"""L. 52-15 al. 2, applied by L. 52-18-3: the CNCCFP decides within six months of the deposit."""
END_OF_DAY = dt.time(23, 59, 59)


def end_of_day_paris(moment: dt.datetime, days: int) -> dt.datetime:
    """The end (23:59:59, Paris time) of the day ``days`` days after ``moment``'s Paris day.

    How an answer delay in days is read: a delay of 15 days given on 1 June ends on 16 June at
    23:59:59 Paris time, whatever the hour the observations were sent.

    Raises:
        ValueError: ``moment`` is naive.
    """
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    day = moment.astimezone(PARIS).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, END_OF_DAY, tzinfo=PARIS)


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same Paris wall-clock time ``months`` later; a day missing in that month becomes its
    last day (31 August + 6 months = 28 or 29 February).

    Raises:
        ValueError: ``moment`` is naive.
    """
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    local = moment.astimezone(PARIS)
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_month = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_month - dt.timedelta(days=1)).day
    day = min(local.day, last_day)
    return dt.datetime.combine(dt.date(year, month, day), local.time(), tzinfo=PARIS)


def decision_due(submitted_at: dt.datetime, months: int = DECISION_DELAY_MONTHS) -> dt.datetime:
    """When the CNCCFP's decision is due: six months after the deposit (rule 5)."""
    return add_months(submitted_at, months)


FRENCH_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
FRENCH_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def french_date(value: dt.date) -> str:
    """A date as French letters write it: ``22 mai 2026``, ``1er juin 2026``."""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {FRENCH_MONTHS[value.month - 1]} {value.year}"


def paris_time(moment: dt.datetime) -> dt.datetime:
    """The same instant in Paris time (for messages read by people)."""
    return moment.astimezone(PARIS)


def last_paris_day(end: dt.datetime) -> dt.date:
    """The last day of a span that ends at ``end``, in Paris: the day of its last second.

    The élus' spans (jours francs, the four months of withdrawal, a loan period) end at 00:00
    Paris time of the day after their last day, so that day is the one printed and checked.

    Raises:
        ValueError: ``end`` is naive.
    """
    if end.tzinfo is None:
        raise ValueError("naive datetime")
    return (end - dt.timedelta(seconds=1)).astimezone(PARIS).date()
