"""Real components for the email activity: the embedded SMTP server on a free loopback port and a
SQLite database file, both under the test's own temporary directory. Nothing is mocked.

Fixture names differ from the session fixtures of ``tests/conftest.py`` on purpose: these are
per test, so each test reads only its own mailbox and outbox.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.email import EmailActivities, EmailRenderer
from core.db import create_engine, migrate
from core.settings import Environment, Settings
from embedded.mailbox import MailServer


def free_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def make_settings(data_dir: Path, smtp_port: int, **overrides: object) -> Settings:
    """Settings for one test: its own data directory and SMTP port, no ``.env`` file."""
    return Settings(
        environment=Environment.TEST,
        data_dir=data_dir,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_timeout_s=5.0,
        _env_file=None,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
def unused_port() -> int:
    """A loopback port where nothing listens: connecting to it is refused."""
    return free_port()


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Settings]:
    """Build settings for this test's directory with another SMTP port or other overrides."""

    def build(smtp_port: int, **overrides: object) -> Settings:
        return make_settings(tmp_path, smtp_port, **overrides)

    return build


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[MailServer]:
    with MailServer(tmp_path / "mail", port=0) as server:
        yield server


@pytest.fixture
def email_settings(tmp_path: Path, smtp_server: MailServer) -> Settings:
    return make_settings(tmp_path, smtp_server.port)


@pytest.fixture
async def outbox_engine(email_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(email_settings)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def renderer() -> EmailRenderer:
    return EmailRenderer()


@pytest.fixture
def email_activities(
    email_settings: Settings, outbox_engine: AsyncEngine, renderer: EmailRenderer
) -> EmailActivities:
    return EmailActivities(email_settings, outbox_engine, renderer)


class RefusingHandler:
    """A relay that refuses every recipient with a fixed SMTP answer (for example 550 or 450)."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.data_received = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return self.answer

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_received += 1
        return "250 OK"


@pytest.fixture
def refusing_relay() -> Iterator[tuple[RefusingHandler, int]]:
    """A real aiosmtpd server refusing recipients; the test sets ``handler.answer``."""
    handler = RefusingHandler("550 5.1.1 Mailbox unavailable")
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="refuser")
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
