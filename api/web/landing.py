"""The page the emailed sign-in link opens, shared by the JSON API's ``GET /auth/sign-in`` and the
pages (kept apart from both routers so that neither imports the other)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.web.templating import Crumb, PageContext, render


async def sign_in_landing(request: Request, token: str) -> HTMLResponse:
    """The page the emailed link opens (``GET /auth/sign-in``): it does not spend the link
    (mail scanners open links); its button does. No script runs on it."""
    return await render(
        request,
        "sign_in_link.html",
        PageContext(title="Connexion", crumbs=[Crumb("Connexion")], scripts=False),
        token=token[:200],
        problem=None,
    )
