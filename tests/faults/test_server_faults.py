"""Faults of the Temporal server on real processes, N = 10 cases: nothing lost, nothing
duplicated, and the deadline that fell due during the outage fires once.

``bench/faults.py`` (``make faults``) runs the same scenarios at N = 100.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import scenarios

N = 10

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_temporal_server_killed_and_restarted_on_its_file(workdir: Path) -> None:
    result = await scenarios.temporal_restart(workdir, N)
    assert (result.lost, result.duplicated, result.copies) == (0, 0, 0), result
    # The deadline that fell due during the outage fired once per case.
    assert result.detail["candidates_told"] == N
    assert result.detail["administration_delay_per_candidate"] == [1]
