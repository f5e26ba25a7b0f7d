"""When Temporal or the database is down, the API answers 503 and applies nothing."""

from __future__ import annotations

import datetime as dt
import gc
import subprocess
import uuid
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.types import Receive, Scope, Send

from api.errors import CatchAllMiddleware
from api.main import create_app
from api.serving import serving
from api.staff import add_election, set_prefecture
from core.accounts import Accounts
from core.db import audit_log, create_engine, migrate
from core.settings import Settings
from core.temporal import connect_when_ready
from domain.documents import DocumentKind
from domain.stages import Role
from embedded.temporal_server import dev_server_command, free_port
from tests.api.conftest import BACKENDS, POSTGRES_URL, _database_url, _drop_database
from tests.api.flow import evaluation_proofs, upload
from tests.helpers import assert_eventually


def served(settings: Settings) -> AbstractAsyncContextManager[str]:
    return serving(create_app(settings), settings.api_port)


async def candidate_token(settings: Settings) -> str:
    engine = create_engine(settings)
    try:
        await migrate(engine)
        accounts = Accounts(engine, settings)
        account = await accounts.create(
            email=f"c{uuid.uuid4().hex[:8]}@example.test",
            display_name="Camille Martin",
            role=Role.CANDIDATE,
        )
        await accounts.confirm(account.account_id)
        await add_election(
            engine,
            election_id="panne",
            election_type="municipales",
            label="Panne",
            first_round=dt.date.today() - dt.timedelta(days=10),
            second_round=None,
        )
        await set_prefecture(engine, "60", "pref-60@interieur.example.test")
        return await accounts.open_session(account.account_id)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_temporal_down_is_503_and_nothing_is_applied(
    backend: str, settings: Settings, tmp_path: Path
) -> None:
    url, database = await _database_url(backend, tmp_path)
    port = free_port()
    local = settings.model_copy(
        update={
            "data_dir": tmp_path,
            "database_url": url,
            "temporal_address": f"127.0.0.1:{free_port()}",  # nobody listens there
            "api_port": port,
            "api_request_timeout_s": 3.0,
        }
    )
    token = await candidate_token(local)
    async with (
        served(local) as base,
        httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as http,
    ):
        # The database still answers: who you are is known.
        me = await http.get("/auth/me")
        assert me.status_code == 200
        # The proofs are stored (storage needs no Temporal); the opening itself cannot be sent.
        proofs = await evaluation_proofs(http, f"case-panne-{me.json()['account_id']}")
        response = await http.post(
            "/cases",
            json={
                "election_id": "panne",
                "departement": "60",
                "candidacy_declared_on": (dt.date.today() - dt.timedelta(days=30)).isoformat(),
                **proofs,
            },
        )
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["code"] == "service_unavailable"
        assert response.headers["retry-after"]
        assert "127.0.0.1" not in response.text
        listing = await http.get("/cases")
        assert listing.status_code == 503
        # Any other action during the outage: the same answer, the same audit outcome.
        case_id = f"case-panne-{me.json()['account_id']}"
        response = await http.post(f"/cases/{case_id}/withdrawal", json={})
        assert response.status_code == 503, response.text
        # A third party designated during the outage: no account is left behind.
        mandate = await upload(http, case_id, DocumentKind.MANDATE, "mandat.pdf")
        third_party = f"tiers{uuid.uuid4().hex[:8]}@example.test"
        response = await http.post(
            f"/cases/{case_id}/third-party",
            json={"email": third_party, "name": "Tiers", "mandate_document": mandate},
        )
        assert response.status_code == 503, response.text
    engine = create_engine(local)
    try:
        async with engine.connect() as connection:
            outcomes = (
                await connection.execute(
                    select(audit_log.c.action, audit_log.c.outcome).order_by(audit_log.c.entry_id)
                )
            ).all()
        assert await Accounts(engine, local).find_by_email(third_party) is None
    finally:
        await engine.dispose()
        if database is not None:
            await _drop_database(database)
    assert [(row.action, row.outcome) for row in outcomes] == [
        ("upload_document", "ok"),
        ("upload_document", "ok"),
        ("open_case", "service_unavailable"),
        ("withdraw", "service_unavailable"),
        ("upload_document", "ok"),
        ("mandate_third_party", "service_unavailable"),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_outage_mid_request_leaves_the_row_pending_then_completes_it(
    backend: str, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Temporal lost while the API waits: 503 "check the case", the row ``pending`` until the
    server is back and says the action never arrived; and no future left unread (asyncio's
    "Future exception was never retrieved")."""
    temporal_port = free_port()
    command = dev_server_command(
        host="127.0.0.1", port=temporal_port, ui_port=None, db_file=tmp_path / "temporal.sqlite"
    )
    url, database = await _database_url(backend, tmp_path)
    port = free_port()
    local = settings.model_copy(
        update={
            "data_dir": tmp_path,
            "database_url": url,
            "temporal_address": f"127.0.0.1:{temporal_port}",
            "api_port": port,
            # Shorter than the SDK's own retries against a server that is gone: the wait is
            # cut short while the call is under way.
            "api_request_timeout_s": 2.0,
        }
    )
    server = launch(command)
    try:
        await connect_when_ready(local)
        token = await candidate_token(local)
        engine = create_engine(local)
        async with (
            served(local) as base,
            httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as http,
        ):
            case_id = f"case-panne-{(await http.get('/auth/me')).json()['account_id']}"
            assert (await http.get("/cases")).status_code == 200  # connected
            proofs = await evaluation_proofs(http, case_id)
            stop(server)
            response = await http.post(
                "/cases",
                json={
                    "election_id": "panne",
                    "departement": "60",
                    "candidacy_declared_on": (dt.date.today() - dt.timedelta(days=30)).isoformat(),
                    **proofs,
                },
                headers={"Idempotency-Key": "ouverture-1"},
            )
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["code"] == "service_unavailable"
            assert "peut-être été enregistrée" in body["detail"]
            assert "Idempotency-Key" in body["detail"]
            assert await outcomes(engine) == [("open_case", "pending")]

            server = launch(command)

            async def completed() -> None:
                # The opening never reached the server: nothing stands, as for any outage.
                assert await outcomes(engine) == [("open_case", "service_unavailable")]

            await assert_eventually(completed, timeout=90)
        await engine.dispose()
    finally:
        stop(server)
        if database is not None:
            await _drop_database(database)
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


def launch(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


async def outcomes(engine: AsyncEngine) -> list[tuple[str, str]]:
    """The (action, outcome) of every audit row but the uploads, in order."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(audit_log.c.action, audit_log.c.outcome)
                .where(audit_log.c.action != "upload_document")
                .order_by(audit_log.c.entry_id)
            )
        ).all()
    return [(row.action, row.outcome) for row in rows]


@pytest.mark.skipif(not POSTGRES_URL, reason="needs SECUPOL_TEST_POSTGRES_URL")
async def test_database_down_is_503_then_the_api_recovers(
    settings: Settings, tmp_path: Path
) -> None:
    url, database = await _database_url("postgresql", tmp_path)
    assert database is not None
    port = free_port()
    local = settings.model_copy(
        update={"data_dir": tmp_path, "database_url": url, "api_port": port}
    )
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        token = await candidate_token(local)
        async with (
            served(local) as base,
            httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as http,
        ):
            assert (await http.get("/auth/me")).status_code == 200
            async with admin.connect() as connection:
                await connection.execute(
                    text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
                )
                await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE datname = '{database}'"
                    )
                )
            for request in (http.get("/auth/me"), http.get("/elections")):
                response = await request
                assert response.status_code == 503, response.text
                assert response.json()["code"] == "service_unavailable"
                assert database not in response.text
            async with admin.connect() as connection:
                await connection.execute(
                    text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
                )
            assert (await http.get("/auth/me")).status_code == 200
    finally:
        await admin.dispose()
        await _drop_database(database)


async def test_an_unexpected_error_is_a_generic_500() -> None:
    # No real component fails this way on purpose: a stand-in app raises a bug's error.
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise KeyError("secret-internal-detail")

    transport = httpx.ASGITransport(app=CatchAllMiddleware(broken))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        response = await http.get("/")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "secret" not in response.text
