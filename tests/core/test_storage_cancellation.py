"""A read cancelled while the object is being opened leaves no file open (a worker shutting
down cancels the activities under way)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from core.storage import LocalDiskStore


def open_descriptors_on(path: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            continue
    return count


async def _one(data: bytes):  # type: ignore[no-untyped-def]
    yield data


async def test_cancelled_open_closes_the_file(tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path)
    await store.put("objects-aa-sample", _one(b"x" * 4096))
    path = next(p for p in tmp_path.rglob("*") if p.is_file())
    for _ in range(20):  # the window is short: try it several times
        stream = store.get("objects-aa-sample")
        reading = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)  # the read starts: the file is open, its first block is read
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        # Closed by the time the cancelled reader is done, however busy the loop is (before, a
        # file opened in a thread after the reader left stayed open until the loop took the
        # thread's result: seconds under load).
        assert open_descriptors_on(path) == 0
