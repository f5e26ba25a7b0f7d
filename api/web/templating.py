"""The Jinja2 environment of the pages (autoescape on) and ``render``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from api.web.session import csrf_token, finish_response, page_user
from domain.calendar import paris_time
from domain.documents import ContentType
from domain.stages import Role

ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("api.web", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

SERVICE_NAME = "Sécu'Pol"
SERVICE_TAGLINE = "Remboursement des frais de sécurité des candidats menacés"

_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def french_date(value: dt.date | dt.datetime | None) -> str:
    """« 3 mars 2027 » (a moment is read in Paris time)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = paris_time(value) if value.tzinfo else value
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def french_datetime(value: dt.datetime | None) -> str:
    """« 3 mars 2027 à 18 h 00 (heure de Paris) »."""
    if value is None:
        return ""
    local = paris_time(value) if value.tzinfo else value
    return f"{french_date(local)} à {local.hour} h {local.minute:02d} (heure de Paris)"


def euros(cents: int | None) -> str:
    """« 1 234,50 € » (narrow no-break spaces, as French typography has them)."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", "\u202f")
    return f"{sign}{grouped},{rest:02d}\u00a0€"


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} Mo" if size >= 1024 * 1024 else f"{size // 1024} Ko"


ENVIRONMENT.filters["date_fr"] = french_date
ENVIRONMENT.filters["datetime_fr"] = french_datetime
ENVIRONMENT.filters["euros"] = euros
ENVIRONMENT.filters["megabytes"] = megabytes

ACCEPTED_TYPES = ",".join(
    [".pdf", ".jpg", ".jpeg", ".png", *(content_type.value for content_type in ContentType)]
)
"""The ``accept`` of file inputs: what ``domain.documents.ContentType`` lets through."""
ACCEPTED_TYPES_TEXT = "PDF, JPEG ou PNG"


@dataclass
class Crumb:
    label: str
    href: str | None = None


@dataclass
class NavItem:
    label: str
    href: str
    current: bool = False


@dataclass
class PageContext:
    """What the layout needs besides the page's own data."""

    title: str
    crumbs: list[Crumb] = field(default_factory=list)
    scripts: bool = True
    """Whether the DSFR's scripts load (the sign-in landing page runs none)."""


def navigation(request: Request, role: Role | None) -> list[NavItem]:
    """The main menu for a role (the staff helper adds theirs through ``EXTRA_NAVIGATION``)."""
    items: list[NavItem] = [NavItem("Accueil", "/")]
    if role in (Role.CANDIDATE, Role.THIRD_PARTY):
        items.append(NavItem("Mes dossiers", "/dossiers"))
    for roles, label, href in EXTRA_NAVIGATION:
        if role in roles:
            items.append(NavItem(label, href))
    if role is not None:
        items.append(NavItem("Mon compte", "/compte"))
    path = request.url.path
    for item in items:
        item.current = path == item.href or (item.href != "/" and path.startswith(item.href))
    return items


EXTRA_NAVIGATION: list[tuple[frozenset[Role], str, str]] = []
"""Menu entries of other audiences' pages: (roles, label, path), appended by their modules."""


def upload_limits(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    return {
        "max_bytes": settings.max_document_bytes,
        "max_text": megabytes(settings.max_document_bytes),
        "case_text": megabytes(settings.max_case_bytes),
        "accept": ACCEPTED_TYPES,
        "types_text": ACCEPTED_TYPES_TEXT,
    }


async def render(
    request: Request,
    template: str,
    page: PageContext,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page of ``templates/`` with the layout's context."""
    user = await page_user(request)
    body = ENVIRONMENT.get_template(template).render(
        request=request,
        page=page,
        user=user,
        navigation=navigation(request, user.role if user else None),
        csrf_token=csrf_token(request),
        service_name=SERVICE_NAME,
        service_tagline=SERVICE_TAGLINE,
        uploads=upload_limits(request),
        **context,
    )
    response = HTMLResponse(body, status_code=status)
    finish_response(request, response)
    return response
