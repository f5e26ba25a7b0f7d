"""Staff sign-in through OpenID Connect, end to end against a real provider.

The provider is the embedded stack's (``oidc-provider`` under Node, started by the same code as
``python -m embedded.oidc serve``) on a free port; the API is the real one, served on another
port with its OIDC settings pointing at that provider, on the package's seeded database. A
"browser" (an ``httpx`` client with its cookie jar) follows the redirects, fills the provider's
login and consent forms, and lands on the API's callback.
"""

from __future__ import annotations

import contextlib
import html.parser
import re
import subprocess
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from api import oidc
from api.main import create_app
from api.serving import serving
from api.staff import create_staff
from core.accounts import Accounts
from core.db import audit_log
from core.settings import (
    DEVELOPMENT_OIDC_CLIENT_SECRET,
    DEVELOPMENT_OIDC_STATE_SECRET,
    Environment,
    Settings,
)
from domain.errors import MESSAGES, ErrorCode
from domain.stages import Role
from embedded.oidc import provider_command, provider_environment
from embedded.temporal_server import free_port
from tests.api.conftest import ApiStack
from tests.helpers import assert_eventually

TOKEN_ON_PAGE = re.compile(r'<pre id="jeton">([A-Za-z0-9_\-]+)</pre>')
CSRF_ON_PAGE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@contextlib.contextmanager
def running_provider(settings: Settings, redirect_uri: str, log_file: Path) -> Iterator[None]:
    """The embedded provider for ``settings``' issuer, until the block ends."""
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            provider_command(),
            env=provider_environment(settings, redirect_uris=[redirect_uri]),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
async def staff_api(api: ApiStack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The API with OIDC on (the package's database), and its provider; yields the API's URL."""
    port, provider_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{provider_port}"
    settings = api.settings.model_copy(
        update={
            "api_port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "oidc_issuer": issuer,
            # This module signs in a few dozen times a minute from one address.
            "rate_limit_sign_in_form": "1000/minute",
        }
    )
    log_file = tmp_path_factory.mktemp("oidc") / "provider.log"
    with running_provider(settings, settings.oidc_callback_url, log_file):

        async def answers() -> None:
            async with httpx.AsyncClient(timeout=5) as http:
                try:
                    response = await http.get(f"{issuer}/.well-known/openid-configuration")
                except httpx.HTTPError as error:
                    raise AssertionError(f"provider not up: {error!r}") from None
                assert response.status_code == 200

        await assert_eventually(answers, timeout=60)
        async with serving(create_app(settings), port) as base_url:
            yield base_url


class _Form(html.parser.HTMLParser):
    """The first form of a page: its action and its hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = values.get("action")
        if tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""


def _form(response: httpx.Response) -> _Form:
    parser = _Form()
    parser.feed(response.text)
    assert parser.action, response.text
    return parser


async def authorize(browser: httpx.AsyncClient, base_url: str, email: str) -> str:
    """Start a staff sign-in and get through the provider; the callback URL it sends back to
    (not opened yet)."""
    response = await browser.get(f"{base_url}/auth/staff/sign-in")
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    callback = f"{base_url}/auth/staff/callback"
    for _ in range(20):
        if location.startswith(callback):
            return location
        response = await browser.get(location)
        if response.is_redirect:
            location = urllib.parse.urljoin(str(response.url), response.headers["location"])
            continue
        assert response.status_code == 200, response.text
        form = _form(response)
        fields = dict(form.fields)
        if fields.get("prompt") == "login":
            fields |= {"login": email, "password": "peu importe"}
        assert form.action is not None
        response = await browser.post(
            urllib.parse.urljoin(str(response.url), form.action), data=fields
        )
        assert response.is_redirect, response.text
        location = urllib.parse.urljoin(str(response.url), response.headers["location"])
    raise AssertionError("the provider never sent the browser back")


def browser() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=30)


async def sign_in(base_url: str, email: str) -> httpx.Response:
    async with browser() as http:
        return await http.get(await authorize(http, base_url, email))


async def new_staff(api: ApiStack, role: Role = Role.ADMIN) -> tuple[str, str]:
    """A staff account made by an administrator: its address and id."""
    email = f"agent-{uuid.uuid4().hex[:10]}@interieur.example.test"
    account, _ = await create_staff(
        Accounts(api.engine, api.settings),
        email=email,
        display_name="Agent fédéré",
        role=role,
        departements=["60"] if role == Role.PREFECTURE else [],
    )
    return email, account.account_id


def assert_refused(response: httpx.Response, code: ErrorCode, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert code.value in response.text
    assert MESSAGES[code].replace("'", "&#x27;") in response.text
    assert "<pre>" not in response.text
    # The spent state is cleared.
    assert oidc.STATE_COOKIE in response.headers.get("set-cookie", "")


async def test_a_staff_account_signs_in_and_its_session_works(
    api: ApiStack, staff_api: str
) -> None:
    email, account_id = await new_staff(api, Role.ADMIN)
    async with browser() as http:
        callback = await authorize(http, staff_api, email.upper())
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)
        assert set(query) >= {"code", "state"}
        response = await http.get(callback)
        # Signed in to the pages (an HttpOnly cookie), on to the admin's home page.
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/administration"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "httponly" in response.headers["set-cookie"].lower()
        home = await http.get(f"{staff_api}/administration")
        assert home.status_code == 200, home.text
        # A token for scripts, from the page "Jeton d'API", shown once.
        page = await http.get(f"{staff_api}/agents/jeton")
        csrf = CSRF_ON_PAGE.search(page.text)
        assert csrf, page.text
        issued = await http.post(f"{staff_api}/agents/jeton", data={"csrf_token": csrf.group(1)})
        assert issued.status_code == 201, issued.text
    found = TOKEN_ON_PAGE.search(issued.text)
    assert found, issued.text
    token = found.group(1)
    async with api.http(token) as http:
        me = await http.get("/auth/me")
        assert me.status_code == 200
        assert (me.json()["account_id"], me.json()["role"]) == (account_id, "admin")
        # A route only admins may use, and the audit row of this sign-in.
        audit = await http.get("/admin/audit", params={"limit": 50})
        assert audit.status_code == 200
    rows = [row for row in audit.json() if row["action"] == "sign_in_oidc"]
    assert rows and rows[0]["actor_id"] == account_id and rows[0]["outcome"] == "ok"
    issued_rows = [row for row in audit.json() if row["action"] == "issue_api_token"]
    assert issued_rows and issued_rows[0]["actor_id"] == account_id


async def test_every_staff_role_may_sign_in(api: ApiStack, staff_api: str) -> None:
    for role in (Role.OPERATOR, Role.PREFECTURE, Role.CNCCFP):
        email, _ = await new_staff(api, role)
        response = await sign_in(staff_api, email)
        assert response.status_code == 303, (role, response.text)


async def test_a_collectivite_agent_signs_in_to_the_elus_pages(
    api: ApiStack, staff_api: str
) -> None:
    email = f"agent-{uuid.uuid4().hex[:10]}@mairie.example.test"
    await Accounts(api.engine, api.settings).create(
        email=email, display_name="Agent de mairie", role=Role.COLLECTIVITE
    )
    async with browser() as http:
        response = await http.get(await authorize(http, staff_api, email))
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/espace-elus"
        home = await http.get(f"{staff_api}/espace-elus")
        assert home.status_code == 200, home.text


async def test_unknown_candidate_and_disabled_addresses_get_one_refusal(
    api: ApiStack, staff_api: str
) -> None:
    accounts = Accounts(api.engine, api.settings)
    unknown = f"inconnu-{uuid.uuid4().hex[:8]}@interieur.example.test"
    candidate = f"cand-{uuid.uuid4().hex[:8]}@example.test"
    candidate_id = (
        await accounts.create(email=candidate, display_name="Camille", role=Role.CANDIDATE)
    ).account_id
    # An official signs in from emailed links only, like a candidate.
    official = f"elu-{uuid.uuid4().hex[:8]}@example.test"
    await accounts.create(email=official, display_name="Dominique", role=Role.ELU)
    disabled, disabled_id = await new_staff(api, Role.ADMIN)
    await accounts.disable(disabled_id)
    for email in (unknown, candidate, official, disabled):
        response = await sign_in(staff_api, email)
        assert_refused(response, ErrorCode.OIDC_ACCOUNT_UNKNOWN, 403)
    async with api.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(audit_log.c.actor_id, audit_log.c.outcome).where(
                    audit_log.c.action == "sign_in_oidc",
                    audit_log.c.actor_id.in_([candidate_id, disabled_id]),
                )
            )
        ).all()
    assert sorted(tuple(row) for row in rows) == sorted(
        [(candidate_id, "oidc_account_unknown"), (disabled_id, "oidc_account_unknown")]
    )


async def test_an_unverified_address_is_refused(api: ApiStack, staff_api: str) -> None:
    # The embedded provider answers email_verified=false for "+non-verifie" addresses.
    email = f"agent-{uuid.uuid4().hex[:8]}+non-verifie@interieur.example.test"
    await create_staff(
        Accounts(api.engine, api.settings), email=email, display_name="Agent", role=Role.ADMIN
    )
    assert_refused(await sign_in(staff_api, email), ErrorCode.OIDC_EMAIL_UNVERIFIED, 403)


async def test_a_tampered_state_or_another_browser_is_refused(
    api: ApiStack, staff_api: str
) -> None:
    email, _ = await new_staff(api)
    async with browser() as http:
        callback = await authorize(http, staff_api, email)
        tampered = re.sub(r"state=[^&]+", "state=forged", callback)
        assert_refused(await http.get(tampered), ErrorCode.OIDC_STATE_INVALID, 400)
    # A callback opened in another browser (an attacker's link) has no state cookie.
    async with browser() as http:
        callback = await authorize(http, staff_api, email)
    async with browser() as other:
        assert_refused(await other.get(callback), ErrorCode.OIDC_STATE_INVALID, 400)
    # A forged cookie.
    async with browser() as http:
        callback = await authorize(http, staff_api, email)
        http.cookies.set(oidc.STATE_COOKIE, "forged.cookie.value", path=oidc.STATE_COOKIE_PATH)
        response = await http.get(callback)
    assert_refused(response, ErrorCode.OIDC_STATE_INVALID, 400)


async def test_a_code_is_used_once(api: ApiStack, staff_api: str) -> None:
    email, _ = await new_staff(api)
    async with browser() as http:
        callback = await authorize(http, staff_api, email)
        cookie = http.cookies.get(oidc.STATE_COOKIE)
        assert cookie
        assert (await http.get(callback)).status_code == 303
        # Replayed in the same browser: its state was spent with the first use.
        assert_refused(await http.get(callback), ErrorCode.OIDC_STATE_INVALID, 400)
        # Replayed with the state cookie kept aside: the provider refuses the code.
        http.cookies.set(oidc.STATE_COOKIE, cookie, path=oidc.STATE_COOKIE_PATH)
        assert_refused(await http.get(callback), ErrorCode.OIDC_TOKEN_INVALID, 401)


async def test_an_id_token_for_another_nonce_is_refused(api: ApiStack, staff_api: str) -> None:
    email, _ = await new_staff(api)
    async with browser() as http:
        callback = await authorize(http, staff_api, email)
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)["state"][0]
        pending = oidc.unseal(api.settings, http.cookies.get(oidc.STATE_COOKIE), state)
        # The same sign-in, but the cookie expects another nonce than the ID token carries
        # (an ID token injected from another sign-in would look like this).
        forged = oidc.PendingSignIn(state=state, nonce="autre-nonce", verifier=pending.verifier)
        http.cookies.set(
            oidc.STATE_COOKIE, oidc.seal(api.settings, forged), path=oidc.STATE_COOKIE_PATH
        )
        assert_refused(await http.get(callback), ErrorCode.OIDC_TOKEN_INVALID, 401)


async def test_a_cancelled_sign_in_is_refused(api: ApiStack, staff_api: str) -> None:
    async with browser() as http:
        response = await http.get(f"{staff_api}/auth/staff/sign-in")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(response.headers["location"]).query)
        state = query["state"][0]
        response = await http.get(
            f"{staff_api}/auth/staff/callback",
            params={"error": "access_denied", "state": state},
        )
    assert_refused(response, ErrorCode.OIDC_DENIED, 401)


async def test_the_state_cookie_is_scoped_and_short_lived(staff_api: str) -> None:
    async with browser() as http:
        response = await http.get(f"{staff_api}/auth/staff/sign-in")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{oidc.STATE_COOKIE}=")
    for attribute in ("HttpOnly", "Max-Age=600", "Path=/auth/staff/", "SameSite=lax"):
        assert attribute.lower() in cookie.lower(), cookie
    location = urllib.parse.urlsplit(response.headers["location"])
    query = urllib.parse.parse_qs(location.query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["openid email"]
    assert {"state", "nonce", "code_challenge", "client_id", "redirect_uri"} <= set(query)


async def test_an_unconfigured_or_unreachable_provider_is_a_french_page(api: ApiStack) -> None:
    for issuer, code, status in (
        ("", ErrorCode.OIDC_NOT_CONFIGURED, 404),
        (f"http://127.0.0.1:{free_port()}", ErrorCode.OIDC_PROVIDER_ERROR, 502),
    ):
        port = free_port()
        settings = api.settings.model_copy(update={"api_port": port, "oidc_issuer": issuer})
        async with serving(create_app(settings), port) as base_url, browser() as http:
            response = await http.get(f"{base_url}/auth/staff/sign-in")
        assert_refused(response, code, status)


async def test_callbacks_count_against_the_clients_sign_in_limit(api: ApiStack) -> None:
    port = free_port()
    settings = api.settings.model_copy(
        update={"api_port": port, "rate_limit_sign_in_form": "2/minute"}
    )
    async with serving(create_app(settings), port) as base_url, browser() as http:
        for _ in range(2):
            response = await http.get(f"{base_url}/auth/staff/callback", params={"state": "x"})
            assert_refused(response, ErrorCode.OIDC_STATE_INVALID, 400)
        response = await http.get(f"{base_url}/auth/staff/callback", params={"state": "x"})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert MESSAGES[ErrorCode.RATE_LIMITED].replace("'", "&#x27;") in response.text


def test_production_refuses_the_development_oidc_secrets() -> None:
    keys = {
        "document_keys": {"k": SecretStr("a" * 44)},
        "document_key_id": "k",
        "payload_keys": {"p": SecretStr("b" * 44)},
        "payload_key_id": "p",
    }
    good = {
        "oidc_issuer": "https://auth.agentconnect.gouv.fr/api/v2",
        "oidc_client_secret": SecretStr("secret-de-production"),
        "oidc_client_id": "secupol",
        "oidc_state_secret": SecretStr("etat-de-production-" + "x" * 20),
    }
    Settings(environment=Environment.PRODUCTION, **keys, **good)  # type: ignore[arg-type]
    Settings(environment=Environment.PRODUCTION, **keys, oidc_issuer="")  # type: ignore[arg-type]
    for wrong in (
        {"oidc_issuer": "http://auth.example.test"},
        {"oidc_client_secret": SecretStr(DEVELOPMENT_OIDC_CLIENT_SECRET)},
        {"oidc_state_secret": SecretStr(DEVELOPMENT_OIDC_STATE_SECRET)},
        {"oidc_state_secret": SecretStr("trop-court")},
        {"oidc_client_id": ""},
    ):
        with pytest.raises(ValueError, match=r"(?i)oidc"):
            Settings(environment=Environment.PRODUCTION, **keys, **(good | wrong))  # type: ignore[arg-type]
