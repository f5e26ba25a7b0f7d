"""JSON log lines: the Temporal context of real workflow and activity records, no exception text."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from core.logs import PERSONAL_DATA_LOGGERS, AccessLogFilter, JsonFormatter, configure_logging
from core.settings import Settings
from tests.logcapture import production_logs


@contextlib.contextmanager
def json_lines(logger_name: str) -> Iterator[list[dict[str, Any]]]:
    """The lines ``logger_name`` writes while inside, each parsed back from JSON."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())


@workflow.defn(sandboxed=False)
class LoggingWorkflow:
    @workflow.run
    async def run(self) -> None:
        workflow.logger.info("step reached")


async def test_a_workflow_line_carries_its_ids(client: Client) -> None:
    task_queue = f"logs-{uuid.uuid4().hex[:10]}"
    workflow_id = f"logs-{uuid.uuid4().hex[:10]}"
    with json_lines("temporalio.workflow") as lines:
        async with Worker(client, task_queue=task_queue, workflows=[LoggingWorkflow]):
            handle = await client.start_workflow(
                LoggingWorkflow.run, id=workflow_id, task_queue=task_queue
            )
            await handle.result()
    [line] = [line for line in lines if line["message"].startswith("step reached")]
    assert line["workflow_id"] == workflow_id
    assert line["run_id"] == handle.result_run_id
    assert line["workflow_type"] == "LoggingWorkflow"
    assert line["task_queue"] == task_queue
    assert line["service"] == "test"
    assert line["level"] == "INFO"
    assert line["logger"] == "temporalio.workflow"
    assert line["time"].endswith("+00:00")


def test_an_activity_line_carries_its_ids() -> None:
    def notify() -> None:
        activity.logger.info("email sent")

    with json_lines("temporalio.activity") as lines:
        ActivityEnvironment().run(notify)
    [line] = lines
    info = ActivityEnvironment.default_info()
    assert line["workflow_id"] == info.workflow_id
    assert line["run_id"] == info.workflow_run_id
    assert line["activity_type"] == info.activity_type
    assert line["activity_id"] == info.activity_id


def test_an_exception_is_logged_by_class_and_frames_without_its_message() -> None:
    def fail() -> None:
        try:
            raise KeyError("secret-key@example.test")
        except KeyError as error:
            raise ValueError("secret-name@example.test") from error

    with json_lines("secupol.test") as lines:
        try:
            fail()
        except ValueError:
            logging.getLogger("secupol.test").exception("sending failed")
    [line] = lines
    raw = json.dumps(line)
    assert "secret-name" not in raw and "secret-key" not in raw
    assert line["message"] == "sending failed"
    assert line["exc_type"] == "ValueError"
    assert line["exc_chain"] == ["KeyError"]
    assert any(frame.endswith(":fail") for frame in line["exc_frames"])
    assert all(frame.count(":") >= 2 for frame in line["exc_frames"])


def test_unknown_extra_fields_are_not_copied() -> None:
    with json_lines("secupol.test") as lines:
        logging.getLogger("secupol.test").info("done", extra={"email": "someone@example.test"})
    [line] = lines
    assert "someone" not in json.dumps(line)


def test_an_access_line_loses_the_client_address_and_the_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/auth/sign-in?token=secret-token", "1.1", 200),
        None,
    )
    assert AccessLogFilter().filter(record)
    message = record.getMessage()
    assert "secret-token" not in message
    assert "127.0.0.1" not in message
    assert "GET /auth/sign-in?… HTTP/1.1" in message


@contextlib.contextmanager
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "alembic.runtime.plugins")}
    access = logging.getLogger("uvicorn.access")
    filters = access.filters[:]
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)
        access.filters[:] = filters
        workflow.logger.workflow_info_on_message = True
        activity.logger.activity_info_on_message = True


def test_configure_logging_in_json_and_back_to_text() -> None:
    with restored_logging():
        configure_logging(
            Settings(log_format="json", log_level="debug", _env_file=None),  # type: ignore[call-arg]
            "worker",
        )
        root = logging.getLogger()
        [handler] = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
        assert handler.formatter.service == "worker"
        assert root.level == logging.DEBUG
        assert logging.getLogger("httpx").level == logging.WARNING
        assert logging.getLogger("alembic.runtime.plugins").level == logging.WARNING
        # The context is in fields of its own: not appended to the message as well.
        assert not workflow.logger.workflow_info_on_message
        assert not activity.logger.activity_info_on_message
        configure_logging(Settings(_env_file=None), "worker")  # type: ignore[call-arg]
        [handler] = root.handlers
        assert not isinstance(handler.formatter, JsonFormatter)
        assert workflow.logger.workflow_info_on_message
        filters = logging.getLogger("uvicorn.access").filters
        assert sum(isinstance(f, AccessLogFilter) for f in filters) == 1


def test_third_party_loggers_stay_quiet_at_debug_even_if_a_library_lowers_their_level() -> None:
    with production_logs("DEBUG") as logs:
        for name in PERSONAL_DATA_LOGGERS:
            assert logging.getLogger(name).level == logging.WARNING, name
        # SQLAlchemy's echo=True does this to its own logger.
        engine_logger = logging.getLogger("sqlalchemy.engine.Engine")
        engine_logger.setLevel(logging.INFO)
        engine_logger.info("INSERT INTO accounts VALUES (%s)", "jean@example.fr")
        logging.getLogger("aiosmtplib").debug("RCPT TO:<jean@example.fr>")
        logging.getLogger("sqlalchemy.pool").warning("pool overflow")
        logging.getLogger("secupol.test").debug("kept")
    engine_logger.setLevel(logging.NOTSET)
    written = logs.getvalue()
    assert "jean@example.fr" not in written
    assert "pool overflow" in written and "kept" in written
