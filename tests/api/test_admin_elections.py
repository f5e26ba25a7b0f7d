"""``POST /admin/elections`` and ``python -m api.admin add-election`` decide coverage by one rule.

Rule 10 of DOMAIN.md: a new election's coverage follows its type, the same way through the HTTP
route and the command line. Both write to the same real database here (SQLite, then PostgreSQL when
``SECUPOL_TEST_POSTGRES_URL`` is set), and ``GET /elections`` reads back what each one stored.

The API is the real one served by uvicorn; these routes never reach Temporal, so no worker runs
and the Temporal address is one nobody listens on.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.admin import run
from api.main import create_app
from api.serving import serving
from api.staff import create_staff
from core.accounts import Accounts
from core.db import audit_log, create_engine, migrate
from core.settings import Environment, Settings
from domain.elections import ElectionType
from domain.stages import Role
from embedded.temporal_server import free_port
from tests.api.conftest import BACKENDS, _database_url, _drop_database

# Written out from DOMAIN.md ("Legal basis"), not read from the module under test.
COVERED = {
    "legislatives",
    "departementales",
    "municipales",
    "communautaires",
    "metropolitaines-lyon",
}


@dataclass
class AdminApi:
    """A served API on a database of its own, and an admin's token."""

    base_url: str
    settings: Settings
    engine: AsyncEngine
    admin_token: str

    def http(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30.0)


@contextlib.asynccontextmanager
async def admin_api(backend: str, directory: Path) -> AsyncIterator[AdminApi]:
    directory.mkdir(parents=True, exist_ok=True)
    url, database = await _database_url(backend, directory)
    port = free_port()
    settings = Settings(
        environment=Environment.TEST,
        data_dir=directory,
        database_url=url,
        api_port=port,
        public_url=f"http://127.0.0.1:{port}",
        temporal_address=f"127.0.0.1:{free_port()}",
        _env_file=None,
    )
    engine = create_engine(settings)
    try:
        await migrate(engine)
        _, token = await create_staff(
            Accounts(engine, settings),
            email=f"admin-{uuid.uuid4().hex[:8]}@interieur.example.test",
            display_name="Administrateur",
            role=Role.ADMIN,
        )
        async with serving(create_app(settings), port) as base_url:
            yield AdminApi(base_url, settings, engine, token)
    finally:
        await engine.dispose()
        if database is not None:
            await _drop_database(database)


@pytest.fixture(params=BACKENDS)
async def admin_stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AdminApi]:
    async with admin_api(request.param, tmp_path / "api") as served:
        yield served


def election_body(election_id: str, election_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "election_id": election_id,
        "election_type": election_type,
        "label": "Élection d'essai",
        "first_round": "2027-03-14",
        **extra,
    }


async def published(admin_stack: AdminApi) -> dict[str, dict[str, Any]]:
    async with admin_stack.http() as http:
        response = await http.get("/elections")
    assert response.status_code == 200
    return {election["election_id"]: election for election in response.json()}


async def test_the_route_and_the_command_give_each_type_the_same_coverage(
    admin_stack: AdminApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The command reads its settings from the environment: this API's database, nothing else.
    assert admin_stack.settings.database_url is not None
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SECUPOL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SECUPOL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SECUPOL_DATABASE_URL", admin_stack.settings.database_url)

    tag = uuid.uuid4().hex[:8]
    async with admin_stack.http(admin_stack.admin_token) as http:
        for kind in ElectionType:
            response = await http.post(
                "/admin/elections", json=election_body(f"http-{kind.value}-{tag}", kind.value)
            )
            assert response.status_code == 201, response.text
            assert response.json()["covered"] is (kind.value in COVERED)
            status = await run(
                ["add-election", "--id", f"cli-{kind.value}-{tag}", "--type", kind.value,
                 "--label", "Élection d'essai", "--first-round", "2027-03-14"]
            )  # fmt: skip
            assert status == 0, capsys.readouterr().err

    elections = await published(admin_stack)
    for kind in ElectionType:
        through_http = elections[f"http-{kind.value}-{tag}"]
        through_cli = elections[f"cli-{kind.value}-{tag}"]
        assert through_http["election_type"] == through_cli["election_type"] == kind.value
        assert through_http["covered"] is through_cli["covered"] is (kind.value in COVERED), kind


async def test_the_route_lets_no_caller_decide_coverage(admin_stack: AdminApi) -> None:
    tag = uuid.uuid4().hex[:8]
    async with admin_stack.http(admin_stack.admin_token) as http:
        # A type the scheme does not cover cannot be marked covered, nor a covered one not.
        for election_type, covered in (("senatoriales", True), ("municipales", False)):
            response = await http.post(
                "/admin/elections",
                json=election_body(f"force-{election_type}-{tag}", election_type, covered=covered),
            )
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["field"] == "covered"
        # A type outside the known ones (a typo) is refused, not silently left uncovered.
        response = await http.post(
            "/admin/elections", json=election_body(f"typo-{tag}", "Municipales")
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "election_type"
    elections = await published(admin_stack)
    assert not [election_id for election_id in elections if election_id.endswith(tag)]


async def test_the_route_documents_the_rule_in_french(admin_stack: AdminApi) -> None:
    async with admin_stack.http() as http:
        schema = (await http.get("/openapi.json")).json()
    operation = schema["paths"]["/admin/elections"]["post"]
    assert "selon le seul type d'élection" in operation["description"]
    assert "python -m api.admin add-election" in operation["description"]
    body = schema["components"]["schemas"]["ElectionCreate"]
    assert "covered" not in body["properties"]


async def test_an_added_election_is_audited(admin_stack: AdminApi) -> None:
    tag = uuid.uuid4().hex[:8]
    async with admin_stack.engine.connect() as connection:
        before = len(
            (
                await connection.execute(
                    select(audit_log.c.entry_id).where(audit_log.c.action == "add_election")
                )
            ).all()
        )
    async with admin_stack.http(admin_stack.admin_token) as http:
        response = await http.post(
            "/admin/elections", json=election_body(f"audit-{tag}", "departementales")
        )
    assert response.status_code == 201, response.text
    async with admin_stack.engine.connect() as connection:
        outcomes = (
            (
                await connection.execute(
                    select(audit_log.c.outcome).where(audit_log.c.action == "add_election")
                )
            )
            .scalars()
            .all()
        )
    assert len(outcomes) == before + 1
    assert outcomes[-1] == "ok"
