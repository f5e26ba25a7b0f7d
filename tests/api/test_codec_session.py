"""The codec session of the Temporal Web UI: a short-lived secret of its own in a cookie limited to
``/codec/``, never the operator's API token; revocable; refused everywhere else; audited."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from api import admin
from api.main import create_app
from api.routes.codec import COOKIE
from api.serving import serving
from api.staff import create_staff
from core.accounts import Accounts, hash_token
from core.codec_sessions import CodecSessions, hash_secret
from core.db import audit_log, codec_sessions
from domain.errors import DomainError, ErrorCode
from domain.stages import Role
from embedded.temporal_server import free_port
from tests.api.conftest import ApiStack

PLAIN = '{"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "Ingi"}]}'
"""One payload the codec returns as it is (``json/plain``, ``"x"``)."""


def ui_headers(stack: ApiStack, cookie: str | None = None) -> dict[str, str]:
    """A Web UI call from the operator's browser (the cookie set by hand when given)."""
    headers = {
        "Content-Type": "application/json",
        "X-Namespace": stack.settings.temporal_namespace,
        "Origin": stack.settings.codec_cors_origins[0],
    }
    if cookie is not None:
        headers["Cookie"] = cookie
    return headers


def set_cookie_of(response: httpx.Response) -> dict[str, str]:
    """The attributes of the codec cookie an answer sets (lower-cased names; flags map to "")."""
    [header] = [
        value for value in response.headers.get_list("set-cookie") if value.startswith(COOKIE + "=")
    ]
    name_value, *attributes = [part.strip() for part in header.split(";")]
    parsed = {"value": name_value.split("=", 1)[1]}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        parsed[key.lower()] = value
    return parsed


async def new_operator(stack: ApiStack) -> tuple[str, str]:
    """A fresh operator account (tests disable or revoke it): its email and API token."""
    email = f"operator-{uuid.uuid4().hex[:8]}@interieur.example.test"
    _, token = await create_staff(
        Accounts(stack.engine, stack.settings),
        email=email,
        display_name="Agent exploitant",
        role=Role.OPERATOR,
    )
    return email, token


async def codec_sign_in(http: httpx.AsyncClient, token: str) -> httpx.Response:
    response = await http.post("/codec/connexion", data={"token": token})
    assert response.status_code == 200, response.text
    return response


async def session_row(stack: ApiStack, secret: str) -> dict[str, object]:
    async with stack.engine.connect() as connection:
        row = (
            (
                await connection.execute(
                    select(codec_sessions).where(
                        codec_sessions.c.secret_hash == hash_secret(secret)
                    )
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


def aware(moment: object) -> dt.datetime:
    assert isinstance(moment, dt.datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


async def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


@contextlib.asynccontextmanager
async def other_api(stack: ApiStack, **changes: object) -> AsyncIterator[str]:
    """A second API on the same database, with some settings changed."""
    port = free_port()
    settings = stack.settings.model_copy(update={"api_port": port, **changes})
    async with serving(create_app(settings), port) as base_url:
        yield base_url


async def test_the_cookie_holds_a_short_session_secret_never_the_token(api: ApiStack) -> None:
    _, token = await new_operator(api)
    async with api.http() as http:
        signed_in = await codec_sign_in(http, token)
    cookie = set_cookie_of(signed_in)
    secret = cookie["value"]
    assert secret and secret != token and token not in signed_in.headers.get("set-cookie", "")
    assert "httponly" in cookie
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/codec/"
    assert cookie["max-age"] == str(8 * 3600) == str(api.settings.codec_session_ttl_hours * 3600)
    # The API under test is reached over plain HTTP at a plain-HTTP public address.
    assert "secure" not in cookie
    # Stored hashed, for the TTL; the API token's hash is not what is stored.
    row = await session_row(api, secret)
    assert row["secret_hash"] not in (secret, hash_token(secret), hash_token(token))
    lifetime = aware(row["expires_at"]) - aware(row["created_at"])
    assert lifetime == dt.timedelta(hours=8)
    assert row["revoked_at"] is None
    # The UI's calls carry it and decode.
    async with api.http() as http:
        decoded = await http.post(
            "/codec/decode", content=PLAIN, headers=ui_headers(api, f"{COOKIE}={secret}")
        )
    assert decoded.status_code == 200, decoded.text


async def test_the_ttl_setting_and_an_https_public_address(api: ApiStack) -> None:
    _, token = await new_operator(api)
    async with (
        other_api(api, public_url="https://secupol.example.test", codec_session_ttl_hours=1) as url,
        httpx.AsyncClient(base_url=url, timeout=60.0) as http,
    ):
        signed_in = await codec_sign_in(http, token)
    cookie = set_cookie_of(signed_in)
    assert "secure" in cookie
    assert cookie["max-age"] == "3600"
    row = await session_row(api, cookie["value"])
    assert aware(row["expires_at"]) - aware(row["created_at"]) == dt.timedelta(hours=1)


async def test_a_session_expires_after_its_ttl(api: ApiStack) -> None:
    email, token = await new_operator(api)
    account = await Accounts(api.engine, api.settings).find_by_email(email)
    assert account is not None
    start = dt.datetime.now(dt.UTC)
    clock = [start]
    short = api.settings.model_copy(update={"codec_session_ttl_hours": 1})
    sessions = CodecSessions(api.engine, short, now=lambda: clock[0])
    secret = await sessions.open(account)
    clock[0] = start + dt.timedelta(minutes=59)
    assert (await sessions.authenticate(secret))[0].account_id == account.account_id
    clock[0] = start + dt.timedelta(hours=1)
    with pytest.raises(DomainError) as refused:
        await sessions.authenticate(secret)
    assert refused.value.code == ErrorCode.SESSION_INVALID

    # Through the API: a session whose end has passed is refused.
    async with api.http() as http:
        secret = set_cookie_of(await codec_sign_in(http, token))["value"]
    async with api.engine.begin() as connection:
        await connection.execute(
            update(codec_sessions)
            .where(codec_sessions.c.secret_hash == hash_secret(secret))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    async with api.http() as http:
        response = await http.post(
            "/codec/decode", content=PLAIN, headers=ui_headers(api, f"{COOKIE}={secret}")
        )
    await assert_refused(response, 401, "session_invalid")


async def test_sign_out_revokes_the_session_and_clears_the_cookie(api: ApiStack) -> None:
    _, token = await new_operator(api)
    async with api.http() as http:
        secret = set_cookie_of(await codec_sign_in(http, token))["value"]
        # The browser sends the cookie to /codec/deconnexion (its path is /codec/).
        signed_out = await http.post("/codec/deconnexion")
        assert signed_out.status_code == 200
        cleared = set_cookie_of(signed_out)
        assert cleared["max-age"] == "0" and cleared["path"] == "/codec/"
        assert (await http.post("/codec/decode", content=PLAIN, headers=ui_headers(api))).json()[
            "code"
        ] == "authentication_required"
    assert (await session_row(api, secret))["revoked_at"] is not None
    async with api.http() as http:
        response = await http.post(
            "/codec/decode", content=PLAIN, headers=ui_headers(api, f"{COOKIE}={secret}")
        )
    await assert_refused(response, 401, "session_invalid")
    # The API token itself was not touched.
    async with api.http(token) as http:
        assert (await http.post("/codec/decode", content=PLAIN, headers=ui_headers(api))).is_success


async def test_the_admin_command_revokes_every_session_of_an_account(
    api: ApiStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    email, token = await new_operator(api)
    secrets_ = []
    for _ in range(2):
        async with api.http() as http:
            secrets_.append(set_cookie_of(await codec_sign_in(http, token))["value"])
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SECUPOL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SECUPOL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SECUPOL_DATABASE_URL", api.settings.resolved_database_url)
    assert await admin.run(["codec-sessions-revoke", "--email", email]) == admin.EXIT_OK
    assert "Sessions de décodage fermées" in capsys.readouterr().out
    for secret in secrets_:
        async with api.http() as http:
            response = await http.post(
                "/codec/decode", content=PLAIN, headers=ui_headers(api, f"{COOKIE}={secret}")
            )
        await assert_refused(response, 401, "session_invalid")


async def test_a_disabled_account_loses_its_codec_sessions(api: ApiStack) -> None:
    email, token = await new_operator(api)
    async with api.http() as http:
        secret = set_cookie_of(await codec_sign_in(http, token))["value"]
    accounts = Accounts(api.engine, api.settings)
    account = await accounts.find_by_email(email)
    assert account is not None
    await accounts.disable(account.account_id)
    async with api.http() as http:
        response = await http.post(
            "/codec/decode", content=PLAIN, headers=ui_headers(api, f"{COOKIE}={secret}")
        )
    await assert_refused(response, 401, "session_invalid")


async def test_the_session_opens_nothing_but_the_codec(api: ApiStack) -> None:
    _, token = await new_operator(api)
    async with api.http() as http:
        secret = set_cookie_of(await codec_sign_in(http, token))["value"]
    # Not a Bearer token: neither elsewhere nor on the codec itself.
    async with api.http(secret) as http:
        await assert_refused(await http.get("/admin/audit"), 401, "session_invalid")
        await assert_refused(
            await http.post("/codec/decode", content=PLAIN, headers=ui_headers(api)),
            401,
            "session_invalid",
        )
    # Sent as a cookie outside /codec/ (a browser would not), it authenticates nothing.
    async with api.http() as http:
        response = await http.get("/admin/audit", headers={"Cookie": f"{COOKIE}={secret}"})
    await assert_refused(response, 401, "authentication_required")
    # The API token is no longer taken from a cookie, under the old name or the new one.
    for cookie in (f"secupol_codec={token}", f"{COOKIE}={token}"):
        async with api.http() as http:
            response = await http.post(
                "/codec/decode", content=PLAIN, headers=ui_headers(api, cookie)
            )
        assert response.status_code == 401, cookie.split("=")[0]


async def test_a_reviewer_gets_no_codec_session(api: ApiStack) -> None:
    async with api.http() as http:
        refused = await http.post("/codec/connexion", data={"token": api.staff["cnccfp"]})
    assert refused.status_code == 403
    assert COOKIE not in refused.headers.get("set-cookie", "")


async def test_sign_in_sign_out_and_decoding_are_audited(api: ApiStack) -> None:
    email, token = await new_operator(api)
    account = await Accounts(api.engine, api.settings).find_by_email(email)
    assert account is not None
    async with api.http() as http:
        secret = set_cookie_of(await codec_sign_in(http, token))["value"]
        assert (await http.post("/codec/decode", content=PLAIN, headers=ui_headers(api))).is_success
        await http.post("/codec/deconnexion")
    async with api.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(audit_log.c.action, audit_log.c.outcome, audit_log.c.actor_role)
                .where(audit_log.c.actor_id == account.account_id)
                .order_by(audit_log.c.entry_id)
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("codec_sign_in", "ok", "operator"),
        ("codec_decode", "ok", "operator"),
        ("codec_sign_out", "ok", "operator"),
    ]
    # No secret in the audit log.
    async with api.engine.connect() as connection:
        everything = repr((await connection.execute(select(audit_log))).all())
    assert not re.search(re.escape(secret), everything)


async def test_guessed_codec_secrets_count_as_refused_tokens(api: ApiStack) -> None:
    _, token = await new_operator(api)
    async with api.http() as http:
        secret = set_cookie_of(await codec_sign_in(http, token))["value"]
    async with (
        other_api(api, rate_limit_refused_tokens="3/minute") as url,
        httpx.AsyncClient(base_url=url, timeout=60.0) as http,
    ):
        statuses = []
        for index in range(4):
            response = await http.post(
                "/codec/decode", content=PLAIN, headers=ui_headers(api, f"{COOKIE}=devine-{index}")
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]
        assert response.json()["code"] == "rate_limited"
        assert "retry-after" in response.headers
        # A real secret waits too: the guessing client cannot tell a hit by its answer.
        response = await http.post(
            "/codec/decode", content=PLAIN, headers=ui_headers(api, f"{COOKIE}={secret}")
        )
        assert response.status_code == 429
