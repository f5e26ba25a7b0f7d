"""Health, readiness and metrics of the real API, and readiness while Temporal is down."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from embedded.temporal_server import free_port
from tests.api.conftest import ApiStack
from tests.api.test_outages import served


def samples(metrics_text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == name
    ]


async def test_health_and_readiness_answer_without_a_token(api: ApiStack) -> None:
    async with api.http() as http:
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert health.status_code == 200, health.text
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "temporal": "ok"}}


async def test_metrics_count_requests_by_route_template(api: ApiStack) -> None:
    async with api.http(api.staff["cnccfp"]) as http:
        missing = await http.get("/cases/case-x-y")
        assert missing.status_code == 404, missing.text
        assert missing.json()["code"] == "case_not_found"
        listing = await http.get("/cases")
        assert listing.status_code == 200, listing.text
        stray = await http.get("/no-such-route/stray-id-42")
        assert stray.status_code == 404
        before = (await http.get("/metrics")).text
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "case-x-y" not in text
    assert "stray-id-42" not in text
    requests = samples(text, "secupol_api_requests_total")
    by_labels = {(labels["method"], labels["route"], labels["status"]): v for labels, v in requests}
    assert by_labels[("GET", "/cases/{case_id}", "404")] >= 1
    assert by_labels[("GET", "/cases", "200")] >= 1
    assert by_labels[("GET", "<unmatched>", "404")] >= 1
    assert not [labels for labels, _ in requests if labels["route"] == "/metrics"]
    assert samples(before, "secupol_api_requests_total") == requests, "/metrics counted itself"
    durations = samples(text, "secupol_api_request_duration_seconds_count")
    assert any(
        labels == {"method": "GET", "route": "/cases/{case_id}"} and value >= 1
        for labels, value in durations
    )
    # Declared, with no 5xx so far: the family exists and holds no sample for these routes.
    assert "# TYPE secupol_api_server_errors_total counter" in text
    assert not [
        labels
        for labels, _ in samples(text, "secupol_api_server_errors_total")
        if labels["route"] in {"/cases", "/cases/{case_id}"}
    ]


async def test_readiness_names_temporal_when_it_is_down(settings: Settings, tmp_path: Path) -> None:
    local = settings.model_copy(
        update={
            "data_dir": tmp_path,
            "database_url": None,
            "temporal_address": f"127.0.0.1:{free_port()}",  # nobody listens there
            "api_port": free_port(),
        }
    )
    async with served(local) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        ready = await http.get("/readyz")
        health = await http.get("/healthz")
        metrics = await http.get("/metrics")
    assert ready.status_code == 503, ready.text
    assert ready.headers["content-type"] == "application/problem+json"
    body = ready.json()
    assert body["code"] == "service_unavailable"
    assert body["checks"] == {"database": "ok", "temporal": "indisponible"}
    assert "127.0.0.1" not in ready.text
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    errors = samples(metrics.text, "secupol_api_server_errors_total")
    assert ({"method": "GET", "route": "/readyz"}, 1.0) in errors
