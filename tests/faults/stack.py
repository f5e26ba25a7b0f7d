"""Real processes for the fault suite, each of which a test can kill, stop and start again.

- ``DevServer``: ``temporal server start-dev`` on a SQLite file and a fixed port, so that a
  restart after SIGKILL serves the same histories at the same address;
- ``WorkerProcess``: ``python -m worker`` with ``SECUPOL_*`` variables, as production runs it;
- ``Mailbox``: aiosmtpd storing into a ``MailStore``, which a test can stop and start on the same
  port, slow down (``delay``), or have call a hook once it has stored a message and before it
  answers 250 (the moment the relay holds the message and the sender does not know it yet).

``deliveries`` counts what the mailbox received, per recipient, template and Message-ID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from core.settings import Environment, Settings
from embedded.mailbox import MailStore
from embedded.temporal_server import SQLITE_PRAGMAS, dev_server_command, free_port

ROOT = Path(__file__).resolve().parents[2]


class DevServer:
    """A headless dev server on ``port`` keeping its state in ``db_file``."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        extra_args: list[str] | None = None,
        sqlite_pragmas: Sequence[str] = SQLITE_PRAGMAS,
    ) -> None:
        self.workdir = workdir
        self.sqlite_pragmas = sqlite_pragmas
        self.port = port or free_port()
        self.db_file = workdir / "temporal.sqlite"
        self.extra_args = extra_args or []
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None, "server not running"
        return self._process.pid

    def start(self) -> None:
        log = (self.workdir / "temporal.log").open("a")
        self._process = subprocess.Popen(
            dev_server_command(
                host="127.0.0.1",
                port=self.port,
                ui_port=None,
                db_file=self.db_file,
                extra_args=self.extra_args,
                sqlite_pragmas=self.sqlite_pragmas,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, as a crash or an OOM kill would leave it."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def process_env(settings: Settings) -> dict[str, str]:
    """``SECUPOL_*`` variables that give a child process ``settings`` (non-default fields)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SECUPOL_")}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"SECUPOL_{name.upper()}"] = str(getattr(value, "value", value))
    return env


class WorkerProcess:
    """``python -m worker`` for ``settings``, its output in ``workdir/worker.log``."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self._process is not None, "worker not running"
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        self.starts += 1
        log = (self.workdir / "worker.log").open("a")
        # Its own directory: no .env file of the checkout is read.
        cwd = self.workdir / "worker-cwd"
        cwd.mkdir(exist_ok=True)
        env = process_env(self.settings)
        env["PYTHONPATH"] = str(ROOT)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "worker"],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL: activities under way die with the process."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, then wait for the exit; returns the exit code."""
        process, self._process = self._process, None
        assert process is not None
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=timeout)


@dataclass
class _Handler:
    store: MailStore
    delay: float = 0.0
    on_stored: Callable[[int], None] | None = None
    received: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if self.delay:
            await asyncio.sleep(self.delay)
        self.store.add(raw)
        with self.lock:
            self.received += 1
            number = self.received
        if self.on_stored is not None:
            self.on_stored(number)
        return "250 Message accepted for delivery"


class Mailbox:
    """An SMTP server on a fixed port, storing into ``store``; stop and start at will."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.store = MailStore(directory)
        self.port = port or free_port()
        self.handler = _Handler(self.store)
        self._controller: Controller | None = None

    def start(self) -> None:
        controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, server_hostname="faults-mailbox"
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()


@dataclass(frozen=True)
class Delivery:
    recipient: str
    template: str
    message_id: str


def deliveries(store: MailStore) -> tuple[Counter[Delivery], dict[str, set[bytes]]]:
    """Copies received per (recipient, template, Message-ID), and the distinct bytes of each
    Message-ID (one entry per Message-ID when every copy is identical)."""
    copies: Counter[Delivery] = Counter()
    contents: dict[str, set[bytes]] = {}
    for message in store.messages():
        message_id = str(message["Message-ID"])
        copies[Delivery(str(message["To"]), str(message["X-Secupol-Template"]), message_id)] += 1
        contents.setdefault(message_id, set()).add(message.as_bytes())
    return copies, contents


def fault_settings(
    workdir: Path, temporal: DevServer, mailbox: Mailbox, **overrides: Any
) -> Settings:
    """Settings of the worker and of the test's clients for one stack."""
    values: dict[str, Any] = {
        "environment": Environment.TEST,
        "data_dir": workdir,
        "temporal_address": temporal.address,
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "smtp_timeout_s": 10.0,
        "task_queue": f"faults-{workdir.name}",
        "worker_metrics_address": f"127.0.0.1:{free_port()}",
        "log_level": "WARNING",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def monotonic() -> float:
    return time.monotonic()
