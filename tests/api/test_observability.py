"""Health, readiness and metrics of the real API, and readiness while Temporal is down."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import httpx
from google.protobuf.duration_pb2 import Duration
from prometheus_client.parser import text_string_to_metric_families
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from api.observability import DecisionCounts, count_decisions
from core.cases import DECISION_DUE_KEY, RECOGNISED_KEY, STAGE_KEY
from core.settings import Settings
from domain.ids import CASE_WORKFLOW_TYPE
from domain.stages import Stage
from embedded.temporal_server import free_port
from tests.api.conftest import ApiStack
from tests.api.test_outages import served
from tests.helpers import assert_eventually
from worker.preflight import missing_search_attributes, register_search_attributes


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
    # The decision counts failed: no gauge (never a misleading 0), one error, and still a 200.
    assert metrics.status_code == 200
    assert samples(metrics.text, "secupol_decisions_overdue") == []
    assert samples(metrics.text, "secupol_decisions_due_30d") == []
    assert samples(metrics.text, "secupol_decisions_count_errors_total") == [({}, 1.0)]


async def _namespace_with_search_attributes(client: Client) -> str:
    """A namespace of its own, so that the counts see only this test's workflows."""
    namespace = f"ns-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace,
            workflow_execution_retention_period=Duration(seconds=24 * 3600),
        )
    )

    async def registered() -> None:
        await register_search_attributes(client, namespace)
        assert await missing_search_attributes(client, namespace) == []

    await assert_eventually(registered)
    return namespace


async def _start_case(
    client: Client, stage: Stage, decision_due: dt.datetime, *, workflow_type: str = ""
) -> None:
    """A running workflow (no worker polls its task queue) with a case's search attributes."""
    await client.start_workflow(
        workflow_type or CASE_WORKFLOW_TYPE,
        id=f"case-metrics-{uuid.uuid4().hex[:12]}",
        task_queue=f"nobody-{uuid.uuid4().hex[:8]}",
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(STAGE_KEY, stage.value),
                SearchAttributePair(DECISION_DUE_KEY, decision_due),
                SearchAttributePair(RECOGNISED_KEY, True),
            ]
        ),
    )


async def test_metrics_count_the_decisions_overdue_and_due_soon(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    namespace = await _namespace_with_search_attributes(client)
    local_client = await Client.connect(settings.temporal_address, namespace=namespace)
    now = dt.datetime.now(dt.UTC)
    await _start_case(local_client, Stage.SUBMITTED, now - dt.timedelta(days=2))
    await _start_case(local_client, Stage.UNDER_REVIEW, now + dt.timedelta(days=10))
    # Not counted: decided, due in 100 days, or not a case.
    await _start_case(local_client, Stage.DECIDED, now - dt.timedelta(days=2))
    await _start_case(local_client, Stage.OBSERVATIONS_PENDING, now + dt.timedelta(days=100))
    await _start_case(
        local_client, Stage.SUBMITTED, now - dt.timedelta(days=2), workflow_type="OtherWorkflow"
    )

    async def counted() -> None:
        counts = await count_decisions(local_client, dt.datetime.now(dt.UTC), 2.0)
        assert counts == DecisionCounts(overdue=1, due_30d=1)

    await assert_eventually(counted)

    local = settings.model_copy(
        update={
            "data_dir": tmp_path,
            "database_url": None,
            "temporal_namespace": namespace,
            "api_port": free_port(),
        }
    )
    async with served(local) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        first = await http.get("/metrics")
        await _start_case(local_client, Stage.OBSERVATIONS_PENDING, now - dt.timedelta(days=1))

        async def both_overdue() -> None:
            counts = await count_decisions(local_client, dt.datetime.now(dt.UTC), 2.0)
            assert counts.overdue == 2

        await assert_eventually(both_overdue)
        second = await http.get("/metrics")
    assert first.status_code == 200, first.text
    assert samples(first.text, "secupol_decisions_overdue") == [({}, 1.0)]
    assert samples(first.text, "secupol_decisions_due_30d") == [({}, 1.0)]
    assert samples(first.text, "secupol_decisions_count_errors_total") == [({}, 0.0)]
    # Within a minute of the first count, a scrape does not ask Temporal again.
    assert samples(second.text, "secupol_decisions_overdue") == [({}, 1.0)]
