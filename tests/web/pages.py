"""Helpers of the page tests: forms read like a browser reads them, over httpx."""

from __future__ import annotations

import re

import httpx

from tests.api.conftest import ApiStack

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def post_form(
    http: httpx.AsyncClient, page_path: str, action: str, data: dict[str, str]
) -> httpx.Response:
    """Open ``page_path``, then post ``data`` to ``action`` with the page's CSRF token."""
    page = await http.get(page_path)
    assert page.status_code == 200, page.text
    return await http.post(action, data={**data, "csrf_token": csrf_of(page.text)})


async def sign_in_pages(
    web: ApiStack, http: httpx.AsyncClient, email: str, name: str | None
) -> None:
    """Create an account and sign ``http`` in to the pages from the emailed link (and name the
    account when ``name`` is given)."""
    before = len(web.mail.store.for_recipient(email))
    answer = await post_form(http, "/creer-un-compte", "/creer-un-compte", {"email": email})
    assert answer.status_code == 200, answer.text
    token = await web.link_token(email, before)
    landing = await http.get("/auth/sign-in", params={"token": token})
    answer = await http.post(
        "/connexion/lien", data={"token": token, "csrf_token": csrf_of(landing.text)}
    )
    assert answer.status_code == 303, answer.text
    if name is not None:
        answer = await post_form(http, "/compte", "/compte", {"display_name": name})
        assert answer.status_code == 303, answer.text
