"""Helpers of the staff page tests: a client signed in to the pages as a staff account."""

from __future__ import annotations

import re
import urllib.parse
from html import unescape

import httpx

from api.web.session import SESSION_COOKIE
from tests.api.conftest import ApiStack
from tests.web.pages import csrf_of


def page_client(web: ApiStack, token: str) -> httpx.AsyncClient:
    """A client whose page session is ``token``'s (the cookie holds the same token as the Bearer
    header, as the sign-in pages set it)."""
    http = web.http()
    host = urllib.parse.urlsplit(web.base_url).hostname or ""
    http.cookies.set(SESSION_COOKIE, token, domain=host, path="/")
    return http


def staff_client(web: ApiStack, key: str) -> httpx.AsyncClient:
    """A client signed in to the pages as the seeded staff account ``key``."""
    return page_client(web, web.staff[key])


async def post_page_form(
    http: httpx.AsyncClient,
    page_path: str,
    action: str,
    data: dict[str, str | list[str]],
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> httpx.Response:
    """Open ``page_path``, then post ``data`` (and ``files``) to ``action`` with its token."""
    page = await http.get(page_path)
    assert page.status_code == 200, page.text
    return await http.post(
        action, data={**data, "csrf_token": csrf_of(page.text)}, files=files or None
    )


def text_of(html: str) -> str:
    """The page's text, tags removed, entities read and spaces collapsed (for assertions on
    sentences)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))
