"""``python -m worker [run | check | register-search-attributes]`` (``run`` by default)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from core.settings import Settings
from core.temporal import connect
from worker.preflight import preflight, register_search_attributes
from worker.run import main as run_main


def _check() -> int:
    settings = Settings()
    results = asyncio.run(preflight(settings))
    for result in results:
        sys.stdout.write(f"{'ok  ' if result.ok else 'FAIL'}  {result.name:<9} {result.detail}\n")
    return 0 if all(result.ok for result in results) else 1


def _register() -> int:
    settings = Settings()

    async def register() -> list[str]:
        client = await connect(settings)
        return await register_search_attributes(client, settings.temporal_namespace)

    added = asyncio.run(register())
    namespace = settings.temporal_namespace
    if added:
        sys.stdout.write(f"registered in namespace {namespace}: {', '.join(added)}\n")
    else:
        sys.stdout.write(f"namespace {namespace} already has every secupol search attribute\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "check", "register-search-attributes"],
        help="run the worker (default), check its environment, or register search attributes",
    )
    command = parser.parse_args(argv).command
    if command == "check":
        return _check()
    if command == "register-search-attributes":
        return _register()
    run_main()
    return 0


raise SystemExit(main())
