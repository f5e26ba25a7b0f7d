"""Logging of the secupol processes: text for a terminal, or one JSON object per line.

A JSON line carries ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message`` and ``service``;
then, when the record comes from Temporal's workflow or activity logger, the ids of what was
running (``workflow_id``, ``run_id``, ``workflow_type``, ``activity_type``...); then, when an
exception is attached, ``exc_type``, ``exc_frames`` (``file:line:function``, innermost last) and
``exc_chain`` (the classes of its causes). An exception's message is never written: a driver's
or a validator's message can quote the data it refused, and the class with the frames is enough
to find the bug. For the same reason only known context fields are copied from a record, never
whatever ``extra`` a caller passed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import traceback
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from temporalio import activity, workflow

from core.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

QUIET_LOGGERS = {
    # httpx logs each request's URL at INFO, and registry URLs carry SIRENs and CNAPS numbers.
    "httpx": logging.WARNING,
    # Alembic announces each of its plugins; the "Running upgrade" lines are what matters.
    "alembic.runtime.plugins": logging.WARNING,
}

PERSONAL_DATA_LOGGERS = (
    # SQL statements with their parameters (emails, names, messages, file names).
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    # Requests and responses: URLs with SIRENs, headers with tokens, bodies.
    "httpx",
    "httpcore",
    "hpack",
    "urllib3",
    "botocore",
    "aiobotocore",
    "boto3",
    "s3transfer",
    # The SMTP conversation: recipients, and the whole message at DEBUG.
    "aiosmtplib",
    "mail.log",
    # Multipart parsing: field and file names.
    "multipart",
    "python_multipart",
)
"""Third-party loggers that write personal data below WARNING: held at WARNING whatever
``SECUPOL_LOG_LEVEL`` says (issue 12: personal data never reaches a log, at any level).
Temporal's own loggers stay: payloads are encrypted before they reach the SDK's logs, and the
workflow and activity loggers carry our messages, which never hold personal data."""

_WORKFLOW_FIELDS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_type": "workflow_type",
    "task_queue": "task_queue",
    "namespace": "namespace",
    "attempt": "attempt",
    "update_id": "update_id",
    "update_name": "update_name",
}
"""Keys of the SDK's ``temporal_workflow`` extra, and the JSON fields they become."""

_ACTIVITY_FIELDS = {
    "workflow_id": "workflow_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_id": "activity_id",
    "activity_type": "activity_type",
    "task_queue": "task_queue",
    "namespace": "namespace",
    "attempt": "attempt",
}
"""Keys of the SDK's ``temporal_activity`` extra, and the JSON fields they become."""

_MAX_CHAIN = 5


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line (see the module docstring).

    Args:
        service: The process that logs (``api``, ``worker``): a field of every line.
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON, without any exception message or traceback text."""
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
        }
        _copy(line, getattr(record, "temporal_workflow", None), _WORKFLOW_FIELDS)
        _copy(line, getattr(record, "temporal_activity", None), _ACTIVITY_FIELDS)
        if record.exc_info and record.exc_info[1] is not None:
            line.update(_exception_fields(record.exc_info[1]))
        return json.dumps(line, ensure_ascii=False, default=str)


def _copy(line: dict[str, Any], details: object, fields: Mapping[str, str]) -> None:
    if not isinstance(details, Mapping):
        return
    for key, name in fields.items():
        value = details.get(key)
        if value is not None:
            line.setdefault(name, value)


def _exception_fields(error: BaseException) -> dict[str, Any]:
    frames = [
        f"{frame.filename}:{frame.lineno}:{frame.name}"
        for frame in traceback.extract_tb(error.__traceback__)
    ]
    chain: list[str] = []
    cause = error.__cause__ or error.__context__
    while cause is not None and len(chain) < _MAX_CHAIN:
        chain.append(_class_name(cause))
        cause = cause.__cause__ or cause.__context__
    fields: dict[str, Any] = {"exc_type": _class_name(error), "exc_frames": frames}
    if chain:
        fields["exc_chain"] = chain
    return fields


def _class_name(error: BaseException) -> str:
    kind = type(error)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _pinned(name: str) -> bool:
    return any(name == pinned or name.startswith(pinned + ".") for pinned in PERSONAL_DATA_LOGGERS)


class PersonalDataFilter(logging.Filter):
    """Drops records below WARNING from the ``PERSONAL_DATA_LOGGERS``, on the handler itself.

    Their levels are pinned too, but a library may lower its own logger's level again (for
    instance SQLAlchemy's ``echo=True`` sets ``sqlalchemy.engine`` to INFO): the handler is the
    last place every record passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep a record unless a pinned logger wrote it below WARNING."""
        return record.levelno >= logging.WARNING or not _pinned(record.name)


class AccessLogFilter(logging.Filter):
    """Drops the client address and the query string from uvicorn's access lines.

    A client's IP address is personal data, and sign-in links carry their one-time token in the
    query (``/auth/sign-in?token=...``): an access line keeps the method, the path and the
    status only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the arguments of an access record; always keep the record."""
        args = record.args
        # uvicorn.access logs (client address, method, path with query, HTTP version, status).
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            path = str(args[2])
            if "?" in path:
                path = urlsplit(path).path + "?…"
            record.args = ("-", args[1], path, args[3], args[4])
        return True


def configure_logging(settings: Settings, service: str) -> None:
    """Send every log record to standard error, as text or JSON lines.

    Replaces the handlers of the root logger (calling it again reconfigures), sets the level
    from the settings, quiets the loggers whose INFO lines carry personal data or noise (the
    ``PERSONAL_DATA_LOGGERS`` stay at WARNING even at DEBUG, and the handler drops their lower
    records whatever their level becomes), and keeps client addresses and sign-in tokens out of
    uvicorn's access lines. For uvicorn's own lines to follow this format, run uvicorn with
    ``log_config=None``.

    In JSON mode the Temporal workflow and activity loggers stop appending their context to the
    message, since it is in fields of its own.

    Args:
        settings: ``log_format`` (``text`` or ``json``) and ``log_level``.
        service: The name of the process (``api``, ``worker``), a field of each JSON line.
    """
    handler = logging.StreamHandler(sys.stderr)
    as_json = settings.log_format == "json"
    if as_json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(PersonalDataFilter())
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    for name in PERSONAL_DATA_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, AccessLogFilter) for existing in access.filters):
        access.addFilter(AccessLogFilter())
    workflow.logger.workflow_info_on_message = not as_json
    activity.logger.activity_info_on_message = not as_json
