"""Capture what the processes' logging writes, configured exactly as production configures it."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

from core.logs import PERSONAL_DATA_LOGGERS, QUIET_LOGGERS, configure_logging
from core.settings import Settings


@contextlib.contextmanager
def production_logs(level: str = "DEBUG", log_format: str = "text") -> Iterator[io.StringIO]:
    """Run ``configure_logging`` at ``level`` and collect, in the yielded buffer, every line its
    handler would have written to standard error; the previous logging set-up is restored after.

    Args:
        level: ``SECUPOL_LOG_LEVEL``.
        log_format: ``SECUPOL_LOG_FORMAT`` (``text`` or ``json``).
    """
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    names = [*QUIET_LOGGERS, *PERSONAL_DATA_LOGGERS]
    saved_levels = {name: logging.getLogger(name).level for name in names}
    buffer = io.StringIO()
    try:
        configure_logging(
            Settings(_env_file=None, log_level=level, log_format=log_format),  # type: ignore[call-arg]
            "test",
        )
        [handler] = root.handlers
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(buffer)
        # pytest's capture handlers, removed by the reconfiguration, come back after the test.
        yield buffer
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, saved in saved_levels.items():
            logging.getLogger(name).setLevel(saved)
