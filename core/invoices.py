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
from collections.abc import Sequence

from sqlalchemy import and_, delete, insert, select
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
    claimed = await _claimed_lines(engine, case_id)
    current = {line.line_id: invoice_key(line.siren, line.invoice_reference) for line in lines}
    for line_id, key in current.items():
        if claimed.get(line_id) != key:
            if line_id in claimed:
                await release(engine, case_id, line_id)
            await _insert(engine, case_id, line_id, key)
    for line_id in claimed.keys() - current.keys():
        await release(engine, case_id, line_id)


async def duplicates(engine: AsyncEngine, case_id: str) -> dict[str, list[str]]:
    """For each line of a case whose invoice another case claims: the other cases' ids."""
    mine = invoice_claims.alias("mine")
    other = invoice_claims.alias("other")
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(mine.c.line_id, other.c.case_id)
            .join(
                other,
                and_(other.c.invoice_key == mine.c.invoice_key, other.c.case_id != mine.c.case_id),
            )
            .where(mine.c.case_id == case_id)
            .distinct()
            .order_by(mine.c.line_id, other.c.case_id)
        )
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.line_id, []).append(row.case_id)
        return found
