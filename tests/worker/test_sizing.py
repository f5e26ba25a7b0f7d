"""The worker's sizing settings reach the Temporal worker it builds."""

from __future__ import annotations

from temporalio.client import Client

from core.settings import Settings
from worker.run import build_worker


async def test_sizing_settings_reach_the_worker(settings: Settings, client: Client) -> None:
    sized = settings.model_copy(
        update={
            "worker_max_cached_workflows": 7,
            "worker_max_concurrent_workflow_tasks": 5,
            "worker_max_concurrent_activities": 4,
            "worker_max_concurrent_local_activities": 3,
        }
    )
    config = build_worker(client, sized, []).config()
    assert config.get("max_cached_workflows") == 7
    assert config.get("max_concurrent_workflow_tasks") == 5
    assert config.get("max_concurrent_activities") == 4
    assert config.get("max_concurrent_local_activities") == 3
