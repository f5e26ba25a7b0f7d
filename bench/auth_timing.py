"""Benchmark: does the time of an answer tell a known address from an unknown one (issue 12)?

``POST /auth/sign-in-links`` and ``POST /auth/accounts`` are each sent ``--requests`` times (200
by default) for a known address (an account exists) and as many for an unknown one, interleaved
(known, unknown, known, …) on one keep-alive connection, to the real ``create_app()`` served by
uvicorn on a SQLite database, with a real SMTP server on loopback (the links are really sent).
For accounts, "known" is an address that already has an account and "unknown" a fresh address
each time (what an attacker probing addresses would send). Each request is timed with
``time.perf_counter`` from the call to its answer; the first 10 of each kind are a warm-up and
not counted.

The limits are raised out of the way (the bench measures the work, not the 429s) and so is the
hourly cap on links to one address, so that the known address costs its full work every time.

Prints a human summary, then as its last line a JSON object: for each endpoint, the median and
p90 in milliseconds of ``known`` and ``unknown`` and their ratio.

    python -m bench.auth_timing --requests 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from api.main import create_app
from api.serving import serving
from core.accounts import Accounts
from core.db import create_engine, migrate
from core.settings import Settings
from domain.stages import Role
from embedded.mailbox import MailServer
from embedded.temporal_server import free_port

WARM_UP = 10
UNLIMITED = "1000000/minute"


def _figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 2),
    }


async def _measure(
    http: httpx.AsyncClient, path: str, known: str, unknown: Any, requests: int
) -> dict[str, Any]:
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for index in range(requests + WARM_UP):
        for kind, email in (("known", known), ("unknown", unknown())):
            started = time.perf_counter()
            body = {"email": email}
            if path == "/auth/accounts":
                body["name"] = "Camille Martin"
            response = await http.post(path, json=body)
            elapsed = time.perf_counter() - started
            if response.status_code != 202:
                raise RuntimeError(f"{path} answered {response.status_code}: {response.text}")
            if index >= WARM_UP:
                times[kind].append(elapsed)
    known_figures, unknown_figures = _figures(times["known"]), _figures(times["unknown"])
    return {
        "known": known_figures,
        "unknown": unknown_figures,
        "ratio_p50": round(known_figures["p50_ms"] / unknown_figures["p50_ms"], 2),
    }


async def main(requests: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="secupol-auth-timing-") as directory:
        base = Path(directory)
        mail = MailServer(base / "mail", port=0)
        mail.start()
        port = free_port()
        settings = Settings(
            data_dir=base,
            temporal_address=f"127.0.0.1:{free_port()}",
            smtp_port=mail.port,
            api_port=port,
            public_url=f"http://127.0.0.1:{port}",
            sign_in_links_per_hour=1_000_000,
            # Names the main branch does not know are ignored there (``extra="ignore"``).
            rate_limit_emails=UNLIMITED,
            rate_limit_target=UNLIMITED,
            rate_limit_new_accounts=UNLIMITED,
            _env_file=None,  # type: ignore[call-arg]
        )
        engine = create_engine(settings)
        try:
            await migrate(engine)
            known = f"connu-{uuid.uuid4().hex[:8]}@exemple.test"
            await Accounts(engine, settings).create(
                email=known, display_name="Camille Martin", role=Role.CANDIDATE
            )
            async with (
                serving(create_app(settings), port) as base_url,
                httpx.AsyncClient(base_url=base_url, timeout=60.0) as http,
            ):

                def fresh() -> str:
                    return f"inconnu-{uuid.uuid4().hex[:10]}@exemple.test"

                figures = {
                    "sign_in_links": await _measure(
                        http, "/auth/sign-in-links", known, fresh, requests
                    ),
                    "accounts": await _measure(http, "/auth/accounts", known, fresh, requests),
                    "requests": requests,
                }
        finally:
            await engine.dispose()
            mail.stop()
    for endpoint in ("sign_in_links", "accounts"):
        result = figures[endpoint]
        print(
            f"{endpoint}: known p50 {result['known']['p50_ms']} ms, "
            f"unknown p50 {result['unknown']['p50_ms']} ms (ratio {result['ratio_p50']})"
        )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests))
