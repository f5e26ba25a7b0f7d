"""Invoices claimed across cases: the same invoice (SIREN and reference) in two cases is flagged
to the CNCCFP (rule 8).

A case's lines live in its workflow; the ``invoice_claims`` table only indexes which invoice each
line claims, so that the other cases claiming it are found without reading every case. The API
claims a line when it is added, releases it when it is removed, and brings a case's claims in
line with its lines (``sync``) whenever the CNCCFP reads it, so that a claim lost to an outage
is made again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import invoice_claims
from domain.expenses import ExpenseLine, ExpenseLineDraft, invoice_key


async def _claimed_lines(engine: AsyncEngine, case_id: str) -> dict[str, str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(invoice_claims.c.line_id, invoice_claims.c.invoice_key).where(
                invoice_claims.c.case_id == case_id
            )
        )
        return {row.line_id: row.invoice_key for row in rows}


async def _insert(engine: AsyncEngine, case_id: str, line_id: str, key: str) -> None:
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(invoice_claims).values(
                    case_id=case_id,
                    line_id=line_id,
                    invoice_key=key,
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
    except IntegrityError:
        # A concurrent request (a retry) claimed the line first: the claim is there.
        pass


async def claim(
    engine: AsyncEngine, case_id: str, draft: ExpenseLineDraft, lines: Sequence[ExpenseLine]
) -> str | None:
    """Record the invoice of the line just added to a case.

    Args:
        engine: The app database.
        case_id: The case.
        draft: The line as it was sent.
        lines: The case's lines after the addition.

    Returns:
        The id of the line claimed: the one with the draft's invoice not claimed yet (None if
        there is none, for a retried request).
    """
    key = invoice_key(draft.siren, draft.invoice_reference)
    claimed = await _claimed_lines(engine, case_id)
    for line in lines:
        if line.line_id not in claimed and invoice_key(line.siren, line.invoice_reference) == key:
            await _insert(engine, case_id, line.line_id, key)
            return line.line_id
    return None


async def release(engine: AsyncEngine, case_id: str, line_id: str) -> None:
    """Forget the claim of a line removed from its case."""
    async with engine.begin() as connection:
        await connection.execute(
            delete(invoice_claims).where(
                invoice_claims.c.case_id == case_id, invoice_claims.c.line_id == line_id
            )
        )


async def sync(engine: AsyncEngine, case_id: str, lines: Sequence[ExpenseLine]) -> None:
    """Bring a case's claims in line with its lines: claim the missing, release the gone."""
    await sync_cases(engine, {case_id: lines})


async def sync_cases(
    engine: AsyncEngine, lines_by_case: Mapping[str, Sequence[ExpenseLine]]
) -> None:
    """``sync`` for many cases at once, in the same few statements whatever their number (an
    export of a thousand cases): one read of their claims, then one deletion of the claims gone
    or changed and one insertion of those missing, if any. A claim a concurrent request made
    first is left as it is."""
    if not lines_by_case:
        return
    current = {
        (case_id, line.line_id): invoice_key(line.siren, line.invoice_reference)
        for case_id, lines in lines_by_case.items()
        for line in lines
    }
    async with engine.begin() as connection:
        rows = await connection.execute(
            select(
                invoice_claims.c.case_id, invoice_claims.c.line_id, invoice_claims.c.invoice_key
            ).where(invoice_claims.c.case_id.in_(list(lines_by_case)))
        )
        claimed = {(row.case_id, row.line_id): row.invoice_key for row in rows}
        stale = [pair for pair, key in claimed.items() if current.get(pair) != key]
        missing = [pair for pair, key in current.items() if claimed.get(pair) != key]
        if stale:
            await connection.execute(
                delete(invoice_claims).where(
                    tuple_(invoice_claims.c.case_id, invoice_claims.c.line_id).in_(stale)
                )
            )
        if missing:
            now = dt.datetime.now(dt.UTC)
            await connection.execute(
                _insert_if_absent(connection.dialect.name),
                [
                    {
                        "case_id": case_id,
                        "line_id": line_id,
                        "invoice_key": current[(case_id, line_id)],
                        "created_at": now,
                    }
                    for case_id, line_id in missing
                ],
            )


def _insert_if_absent(dialect: str) -> Any:
    """An insertion into ``invoice_claims`` that leaves a row already there (both databases
    say it the same way, each with its own dialect's construct)."""
    if dialect == "postgresql":
        return postgresql.insert(invoice_claims).on_conflict_do_nothing()
    return sqlite.insert(invoice_claims).on_conflict_do_nothing()


async def duplicates(engine: AsyncEngine, case_id: str) -> dict[str, list[str]]:
    """For each line of a case whose invoice another case claims: the other cases' ids."""
    return (await duplicates_of(engine, [case_id])).get(case_id, {})


async def duplicates_of(
    engine: AsyncEngine, case_ids: Sequence[str]
) -> dict[str, dict[str, list[str]]]:
    """``duplicates`` of many cases, in one query whatever their number: case id to line id to
    the other cases claiming the line's invoice (a case without any is absent)."""
    if not case_ids:
        return {}
    mine = invoice_claims.alias("mine")
    other = invoice_claims.alias("other")
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(mine.c.case_id, mine.c.line_id, other.c.case_id.label("other_case_id"))
            .join(
                other,
                and_(other.c.invoice_key == mine.c.invoice_key, other.c.case_id != mine.c.case_id),
            )
            .where(mine.c.case_id.in_(list(case_ids)))
            .distinct()
            .order_by(mine.c.case_id, mine.c.line_id, other.c.case_id)
        )
        found: dict[str, dict[str, list[str]]] = {}
        for row in rows:
            found.setdefault(row.case_id, {}).setdefault(row.line_id, []).append(row.other_case_id)
        return found
