"""Recording of replay histories: ``make histories LABEL=v3`` runs the marked scenarios with
``SECUPOL_RECORD_HISTORIES=v3`` and writes each of their workflow histories as
``tests/workflows/histories/v3-<scenario>-<n>.json``, which ``test_replay.py`` replays on every
run. Histories of earlier labels stay: running cases started under those versions must replay."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from tests.workflows.steps import write_histories


@pytest.fixture(autouse=True)
async def record_history(
    request: pytest.FixtureRequest, task_queue: str, client: Client
) -> AsyncIterator[None]:
    yield
    label = os.environ.get("SECUPOL_RECORD_HISTORIES")
    if not label:
        return
    marker = request.node.get_closest_marker("record_history")
    if marker is None:
        return
    await write_histories(client, task_queue, label, marker.args[0])
