"""The API under test is the real one: uvicorn serving ``create_app()`` on a loopback port, a
real worker on its own task queue, the session's Temporal dev server and SMTP server, and a real
database. Every test of this package runs once on SQLite and once on PostgreSQL (when
``SECUPOL_TEST_POSTGRES_URL`` is set, as ``make test`` does; then PostgreSQL must answer).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client

from api.main import create_app
from api.serving import serving
from api.staff import add_election, create_staff, set_prefecture
from core.accounts import Accounts
from core.db import create_engine, migrate
from core.settings import RATE_LIMIT_FIELDS, Settings
from core.storage import build_storage
from domain.stages import Role
from embedded.mailbox import MailServer
from embedded.temporal_server import free_port
from tests.helpers import TestCaseClient, assert_eventually, running_worker

POSTGRES_URL = os.environ.get("SECUPOL_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]

SIGN_IN_LINK = re.compile(r"https?://\S+/auth/sign-in\?token=([A-Za-z0-9_\-%]+)")


@dataclass
class ApiStack:
    """A running API and what the tests need around it."""

    backend: str
    base_url: str
    settings: Settings
    engine: AsyncEngine
    mail: MailServer
    cases: TestCaseClient
    election_id: str
    first_round: dt.date
    staff: dict[str, str] = field(default_factory=dict)
    """Tokens of staff accounts: admin, cnccfp, pref60, pref75, operator."""

    def http(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=60.0)

    async def sign_in(
        self, email: str, *, name: str = "Camille Martin", create: bool = True
    ) -> str:
        """Sign in as a person would: ask for a link, read the email, exchange the link."""
        before = len(self.mail.store.for_recipient(email))
        async with self.http() as http:
            if create:
                response = await http.post("/auth/accounts", json={"email": email, "name": name})
            else:
                response = await http.post("/auth/sign-in-links", json={"email": email})
            assert response.status_code == 202, response.text
            token = await self.link_token(email, before)
            response = await http.post("/auth/sessions", json={"token": token})
            assert response.status_code == 201, response.text
            session: str = response.json()["token"]
            # The owner names the account (the name a case takes): issue 12, no squatting.
            response = await http.patch(
                "/auth/me",
                json={"display_name": name},
                headers={"Authorization": f"Bearer {session}"},
            )
            assert response.status_code == 200, response.text
            return session

    async def link_token(self, email: str, before: int) -> str:
        async def arrived() -> str:
            # Other emails (a copy for a third party) may arrive in between: the newest link.
            messages = self.mail.store.for_recipient(email)[before:]
            for message in reversed(messages):
                body = message.get_body(("plain",))
                found = SIGN_IN_LINK.search(str(body.get_content())) if body else None
                if found:
                    return found.group(1)
            raise AssertionError("no sign-in link in the emails")

        return await assert_eventually(arrived)


async def _database_url(backend: str, directory: Path) -> tuple[str, str | None]:
    """The URL of a fresh database; for PostgreSQL, the name of the database to drop after."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{directory / 'secupol.sqlite3'}", None
    name = f"secupol_api_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}", name


async def _drop_database(name: str) -> None:
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@contextlib.asynccontextmanager
async def api_stack(
    backend: str,
    directory: Path,
    settings: Settings,
    client: Client,
    mail_server: MailServer,
) -> AsyncIterator[ApiStack]:
    """A seeded API on ``backend``'s database, with its worker, served on a free port."""
    directory.mkdir(exist_ok=True)
    url, database = await _database_url(backend, directory)
    port = free_port()
    task_queue = f"api-{uuid.uuid4().hex[:10]}"
    local = settings.model_copy(
        update={
            "data_dir": directory,
            "database_url": url,
            "task_queue": task_queue,
            "api_port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "sign_in_links_per_hour": 50,
            # The whole suite comes from one address: limits are tested on their own apps.
            **{name: "100000/minute" for name in RATE_LIMIT_FIELDS},
            "max_document_bytes": 256 * 1024,
            "max_case_bytes": 1024 * 1024,
            "api_request_timeout_s": 30.0,
            # Not the default: a test reads it back from a request's policy.
            "protection_convening_reminder_days": 12,
        }
    )
    engine = create_engine(local)
    try:
        await migrate(engine)
        storage = build_storage(local, engine)
        async with running_worker(client, local, engine, storage, task_queue) as cases:
            async with serving(create_app(local), port) as base_url:
                stack = ApiStack(
                    backend=backend,
                    base_url=base_url,
                    settings=local,
                    engine=engine,
                    mail=mail_server,
                    cases=cases,
                    election_id=f"exercice-{uuid.uuid4().hex[:8]}",
                    first_round=dt.date.today() - dt.timedelta(days=10),
                )
                await _seed(stack)
                yield stack
            await storage.aclose()
    finally:
        await engine.dispose()
        if database is not None:
            await _drop_database(database)


@pytest.fixture(scope="package", params=BACKENDS)
async def api(
    request: pytest.FixtureRequest,
    workdir: Path,
    settings: Settings,
    client: Client,
    mail_server: MailServer,
) -> AsyncIterator[ApiStack]:
    backend: str = request.param
    async with api_stack(
        backend, workdir / f"api-{backend}", settings, client, mail_server
    ) as stack:
        yield stack


async def _seed(stack: ApiStack) -> None:
    """Staff accounts made as the admin command makes them, an election, two prefectures."""
    accounts = Accounts(stack.engine, stack.settings)
    tag = uuid.uuid4().hex[:8]
    for key, role, departements in (
        ("admin", Role.ADMIN, []),
        ("operator", Role.OPERATOR, []),
        ("cnccfp", Role.CNCCFP, []),
        ("pref60", Role.PREFECTURE, ["60"]),
        ("pref75", Role.PREFECTURE, ["75"]),
    ):
        _, token = await create_staff(
            accounts,
            email=f"{key}-{tag}@interieur.example.test",
            display_name=f"Agent {key}",
            role=role,
            departements=departements,
        )
        stack.staff[key] = token
    await add_election(
        stack.engine,
        election_id=stack.election_id,
        election_type="municipales",
        label="Exercice municipal",
        first_round=stack.first_round,
        second_round=stack.first_round + dt.timedelta(days=7),
    )
    await set_prefecture(stack.engine, "60", "pref-60@interieur.example.test")
    await set_prefecture(stack.engine, "75", "pref-75@interieur.example.test")
