"""Replay of committed histories: a change that would break running cases fails here.

If this fails after a change of workflow logic, guard the change with ``workflow.patched("…")``
so that running cases keep their old path. Record the new behaviour under a new label (``make
histories LABEL=vN``) and keep every older label: each is a version cases may be running on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.settings import Settings
from core.temporal import data_converter
from workflows import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_committed() -> None:
    # Scenarios recorded: the whole case, time bar with reminders, contradictory rounds,
    # payment follow-up, withdrawal, re-examination, operator corrections.
    assert len(HISTORIES) >= 7, "run `make histories LABEL=vN`, commit tests/workflows/histories/"


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_replay(path: Path, settings: Settings) -> None:
    # The converter of the clients that recorded the histories: histories recorded before
    # payload encryption hold plain payloads, which the codec passes through.
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(settings))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
