"""The Temporal SDK's own metrics (task latencies, polls, slots, RPCs...) served for Prometheus.

The SDK's core, in Rust, serves them itself at ``http://<worker_metrics_address>/metrics`` as
soon as the runtime exists, from whichever clients and workers use that runtime. A worker uses
its client's runtime, so passing the runtime to the client's connection is enough.

Like the API's ``/metrics``, this endpoint has no authentication: bind it to a loopback or
private address, and never publish it through the reverse proxy.
"""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.settings import Settings


def runtime_for(settings: Settings) -> Runtime | None:
    """A Temporal runtime that serves the SDK metrics at ``worker_metrics_address``.

    Create it once per process, before the first client, and give that one runtime to every
    client of the process: each runtime binds its address (and starts its own thread pool), so
    a second runtime on the same address fails, and one made in a connection retry loop would
    fail on the second attempt.

    Args:
        settings: ``worker_metrics_address`` (``host:port``), or None to serve no metrics.

    Returns:
        The runtime, or None when no address is set (then clients use the SDK's default
        runtime, which records no metrics).

    Raises:
        ValueError: the address cannot be bound (already in use, or not an address).
    """
    if settings.worker_metrics_address is None:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=settings.worker_metrics_address)
        )
    )
