"""The fault suite: each test builds its own stack of real processes (a dev server on a SQLite
file, ``python -m worker``, an SMTP server, PostgreSQL where named) under its temporary
directory, breaks one of them, and counts what came out (``tests/faults/scenarios.py``).

Nothing here uses the session fixtures of ``tests/conftest.py``: a fault must not reach the
session's shared server or mailbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "stack"
