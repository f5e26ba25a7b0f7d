"""The invoice claims of many cases are synced and read in the same few statements whatever the
number of cases (what an export of a thousand cases relies on), on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from core import invoices
from domain.expenses import ALL_CERTIFIED, ExpenseCategory, ExpenseLine

CASES = 400


def line(line_id: str, invoice: str) -> ExpenseLine:
    return ExpenseLine(
        line_id=line_id,
        added_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
        category=ExpenseCategory.PREMISES_SECURITY,
        company_name="Gardiennage Picard SARL (fictif)",
        siren="732829320",
        cnaps_authorisation="AUT-060-2124-07-01-20250906336",
        invoice_reference=invoice,
        service_start=dt.date(2026, 2, 1),
        service_end=dt.date(2026, 3, 1),
        amount_cents=100_000,
        document_refs=["doc"],
        certification=ALL_CERTIFIED,
    )


@contextlib.contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs meanwhile."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_many_cases_in_a_few_statements(app_engine: AsyncEngine) -> None:
    # Each case has an invoice of its own; cases 0 and 1 also share one.
    lines = {
        f"case-{number}": [line(f"l{number}", f"F-{number}")]
        + ([line(f"s{number}", "F-COMMUNE")] if number < 2 else [])
        for number in range(CASES)
    }
    with statements(app_engine) as first:
        await invoices.sync_cases(app_engine, lines)
    assert len(first) <= 2, first  # one read, one insertion (in pages of the driver's size)

    # Nothing changed: one read. A line removed and one changed: one read, one deletion, one
    # insertion.
    with statements(app_engine) as again:
        await invoices.sync_cases(app_engine, lines)
    assert len(again) == 1
    lines["case-5"] = []
    lines["case-6"] = [line("l6", "F-COMMUNE")]
    with statements(app_engine) as changed:
        await invoices.sync_cases(app_engine, lines)
    assert len(changed) == 3, changed

    with statements(app_engine) as read:
        found = await invoices.duplicates_of(app_engine, list(lines))
    assert len(read) == 1
    assert found == {
        "case-0": {"s0": ["case-1", "case-6"]},
        "case-1": {"s1": ["case-0", "case-6"]},
        "case-6": {"l6": ["case-0", "case-1"]},
    }
    # One case, as its page reads it: the same answer.
    assert await invoices.duplicates(app_engine, "case-6") == {"l6": ["case-0", "case-1"]}
