"""Replay of committed histories: a change that would break running cases fails here.

If this fails after a change of workflow logic, guard the change with ``workflow.patched("…")``
so that running cases keep their old path. Record the new behaviour under a new label (``make
histories LABEL=vN``) and keep every older label: each is a version cases may be running on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.api.history.v1 import MarkerRecordedEventAttributes
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.settings import Settings
from core.temporal import data_converter
from domain.contracts import MESSAGE_POSTED_SIGNAL
from domain.stages import RULES, Role
from workflows import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_committed() -> None:
    # v4: every update and signal (see the coverage test below), the administration's delay
    # with a late window and a closing, line verdicts, re-evaluation, decision due reminders.
    assert len(HISTORIES) >= 45, "run `make histories LABEL=vN`, commit tests/workflows/histories/"


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_replay(path: Path, settings: Settings) -> None:
    # The converter of the clients that recorded the histories: histories recorded before
    # payload encryption hold plain payloads, which the codec passes through.
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(settings))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def _local_activity_type(marker: MarkerRecordedEventAttributes) -> str:
    """The activity a local-activity marker records (``""`` for another marker)."""
    if marker.marker_name != "core_local_activity":
        return ""
    data = json.loads(marker.details["data"].payloads[0].data)
    return str(data.get("activity_type", ""))


def _label(path: Path) -> int:
    return int(path.stem.split("-", 1)[0].removeprefix("v"))


def test_latest_histories_cover_every_update_signal_and_activity() -> None:
    """Every action a person or an operator takes, every fact the API signals and every
    activity is in a history of the latest version, so that a replay-breaking edit of any
    handler fails here; so is a continue-as-new."""
    latest = max(_label(path) for path in HISTORIES)
    seen: set[str] = set()
    for path in HISTORIES:
        if _label(path) != latest:
            continue
        for event in WorkflowHistory.from_json(path.stem, path.read_text()).events:
            if event.HasField("workflow_execution_update_accepted_event_attributes"):
                accepted = event.workflow_execution_update_accepted_event_attributes
                seen.add(accepted.accepted_request.input.name)
            elif event.HasField("workflow_execution_signaled_event_attributes"):
                seen.add(event.workflow_execution_signaled_event_attributes.signal_name)
            elif event.HasField("activity_task_scheduled_event_attributes"):
                seen.add(event.activity_task_scheduled_event_attributes.activity_type.name)
            elif event.HasField("marker_recorded_event_attributes"):
                seen.add(_local_activity_type(event.marker_recorded_event_attributes))
            elif event.HasField("workflow_execution_continued_as_new_event_attributes"):
                seen.add("continue-as-new")
            elif event.HasField("workflow_execution_started_event_attributes"):
                started = event.workflow_execution_started_event_attributes
                seen.add(f"workflow:{started.workflow_type.name}")
    expected = {action.value for action, rule in RULES.items() if Role.SYSTEM not in rule.roles}
    expected |= {MESSAGE_POSTED_SIGNAL, "continue-as-new"}
    expected |= {"send_email", "seal_dossier", "check_cnaps_authorisation", "check_sirene"}
    expected |= {"record_closures", "list_due_cases", "purge_case"}
    # Every registered workflow type has a history of the latest version.
    expected |= {
        f"workflow:{workflow.__temporal_workflow_definition.name}" for workflow in WORKFLOWS
    }  # type: ignore[attr-defined]
    assert expected - seen == set(), f"record them: make histories LABEL=v{latest + 1}"
