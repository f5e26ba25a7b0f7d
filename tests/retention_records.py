"""Records a closed case leaves in the app database, for the retention tests (workflow and CLI).

``insert_message`` is the one place these tests write a case message, through the store the
API uses (encrypted at rest).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import (
    accounts,
    case_closures,
    case_messages,
    documents,
    email_outbox,
    invoice_claims,
)
from core.messages import CaseMessage, MessageStore
from core.settings import Settings
from core.storage import DocumentStorage
from domain.documents import DocumentKind
from domain.retention import ClosureOutcome
from embedded.demo import upload_sample


async def insert_message(engine: AsyncEngine, case_id: str, author_id: str) -> None:
    """One message on the case, as the API would store it (the purge never decrypts it)."""
    await MessageStore(engine, Settings()).write(
        CaseMessage(
            message_id=f"msg{uuid.uuid4().hex}",
            case_id=case_id,
            author_id=author_id,
            author_role="candidate",
            body="Bonjour, voici ma facture.",
            created_at=dt.datetime.now(dt.UTC),
        )
    )


async def seed_case_records(
    engine: AsyncEngine, storage: DocumentStorage, case_id: str, candidate_id: str
) -> str:
    """The candidate's account, a document, a message, an email and an invoice claim of the case;
    returns the document's object key."""
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as connection:
        exists = (
            await connection.execute(
                select(accounts.c.account_id).where(accounts.c.account_id == candidate_id)
            )
        ).first()
        if exists is None:
            await connection.execute(
                insert(accounts).values(
                    account_id=candidate_id,
                    email=f"{candidate_id}@example.test",
                    display_name="Camille Martin",
                    role="candidate",
                    created_at=now,
                )
            )
        await connection.execute(
            insert(email_outbox).values(
                idempotency_key=f"{case_id}:test:{uuid.uuid4().hex}",
                template="test",
                recipient=f"{candidate_id}@example.test",
                message_id="<test@example.test>",
                status="sent",
                attempts=1,
                created_at=now,
            )
        )
        await connection.execute(
            insert(invoice_claims).values(
                case_id=case_id,
                line_id=f"line-{uuid.uuid4().hex}",
                invoice_key="732829320:fact-1",
                created_at=now,
            )
        )
    await insert_message(engine, case_id, candidate_id)
    document_id = await upload_sample(storage, case_id, DocumentKind.INVOICE, "facture.pdf")
    async with engine.connect() as connection:
        key: str = (
            await connection.execute(
                select(documents.c.object_key).where(documents.c.document_id == document_id)
            )
        ).scalar_one()
    return key


async def insert_closure(
    engine: AsyncEngine,
    case_id: str,
    outcome: ClosureOutcome,
    closed_at: dt.datetime,
    purge_due_at: dt.datetime,
) -> None:
    """A closure as ``record_closures`` writes it."""
    async with engine.begin() as connection:
        await connection.execute(
            insert(case_closures).values(
                case_id=case_id,
                outcome=outcome.value,
                closed_at=closed_at,
                recorded_at=closed_at,
                purge_due_at=purge_due_at,
            )
        )


async def count_rows(engine: AsyncEngine, case_id: str) -> dict[str, int]:
    """Rows the case still has, table by table."""
    counts: dict[str, int] = {}
    async with engine.connect() as connection:
        for table in (documents, case_messages, invoice_claims):
            counts[table.name] = (
                await connection.execute(
                    select(func.count()).select_from(table).where(table.c.case_id == case_id)
                )
            ).scalar_one()
        counts["email_outbox"] = (
            await connection.execute(
                select(func.count())
                .select_from(email_outbox)
                .where(email_outbox.c.idempotency_key.startswith(f"{case_id}:"))
            )
        ).scalar_one()
    return counts
