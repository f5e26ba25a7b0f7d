"""Faults of the worker and of the SMTP relay on real processes, N = 10 cases each: nothing
lost, nothing duplicated, nothing stuck.

``bench/faults.py`` (``make faults``) runs the same scenarios at N = 100.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import scenarios

N = 10

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_worker_sigkill_with_emails_in_flight(workdir: Path) -> None:
    result = await scenarios.worker_sigkill(workdir, N)
    assert result.expected == 2 * N
    assert (result.lost, result.duplicated) == (0, 0), result
    assert result.delivered == result.expected
    # The first kill hit the window SMTP cannot close: the relay had the message, the worker
    # never heard its 250. The retry sent it again, byte for byte: one message for a receiver.
    assert result.copies >= 1, result


async def test_smtp_down_then_back(workdir: Path) -> None:
    result = await scenarios.smtp_down(workdir, N)
    assert result.expected == 2 * N
    assert (result.lost, result.duplicated, result.copies) == (0, 0, 0), result
