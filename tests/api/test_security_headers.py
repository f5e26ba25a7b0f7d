"""Security headers on every answer (issue 12): no sniffing, no framing, no referrer, no cache,
and a content policy that lets a browser load nothing but the page itself."""

from __future__ import annotations

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
    # The interactive documentation loads Swagger UI from its CDN: no policy that would break it.
    assert "content-security-policy" not in answers["documentation"].headers
