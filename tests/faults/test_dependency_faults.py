"""Faults of the registry and the database on real processes, N = 10 cases each: nothing lost,
nothing duplicated, nothing stuck.

``bench/faults.py`` (``make faults``) runs the same scenarios at N = 100.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import scenarios

N = 10

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_registry_down_during_a_submission(workdir: Path) -> None:
    result = await scenarios.registry_down(workdir, N)
    assert result.detail["submitted"] == N
    assert result.detail["still_submitted"] == N
    assert (result.lost, result.duplicated, result.copies) == (0, 0, 0), result


@pytest.mark.skipif(not scenarios.POSTGRES_URL, reason="needs SECUPOL_TEST_POSTGRES_URL")
async def test_database_refusing_connections(workdir: Path) -> None:
    result = await scenarios.database_down(workdir, N)
    # Every API opening during the outage: 503, and no case started behind it.
    assert result.detail["api_during_outage"] == [(503, N)]
    assert result.detail["api_cases_started_during_outage"] == 0
    assert result.detail["api_after"] == [(201, N)]
    assert result.expected == 2 * N
    assert (result.lost, result.duplicated, result.copies) == (0, 0, 0), result
