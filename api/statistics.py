"""Figures of the cases a staff member sees, and their bar charts as server-rendered SVG.

Pure functions of the rows the exports hold (``api.exports.CaseRow``) and of the time: nothing
here reads a case. The charts need no JavaScript; each is an ``<svg role="img">`` with a
``<title>`` and a description, and the page shows the same figures in a table next to it
(RGAA 1.3: a chart has a text alternative of its data).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape

from api.exports import CaseRow, Flag
from domain.calendar import PARIS
from domain.stages import STAGE_LABELS, Stage


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value and how the value is written."""

    label: str
    value: int
    text: str


@dataclass(frozen=True)
class Statistics:
    """The figures of a set of cases."""

    total: int
    by_stage: list[tuple[Stage, int]]
    """Cases per stage, in the procedure's order; stages without a case left out."""
    by_departement: list[tuple[str, int]]
    """Cases per département, by département code."""
    claimed_cents: int
    """Claimed by the cases whose claim the reader sees (none for a prefecture)."""
    decided_cents: int
    paid_cents: int
    decisions_due_this_month: int
    """Undecided cases whose decision is due in the current month (Paris)."""
    overdue: int

    def stage_bars(self) -> list[Bar]:
        return [Bar(STAGE_LABELS[stage], count, str(count)) for stage, count in self.by_stage]

    def departement_bars(self) -> list[Bar]:
        return [Bar(code, count, str(count)) for code, count in self.by_departement]

    def amount_bars(self) -> list[Bar]:
        return [
            Bar(label, cents, euros(cents))
            for label, cents in (
                ("Demandé", self.claimed_cents),
                ("Arrêté", self.decided_cents),
                ("Payé", self.paid_cents),
            )
        ]


def euros(cents: int) -> str:
    """An amount as a French reads it: ``12 345,67 €`` (narrow no-break spaces)."""
    whole, rest = divmod(cents, 100)
    grouped = f"{whole:,}".replace(",", "\u202f")
    return f"{grouped},{rest:02d}\u00a0€"


def compute(rows: Iterable[CaseRow], now: dt.datetime) -> Statistics:
    """The figures of ``rows`` at ``now``."""
    rows = list(rows)
    stages = Counter(row.stage for row in rows)
    departements = Counter(row.departement for row in rows)
    today = now.astimezone(PARIS).date()

    def due_this_month(row: CaseRow) -> bool:
        if row.decision_due is None or row.decided_at is not None or row.stage.is_terminal:
            return False
        due = row.decision_due.astimezone(PARIS).date()
        return (due.year, due.month) == (today.year, today.month)

    return Statistics(
        total=len(rows),
        by_stage=[(stage, stages[stage]) for stage in Stage if stages[stage]],
        by_departement=sorted(departements.items()),
        claimed_cents=sum(row.claimed_cents or 0 for row in rows),
        decided_cents=sum(row.decided_cents or 0 for row in rows),
        paid_cents=sum(row.paid_cents or 0 for row in rows),
        decisions_due_this_month=sum(1 for row in rows if due_this_month(row)),
        overdue=sum(1 for row in rows if Flag.OVERDUE in row.flags),
    )


_WIDTH = 720
_LABEL_WIDTH = 300
_VALUE_WIDTH = 110
_BAR_HEIGHT = 24
_GAP = 10
_BAR_COLOUR = "#000091"
"""Bleu France (DSFR): contrast 15.6:1 on white."""
_TEXT_COLOUR = "#161616"


def _shorten(label: str, limit: int = 42) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(
    chart_id: str, title: str, bars: list[Bar], describe: Callable[[Bar], str] | None = None
) -> str:
    """A horizontal bar chart as an accessible SVG element (markup, escaped).

    Args:
        chart_id: Unique in the page; prefixes the title and description ids.
        title: The chart's accessible name.
        bars: The bars, top to bottom.
        describe: One bar in words, for the description (``label : text`` by default).
    """
    describe = describe or (lambda bar: f"{bar.label} : {bar.text}")
    description = " ; ".join(describe(bar) for bar in bars) or "Aucune donnée."
    height = max(1, len(bars)) * (_BAR_HEIGHT + _GAP) + _GAP
    top = max((bar.value for bar in bars), default=0)
    span = _WIDTH - _LABEL_WIDTH - _VALUE_WIDTH
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="secupol-chart" role="img" '
        f'viewBox="0 0 {_WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for index, bar in enumerate(bars):
        y = _GAP + index * (_BAR_HEIGHT + _GAP)
        length = 0 if top == 0 else max(2, round(span * bar.value / top)) if bar.value else 0
        middle = y + _BAR_HEIGHT / 2
        parts += [
            f'<text x="{_LABEL_WIDTH - 8}" y="{middle}" text-anchor="end" '
            f'dominant-baseline="middle" font-size="14" fill="{_TEXT_COLOUR}">'
            f"{escape(_shorten(bar.label))}</text>",
            f'<rect x="{_LABEL_WIDTH}" y="{y}" width="{length}" height="{_BAR_HEIGHT}" '
            f'fill="{_BAR_COLOUR}"/>',
            f'<text x="{_LABEL_WIDTH + length + 6}" y="{middle}" dominant-baseline="middle" '
            f'font-size="14" fill="{_TEXT_COLOUR}">{escape(bar.text)}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)
