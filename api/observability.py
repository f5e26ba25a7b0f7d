"""Health, readiness and metrics of the API, for operators and their load balancers.

``GET /healthz``
    Liveness: the process answers. Nothing else is checked, so that an outage of a dependency
    does not get healthy API processes restarted in a loop.
``GET /readyz``
    Readiness: the database answers ``SELECT 1`` and the Temporal frontend answers its health
    check, each within ``CHECK_TIMEOUT_S``. 200 when both do; otherwise 503, as a problem
    document (like every other error of the API) that names the failing check in ``checks``.
``GET /metrics``
    The API's metrics in the Prometheus text format (see ``ApiMetrics``), and the CNCCFP's
    decision deadlines (see ``DecisionDeadlines``): counts of cases, read from Temporal
    visibility at most once a minute.

Exposure. None of these routes asks for a token: load balancers and Prometheus call them
without one, and the staff tokens the API knows expire, which would silently stop the scraping.
They are safe to answer anonymously on the private network: the health routes say "ok" or
"indisponible" and nothing else, and the metrics carry only methods, route templates (never a
concrete path, which holds case ids), statuses, durations and counts of cases. Traffic volumes
are still nobody else's business: **the reverse proxy publishes the public API only, never
``/metrics``, ``/healthz`` or ``/readyz``**; Prometheus and the load balancer reach the API on
the private network. The worker's Temporal SDK metrics (``core.telemetry``) follow the same rule.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from api.deps import Services
from api.errors import PROBLEM_MEDIA_TYPE, TITLES, ProblemPublic
from domain import visibility
from domain.errors import ErrorCode
from domain.ids import CASE_WORKFLOW_TYPE
from domain.stages import Stage

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0
"""How long readiness waits for each dependency: a probe must answer well before the load
balancer gives up on it."""

METRICS_PATH = "/metrics"
UNMATCHED_ROUTE = "<unmatched>"
"""Route label of requests that matched no route: their paths are whatever clients sent, and
must not become label values (unbounded cardinality, and possibly personal data)."""

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Default Prometheus buckets, plus 30 s: an action may wait that long for its workflow
(``api_request_timeout_s``)."""

DECISION_COUNT_TIMEOUT_S = 2.0
"""How long a scrape waits for the decision counts: Prometheus gives up after 10 s by default."""

DECISION_COUNT_TTL_S = 60.0
"""How long the decision counts are reused: scrapes (every API process, every Prometheus) within
that time do not query Temporal again."""

DECISION_DUE_SOON = dt.timedelta(days=30)

UNDER_EXAMINATION = (Stage.SUBMITTED, Stage.OBSERVATIONS_PENDING, Stage.UNDER_REVIEW)
"""The stages in which the CNCCFP's decision is awaited (L. 52-15: within six months)."""

CheckStatus = Literal["ok", "indisponible"]


class HealthPublic(BaseModel):
    """Le processus de l'API répond."""

    status: Literal["ok"] = Field(default="ok", description="Toujours « ok ».")


class ReadinessChecks(BaseModel):
    """État de chaque dépendance de l'API."""

    database: CheckStatus = Field(description="La base de données répond-elle ?")
    temporal: CheckStatus = Field(description="Le serveur Temporal répond-il ?")


class ReadinessPublic(BaseModel):
    """L'API est prête : ses dépendances répondent."""

    status: Literal["ok"] = Field(default="ok", description="Toujours « ok » (statut 200).")
    checks: ReadinessChecks = Field(description="État de chaque dépendance.")


class ApiMetrics:
    """The API's Prometheus metrics, in a registry of their own.

    One registry per application rather than the process-wide default one: several
    applications can live in one process (the tests build many), and each must count only its
    own requests.

    Metrics (labels):
        ``secupol_api_requests_total`` (method, route, status): requests answered.
        ``secupol_api_request_duration_seconds`` (method, route): time to answer, histogram.
        ``secupol_api_server_errors_total`` (method, route): requests answered 5xx, or whose
            handling failed.
        ``secupol_decisions_overdue``, ``secupol_decisions_due_30d``,
        ``secupol_decisions_count_errors_total``: see ``DecisionDeadlines``.

    ``route`` is the route template (``/cases/{case_id}``) or ``<unmatched>``; ``method`` is one
    of the standard methods or ``OTHER``. ``/metrics`` itself is not counted.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "secupol_api_requests",
            "HTTP requests answered by the API, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "secupol_api_request_duration_seconds",
            "Time the API took to answer, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.server_errors = Counter(
            "secupol_api_server_errors",
            "HTTP requests answered with a 5xx status (or failed), by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        self.decisions = DecisionDeadlines(self.registry)

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one answered request.

        Args:
            scope: The request's ASGI scope, after routing (which sets ``scope["route"]``).
            status: The HTTP status answered (500 when the handling failed).
            seconds: The time from the request to the end of the answer.
        """
        route = route_template(scope)
        if route == METRICS_PATH:
            return
        method = str(scope.get("method", "")).upper()
        if method not in _KNOWN_METHODS:
            method = "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)
        if status >= 500:
            self.server_errors.labels(method, route).inc()


def _visibility_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decision_queries(now: dt.datetime) -> tuple[str, str]:
    """The visibility queries of the cases whose decision is overdue, and due within 30 days.

    Only running cases under examination count: a decided, closed or withdrawn case keeps no
    decision due date that matters (the workflow unsets it), and a terminated one is no longer
    anybody's task.
    """
    stages = ", ".join(f'"{stage.value}"' for stage in UNDER_EXAMINATION)
    due = visibility.DECISION_DUE
    examined = (
        f'WorkflowType = "{CASE_WORKFLOW_TYPE}" AND ExecutionStatus = "Running" '
        f"AND {visibility.STAGE} IN ({stages})"
    )
    overdue = f'{examined} AND {due} < "{_visibility_time(now)}"'
    soon = (
        f'{examined} AND {due} >= "{_visibility_time(now)}" '
        f'AND {due} < "{_visibility_time(now + DECISION_DUE_SOON)}"'
    )
    return overdue, soon


@dataclass(frozen=True)
class DecisionCounts:
    """Cases under examination whose CNCCFP decision is overdue, and due within 30 days."""

    overdue: int
    due_30d: int


async def count_decisions(client: Client, now: dt.datetime, timeout_s: float) -> DecisionCounts:
    """Count the cases of ``client``'s namespace whose decision is overdue or due soon.

    Raises:
        RPCError: Temporal refused or did not answer within ``timeout_s``.
    """
    overdue, soon = decision_queries(now)
    rpc_timeout = dt.timedelta(seconds=timeout_s)
    overdue_count, soon_count = await asyncio.gather(
        client.count_workflows(overdue, rpc_timeout=rpc_timeout),
        client.count_workflows(soon, rpc_timeout=rpc_timeout),
    )
    return DecisionCounts(overdue=overdue_count.count, due_30d=soon_count.count)


class DecisionDeadlines(Collector):
    """The CNCCFP's decision deadlines (L. 52-15, six months after the deposit), as gauges.

    Metrics:
        ``secupol_decisions_overdue``: running cases under examination (submitted,
            observations pending, under review) whose ``SecupolDecisionDue`` has passed.
        ``secupol_decisions_due_30d``: the same, due within the next 30 days.
        ``secupol_decisions_count_errors_total``: counts that failed (Temporal unreachable,
            too slow, or refusing the query).

    The counts are visibility queries of the whole namespace, made by ``refresh`` when
    ``/metrics`` is scraped, at most once per ``ttl_s`` (one query at a time; scrapes meanwhile
    get the last counts). When the last attempt failed, both gauges are absent (not 0: nobody
    must read « no overdue case » from a failure) until the next attempt, ``ttl_s`` later.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        ttl_s: float = DECISION_COUNT_TTL_S,
        timeout_s: float = DECISION_COUNT_TIMEOUT_S,
    ) -> None:
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.counts: DecisionCounts | None = None
        self._next_refresh = -math.inf
        self._lock = asyncio.Lock()
        self.errors = Counter(
            "secupol_decisions_count_errors",
            "Failed counts of the cases whose CNCCFP decision is overdue or due soon.",
            registry=registry,
        )
        registry.register(self)

    async def refresh(self, services: Services) -> None:
        """Count again if the last count is older than ``ttl_s``; never raises."""
        if time.monotonic() < self._next_refresh:
            return
        async with self._lock:
            if time.monotonic() < self._next_refresh:
                return  # another scrape counted while this one waited
            try:
                async with asyncio.timeout(self.timeout_s):
                    cases = await services.cases()
                    counts = await count_decisions(
                        cases.client, dt.datetime.now(dt.UTC), self.timeout_s
                    )
            except Exception as error:
                # The metrics answer whatever happens; the class is enough to diagnose.
                log.warning("metrics: decision deadlines not counted (%s)", type(error).__name__)
                self.counts = None
                self.errors.inc()
            else:
                self.counts = counts
            self._next_refresh = time.monotonic() + self.ttl_s

    def _families(self, counts: DecisionCounts | None) -> list[GaugeMetricFamily]:
        overdue = GaugeMetricFamily(
            "secupol_decisions_overdue",
            "Cases under examination whose CNCCFP decision (six months after the deposit, "
            "L. 52-15) is overdue.",
        )
        soon = GaugeMetricFamily(
            "secupol_decisions_due_30d",
            "Cases under examination whose CNCCFP decision is due within 30 days.",
        )
        if counts is not None:
            overdue.add_metric([], counts.overdue)
            soon.add_metric([], counts.due_30d)
        return [overdue, soon]

    def describe(self) -> Iterable[Metric]:
        return self._families(None)

    def collect(self) -> Iterable[Metric]:
        if self.counts is None:
            return []
        return self._families(self.counts)


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request, or ``UNMATCHED_ROUTE``.

    Starlette's router puts the matched route (full match, or the partial match that answers
    405) in ``scope["route"]``; a request that matched none has no route there.
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED_ROUTE


class RequestMetricsMiddleware:
    """Pure ASGI middleware that feeds ``ApiMetrics`` (streamed bodies are not buffered).

    Installed outermost, so that it sees the answers of the other middlewares too (413 from
    the body limit, 500 from the catch-all).
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if no answer starts, the client got none: count it as a server error

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except Exception:
            self.metrics.observe(scope, 500, time.perf_counter() - started)
            raise
        # A cancelled request (the client went away) skips this line: it was not answered.
        self.metrics.observe(scope, status, time.perf_counter() - started)


router = APIRouter(tags=["Exploitation"])


@router.get(
    "/healthz",
    operation_id="health",
    summary="Vivacité du service",
    description="Répond 200 tant que le processus de l'API répond ; aucune dépendance n'est "
    "vérifiée. Sans authentification : réservé au réseau interne (répartiteur de charge), "
    "jamais publié sur Internet.",
    response_model=HealthPublic,
)
async def health() -> HealthPublic:
    return HealthPublic()


@router.get(
    "/readyz",
    operation_id="readiness",
    summary="Disponibilité du service",
    description="Répond 200 quand la base de données et le serveur Temporal répondent, chacun "
    f"en moins de {CHECK_TIMEOUT_S:.0f} secondes. Sinon 503 : le document d'erreur porte en plus "
    "un membre `checks` qui indique, pour chaque dépendance, « ok » ou « indisponible ». Sans "
    "authentification : réservé au réseau interne (répartiteur de charge), jamais publié sur "
    "Internet.",
    response_model=ReadinessPublic,
    responses={503: {"description": "Une dépendance ne répond pas ; `checks` la nomme."}},
)
async def readiness(request: Request) -> Response:
    services: Services = request.app.state.services
    database, temporal = await asyncio.gather(_database_check(services), _temporal_check(services))
    checks = ReadinessChecks(database=database, temporal=temporal)
    if database == "ok" and temporal == "ok":
        return JSONResponse(ReadinessPublic(checks=checks).model_dump(mode="json"))
    code = ErrorCode.SERVICE_UNAVAILABLE
    problem = ProblemPublic(
        title=TITLES[503],
        status=503,
        code=code.value,
        detail="Le service n'est pas prêt : une de ses dépendances ne répond pas.",
    )
    # An RFC 9457 extension member: which dependency is missing.
    body = problem.model_dump(mode="json") | {"checks": checks.model_dump(mode="json")}
    return JSONResponse(
        body, status_code=503, media_type=PROBLEM_MEDIA_TYPE, headers={"Retry-After": "5"}
    )


@router.get(
    METRICS_PATH,
    operation_id="metrics",
    summary="Métriques de l'API",
    description="Métriques au format texte de Prometheus : requêtes, durées et erreurs par "
    "méthode, modèle de route (jamais le chemin réel) et statut ; nombre de dossiers en cours "
    "d'examen dont la décision de la Commission est en retard ou due sous 30 jours (compté au "
    "plus une fois par minute, absent si Temporal ne répond pas). Sans authentification : "
    "réservé au réseau interne (Prometheus), jamais publié sur Internet.",
    response_class=PlainTextResponse,
    responses={200: {"description": "Métriques au format texte de Prometheus."}},
)
async def metrics(request: Request) -> Response:
    api_metrics: ApiMetrics = request.app.state.api_metrics
    services: Services | None = getattr(request.app.state, "services", None)
    if services is not None:
        await api_metrics.decisions.refresh(services)
    return Response(generate_latest(api_metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def _database_check(services: Services) -> CheckStatus:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        # A probe reports, whatever the failure; the class is enough to diagnose, and a
        # driver's message can quote data.
        log.warning("readiness: database unavailable (%s)", type(error).__name__)
        return "indisponible"
    return "ok"


async def _temporal_check(services: Services) -> CheckStatus:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            cases = await services.cases()
            serving = await cases.client.service_client.check_health(
                timeout=dt.timedelta(seconds=CHECK_TIMEOUT_S)
            )
    except Exception as error:
        log.warning("readiness: Temporal unavailable (%s)", type(error).__name__)
        return "indisponible"
    if not serving:
        log.warning("readiness: Temporal answers but does not serve")
        return "indisponible"
    return "ok"


def install(app: FastAPI) -> None:
    """Add the health, readiness and metrics routes, and the request metrics, to ``app``.

    Call it after every other middleware has been added: the metrics middleware must be the
    outermost one to see every answer.

    Args:
        app: The application from ``api.main.create_app``.
    """
    api_metrics = ApiMetrics()
    app.state.api_metrics = api_metrics
    app.include_router(router)
    app.add_middleware(RequestMetricsMiddleware, metrics=api_metrics)
