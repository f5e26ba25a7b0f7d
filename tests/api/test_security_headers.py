"""Security headers on every answer (issue 12): no sniffing, no framing, no referrer, no cache,
and a content policy that lets a browser load nothing but the page itself."""

from __future__ import annotations

import re

import httpx
import pytest

from api.docs import ASSETS
from api.main import create_app
from core.settings import Settings
from tests.api.conftest import ApiStack

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


async def test_every_kind_of_answer_carries_the_headers(api: ApiStack) -> None:
    async with api.http(None) as http:
        answers = {
            "json": await http.get("/healthz"),
            "problem": await http.get("/cases"),  # 401 problem+json
            "not found": await http.get("/nulle-part"),
            "sign-in page": await http.get("/auth/sign-in", params={"token": "x" * 40}),
            "documentation": await http.get("/docs"),
        }
    for name, answer in answers.items():
        for header, value in COMMON.items():
            assert answer.headers.get(header) == value, (name, header)
    policy = answers["sign-in page"].headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy  # the page runs no script
    assert answers["json"].headers["content-security-policy"].startswith("default-src 'none'")
    # The interactive documentation loads its scripts from the API itself, none inline.
    docs_policy = answers["documentation"].headers["content-security-policy"]
    assert "script-src 'self';" in docs_policy and "frame-ancestors 'none'" in docs_policy
    # The public address of the test stack is plain HTTP: no HSTS.
    for name, answer in answers.items():
        assert "strict-transport-security" not in answer.headers, name


@pytest.mark.parametrize(
    ("public_url", "hsts"),
    [("https://secupol.example.fr", True), ("http://localhost:8000", False)],
)
async def test_hsts_when_the_public_address_is_https(public_url: str, hsts: bool) -> None:
    settings = Settings(_env_file=None, public_url=public_url)  # type: ignore[call-arg]
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        answers = [await http.get(path) for path in ("/nulle-part", "/docs", "/openapi.json")]
    for answer in answers:
        if hsts:
            assert answer.headers["strict-transport-security"] == (
                "max-age=63072000; includeSubDomains"
            )
        else:
            assert "strict-transport-security" not in answer.headers


EXTERNAL = re.compile(r"(?:https?:)?//", re.IGNORECASE)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_documentation_loads_nothing_from_elsewhere_and_runs_no_inline_script(
    api: ApiStack, page: str
) -> None:
    async with api.http() as http:
        answer = await http.get(page)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        # No external address at all (no CDN, no fonts), and every script is a file.
        assert not EXTERNAL.search(answer.text), EXTERNAL.findall(answer.text)
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", answer.text, re.DOTALL)
        assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
        assert "<style" not in answer.text
        assert not re.search(r"\son[a-z]+\s*=", answer.text)  # no inline event handler
        policy = answer.headers["content-security-policy"]
        directives = dict(
            (part.split()[0], part.split()[1:]) for part in policy.split("; ") if part.strip()
        )
        assert directives["script-src"] == ["'self'"]
        assert directives["default-src"] == ["'none'"]
        assert "cdn" not in policy and "http" not in policy
        # Every asset the page names is served by the API.
        for path in re.findall(r'(?:src|href)="([^"]+)"', answer.text):
            asset = await http.get(path)
            assert asset.status_code == 200, path
            assert asset.content, path


async def test_the_documentation_assets_are_a_fixed_list(api: ApiStack) -> None:
    async with api.http() as http:
        for name in ASSETS:
            answer = await http.get(f"/docs/assets/{name}")
            assert answer.status_code == 200, name
            assert answer.headers["x-content-type-options"] == "nosniff"
        init = await http.get("/docs/assets/swagger-init.js")
        assert init.headers["content-type"].startswith("text/javascript")
        assert "validatorUrl: null" in init.text
        for path in ("/docs/assets/..%2F..%2Fpyproject.toml", "/docs/assets/core.py"):
            assert (await http.get(path)).status_code == 404, path
