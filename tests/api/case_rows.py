"""Case rows made by hand, for the pure tests of the exports, statistics and staff pages."""

from __future__ import annotations

import datetime as dt

from api.exports import CaseRow, Flag
from domain.stages import Stage

NOW = dt.datetime(2026, 11, 15, 10, 0, tzinfo=dt.UTC)


def row(
    case_id: str,
    stage: Stage,
    departement: str = "60",
    *,
    claimed: int | None = None,
    decided: int | None = None,
    paid: int | None = None,
    decision_due: dt.datetime | None = None,
    decided_at: dt.datetime | None = None,
    flags: frozenset[Flag] = frozenset(),
    election_label: str = "Municipales",
) -> CaseRow:
    return CaseRow(
        case_id=case_id,
        election_id="muni-2026",
        election_label=election_label,
        departement=departement,
        stage=stage,
        opened_at=dt.datetime(2026, 1, 5, 8, 30, tzinfo=dt.UTC),
        evaluated_on=dt.date(2026, 1, 20),
        deposit_deadline=dt.datetime(2026, 5, 22, 16, 0, tzinfo=dt.UTC),
        submitted_at=None,
        decision_due=decision_due,
        decided_at=decided_at,
        paid_on=None,
        claimed_cents=claimed,
        decided_cents=decided,
        paid_cents=paid,
        threat_level=1,
        next_deadline=None,
        flags=flags,
    )


ROWS = [
    row("a", Stage.PAID, claimed=840_000, decided=840_000, paid=840_000),
    row(
        "b",
        Stage.SUBMITTED,
        "75",
        claimed=450_000,
        decision_due=dt.datetime(2026, 11, 30, 22, 59, tzinfo=dt.UTC),
        flags=frozenset({Flag.DUPLICATE_INVOICE}),
    ),
    row(
        "c",
        Stage.UNDER_REVIEW,
        claimed=100_000,
        # 23:30 UTC on 30 November is 1 December in Paris: not this month.
        decision_due=dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC),
        flags=frozenset({Flag.OVERDUE}),
    ),
    row("d", Stage.SUBMITTED, "2A", claimed=50_000),
]
