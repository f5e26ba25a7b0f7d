"""The web pages of Sécu'Pol: server-rendered (Jinja2) in the State design system (DSFR).

One more front door on the same gateway: every page route authenticates through
``Accounts.authenticate`` (a cookie session instead of a Bearer header), checks roles with
``api.deps.Allow`` and acts on cases through the very functions the JSON routes run
(``api.routes.*``, ``api.gateway.CaseGateway``): no second path to the workflow.

- ``session``: the ``secupol_session`` cookie, the page user, CSRF tokens of forms;
- ``templating``: the Jinja2 environment (autoescape) and ``render``;
- ``problems``: a refusal as the JSON API would answer it (same code, French detail, field);
- ``routing``: ``PageRoute``, which turns what a page raises into a French HTML page;
- ``routes_public``: home, sign-in, account; ``routes_candidate``: the candidate's pages.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from core.settings import Settings

APP_STATIC = Path(__file__).parent / "static"
_DSFR = Path("node_modules") / "@gouvfr" / "dsfr" / "dist"


def dsfr_dist() -> Path:
    """The DSFR's built files, installed by ``npm ci``: beside the sources (a checkout, ``make``)
    or under the working directory (the image copies them to ``/app``)."""
    beside = Path(__file__).resolve().parents[2] / _DSFR
    return beside if beside.is_dir() else Path.cwd() / _DSFR


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on the application."""
    # Imported here, not above: the JSON API's routes import light modules of this package
    # (``landing``) and must not pull in the page routers, which import them.
    from api.web import routes_admin, routes_candidate, routes_elus, routes_public, routes_staff

    for module in (routes_public, routes_candidate, routes_staff, routes_admin, routes_elus):
        app.include_router(module.router)
    app.mount("/static/app", StaticFiles(directory=APP_STATIC), name="static-app")
    # check_dir=False: the API still starts (JSON, /docs) where the Node packages are missing;
    # the pages then show unstyled and the readiness of the pages is the operator's to fix.
    app.mount("/static/dsfr", StaticFiles(directory=dsfr_dist(), check_dir=False), name="dsfr")


UPLOAD_FORM_PREFIXES = ("/dossiers", "/agents/dossiers")
"""Pages whose forms carry files (multipart): their bodies may exceed the JSON limit."""
MAX_FILES_PER_FORM = 2


def upload_form_bytes(settings: Settings) -> int:
    """Largest body of an upload form: its files at the document limit, and the fields."""
    return MAX_FILES_PER_FORM * settings.max_document_bytes + 256 * 1024
