"""The fault suite's scenarios at a larger N: ``make faults`` (CASES=100 by default).

Each fault runs on its own stack of real processes (``tests/faults/scenarios.py``): a dev server
on a SQLite file, ``python -m worker``, an SMTP server, PostgreSQL for the database fault. Prints
a table (fault, cases, emails expected, delivered, lost, duplicated, identical copies, time to
recover) and, last, one line of JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.faults import scenarios

FAULTS: dict[str, Callable[[Path, int], Awaitable[scenarios.FaultResult]]] = {
    "worker_sigkill": scenarios.worker_sigkill,
    "smtp_down": scenarios.smtp_down,
    "temporal_restart": scenarios.temporal_restart,
    "database_down": scenarios.database_down,
    "registry_down": scenarios.registry_down,
}

COLUMNS = ("fault", "cases", "expected", "delivered", "lost", "duplicated", "copies", "recover_s")


def table(results: list[scenarios.FaultResult]) -> str:
    rows = [COLUMNS] + [tuple(str(scenarios.as_row(r)[c]) for c in COLUMNS) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


async def run(cases: int, names: list[str]) -> list[scenarios.FaultResult]:
    results = []
    with tempfile.TemporaryDirectory(prefix="secupol-faults-") as tmp:
        for name in names:
            started = time.monotonic()
            result = await FAULTS[name](Path(tmp) / name, cases)
            result.detail["total_s"] = round(time.monotonic() - started, 1)
            sys.stderr.write(f"{name}: {scenarios.as_row(result)} {result.detail}\n")
            results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--faults", nargs="*", choices=sorted(FAULTS), default=list(FAULTS))
    args = parser.parse_args()
    results = asyncio.run(run(args.cases, args.faults))
    sys.stdout.write(table(results) + "\n")
    summary = {
        "cases": args.cases,
        "faults": [scenarios.as_row(r) | {"detail": r.detail} for r in results],
        "lost": sum(r.lost for r in results),
        "duplicated": sum(r.duplicated for r in results),
    }
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
