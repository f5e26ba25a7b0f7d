"""Serving the API inside a running event loop (the tests and the benchmarks do)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI

STARTUP_TIMEOUT_S = 30.0


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on ``host:port`` until the block ends; yields its base URL.

    Raises:
        RuntimeError: the server did not start within ``STARTUP_TIMEOUT_S`` (or what stopped it).
    """
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while not server.started:
                if task.done():
                    task.result()  # raises what stopped it
                    raise RuntimeError("the API stopped while starting")
                await asyncio.sleep(0.05)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
