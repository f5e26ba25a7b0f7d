"""Benchmark: what a case costs the worker when it is not in the worker's cache.

A worker keeps ``max_cached_workflows`` cases in memory; any other case that gets a task (a
timer, an action) is rebuilt by replaying its whole history first. During the deadline rush most
open cases are out of the cache (``bench/RESULTS.md``), so this cost, paid once per task, is what
the worker spends most of its time on. This bench replays committed histories (the standard full
case by default) with the worker's own workflows and data converter, ``--runs`` times each, under
three workflow runners:

- ``sandboxed``: the SDK's default sandbox, which the worker uses: each replay re-imports every
  module not passed through;
- ``passthrough_all``: the sandbox with every module passed through
  (``SandboxRestrictions.default.with_passthrough_all_modules()``): calls are still checked, but
  modules are imported once per process;
- ``unsandboxed``: no sandbox at all (the floor; not a configuration to run).

It prints the milliseconds per replay of each, and the events of each history; the last line is
a JSON object.

    python -m bench.replay_cost --runs 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from core.settings import Environment, Settings
from core.temporal import data_converter
from workflows import WORKFLOWS

HISTORIES = Path(__file__).resolve().parents[1] / "tests" / "workflows" / "histories"
DEFAULT_HISTORIES = ("v5-full_case-0.json",)


def runners() -> dict[str, WorkflowRunner]:
    return {
        "sandboxed": SandboxedWorkflowRunner(),
        "passthrough_all": SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
        ),
        "unsandboxed": UnsandboxedWorkflowRunner(),
    }


async def copies(history: WorkflowHistory, runs: int) -> AsyncIterator[WorkflowHistory]:
    for run in range(runs):
        yield WorkflowHistory(f"{history.workflow_id}-{run}", history.events)


async def replay_ms(replayer: Replayer, history: WorkflowHistory, runs: int) -> list[float]:
    """Milliseconds of each of ``runs`` replays of ``history`` (the first, warming up, apart)."""
    await replayer.replay_workflow(history)
    timings: list[float] = []
    started = time.perf_counter()
    async with replayer.workflow_replay_iterator(copies(history, runs)) as results:
        async for result in results:
            if result.replay_failure is not None:
                raise RuntimeError(f"replay failed: {result.replay_failure}")
            now = time.perf_counter()
            timings.append((now - started) * 1000)
            started = now
    return timings


async def main(arguments: argparse.Namespace) -> dict[str, Any]:
    # The settings the histories were recorded with (the tests'), not a .env of the checkout.
    settings = Settings(environment=Environment.TEST, _env_file=None)  # type: ignore[call-arg]
    converter = data_converter(settings)
    figures: dict[str, Any] = {"runs": arguments.runs, "histories": {}}
    for name in arguments.histories:
        history = WorkflowHistory.from_json(name, (HISTORIES / name).read_text(encoding="utf-8"))
        row: dict[str, Any] = {"events": len(history.events)}
        for runner_name, runner in runners().items():
            replayer = Replayer(
                workflows=WORKFLOWS, data_converter=converter, workflow_runner=runner
            )
            timings = await replay_ms(replayer, history, arguments.runs)
            row[f"{runner_name}_ms"] = round(statistics.median(timings), 1)
        figures["histories"][name] = row
        print(
            f"{name}: {row['events']} events; median ms per replay: sandboxed "
            f"{row['sandboxed_ms']}, every module passed through {row['passthrough_all_ms']}, "
            f"unsandboxed {row['unsandboxed_ms']}",
            flush=True,
        )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="replays of each history per runner")
    parser.add_argument(
        "histories",
        nargs="*",
        default=list(DEFAULT_HISTORIES),
        help="file names under tests/workflows/histories (default: the standard full case)",
    )
    parsed = parser.parse_args()
    if parsed.runs < 1:
        parser.error("--runs ≥ 1")
    asyncio.run(main(parsed))
