"""Steps of the abuse and rate-limit suites: an API of its own (own database, limits chosen by
the test), requests from one client, and reading what the mailbox received."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.main import create_app
from api.serving import serving
from core.accounts import Accounts
from core.db import create_engine, migrate
from core.settings import Settings
from embedded.mailbox import MailServer
from embedded.temporal_server import free_port
from tests.api.conftest import SIGN_IN_LINK
from tests.helpers import assert_eventually

FRENCH_LIMIT = "Trop de demandes"


@dataclass
class LimitedApi:
    """An API served on its own port and database, with the limits a test chose."""

    base_url: str
    settings: Settings
    engine: AsyncEngine
    mail: MailServer

    def http(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30.0)

    @property
    def accounts(self) -> Accounts:
        return Accounts(self.engine, self.settings)

    def emails_to(self, address: str) -> list[EmailMessage]:
        return self.mail.store.for_recipient(address)

    async def link_for(self, address: str) -> str:
        """The token of the newest sign-in link emailed to ``address`` (waits for it)."""

        async def arrived() -> str:
            for message in reversed(self.emails_to(address)):
                found = SIGN_IN_LINK.search(body_of(message))
                if found:
                    return found.group(1)
            raise AssertionError("no sign-in link yet")

        return await assert_eventually(arrived)


def body_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    return str(body.get_content()) if body else ""


def new_address(prefix: str = "cible") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}@example.test"


@contextlib.asynccontextmanager
async def limited_api(
    settings: Settings, directory: Path, mail: MailServer, **overrides: Any
) -> AsyncIterator[LimitedApi]:
    """An API with ``overrides`` on the session's settings (limits, storage, proxies)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    local = settings.model_copy(
        update={
            "data_dir": directory,
            "database_url": f"sqlite+aiosqlite:///{directory / 'secupol.sqlite3'}",
            "api_port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "rate_limit_key_prefix": f"test-{uuid.uuid4().hex[:12]}",
            **overrides,
        }
    )
    engine = create_engine(local)
    try:
        await migrate(engine)
        async with serving(create_app(local), port) as base_url:
            yield LimitedApi(base_url=base_url, settings=local, engine=engine, mail=mail)
    finally:
        await engine.dispose()


def assert_limited(response: httpx.Response) -> dict[str, Any]:
    """A 429 problem in French with a Retry-After."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    body: dict[str, Any] = response.json()
    assert body["code"] == "rate_limited"
    assert body["status"] == 429
    assert FRENCH_LIMIT in body["detail"]
    return body


async def accepted_before_limit(send: Any, attempts: int) -> tuple[int, httpx.Response]:
    """How many of ``attempts`` requests ``send(i)`` got through before the first 429, and it."""
    for index in range(attempts):
        response: httpx.Response = await send(index)
        if response.status_code == 429:
            return index, response
    raise AssertionError(f"{attempts} requests and no 429")
