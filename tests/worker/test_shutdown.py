"""SIGTERM lets the activities under way finish: an email in the middle of SMTP is delivered once
and marked sent, not cut after the relay may have taken it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import email_outbox
from domain.contracts import NotificationStatus
from tests.faults.scenarios import open_cases, running_stack
from tests.faults.stack import deliveries
from tests.helpers import assert_eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def test_sigterm_lets_an_email_in_the_middle_of_smtp_finish(tmp_path: Path) -> None:
    async with running_stack(tmp_path / "stack") as stack:
        # The relay takes 2 s to answer the end of DATA: SIGTERM arrives in the middle.
        stack.mailbox.handler.delay = 2.0
        opening = asyncio.create_task(open_cases(stack, 1))

        async def in_smtp() -> None:
            async with stack.engine.connect() as connection:
                statuses = (await connection.execute(select(email_outbox.c.status))).scalars()
                assert list(statuses) == ["sending"]

        await assert_eventually(in_smtp, timeout=60, interval=0.02)
        await asyncio.sleep(0.5)  # the session is under way, the relay still thinking
        exit_code = await asyncio.to_thread(stack.worker.terminate, 60)
        assert exit_code == 0
        # Nothing else has run since: the worker finished the send before exiting.
        async with stack.engine.connect() as connection:
            row = (await connection.execute(select(email_outbox))).one()
        assert (row.status, row.attempts) == ("sent", 1)
        copies, _ = deliveries(stack.mailbox.store)
        assert list(copies.values()) == [1]

        # Restarted, the worker reports nothing more: the case sees one email, sent.
        stack.worker.start()
        (case_id,) = await opening

        async def marked_sent() -> None:
            state = await stack.cases.state(case_id)
            assert [r.status for r in state.notifications] == [NotificationStatus.SENT]

        await assert_eventually(marked_sent, timeout=90, interval=0.2)
        copies, _ = deliveries(stack.mailbox.store)
        assert list(copies.values()) == [1]
