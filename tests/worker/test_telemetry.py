"""The worker's Temporal runtime serves the SDK metrics for Prometheus."""

from __future__ import annotations

import httpx
import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.runtime import Runtime

from core.settings import Settings
from core.telemetry import runtime_for
from core.temporal import connect_when_ready
from embedded.temporal_server import free_port
from tests.helpers import assert_eventually


def settings_with(address: str | None) -> Settings:
    return Settings(worker_metrics_address=address, _env_file=None)  # type: ignore[call-arg]


async def test_the_runtime_serves_its_metrics_for_prometheus() -> None:
    address = f"127.0.0.1:{free_port()}"
    runtime = runtime_for(settings_with(address))
    assert isinstance(runtime, Runtime)
    # What the SDK records goes through the runtime's meter: record one of our own.
    probe = runtime.metric_meter.create_counter("secupol_telemetry_probe", "Test probe.")
    probe.add(3, {"case": "telemetry"})
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"http://{address}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE secupol_telemetry_probe counter" in response.text
    assert any(
        line.startswith("secupol_telemetry_probe{")
        and 'case="telemetry"' in line
        and line.endswith(" 3")
        for line in response.text.splitlines()
    ), response.text
    # One runtime per address and per process: a second one cannot bind it.
    with pytest.raises(ValueError):
        runtime_for(settings_with(address))


def test_no_address_no_runtime() -> None:
    assert runtime_for(settings_with(None)) is None


async def test_a_client_made_by_the_factory_reports_its_requests(settings: Settings) -> None:
    address = f"127.0.0.1:{free_port()}"
    local = settings.model_copy(update={"worker_metrics_address": address})
    runtime = runtime_for(local)
    client = await connect_when_ready(local, runtime=runtime)
    await client.workflow_service.get_system_info(GetSystemInfoRequest())

    async def reported() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            page = (await http.get(f"http://{address}/metrics")).text
        assert "temporal_request" in page, page

    await assert_eventually(reported)
