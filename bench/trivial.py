"""The baseline workflow of the benchmarks, in a module of its own so that the workflow sandbox
imports nothing but temporalio when it loads it."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BenchTrivialWorkflow")
class BenchTrivialWorkflow:
    """As small as a human-in-the-loop workflow gets: count updates, finish on request."""

    def __init__(self) -> None:
        self.count = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.count

    @workflow.update
    async def touch(self, last: bool) -> int:
        self.count += 1
        self.done = last
        return self.count
