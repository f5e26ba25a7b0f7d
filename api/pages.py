"""The few HTML pages of the API: forms a person opens in a browser (sign-in, codec session)."""

from __future__ import annotations

import html

from fastapi.responses import HTMLResponse

_TEMPLATE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{title}</title>
<meta name="robots" content="noindex"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>{heading}</h1>
{content}
</body></html>"""


def page(content: str, *, title: str, heading: str = "Sécu'Pol", status: int = 200) -> HTMLResponse:
    """A French page around ``content`` (already HTML: escape what it quotes)."""
    return HTMLResponse(
        _TEMPLATE.format(title=html.escape(title), heading=html.escape(heading), content=content),
        status_code=status,
    )


def message_page(text: str, *, title: str, heading: str = "Sécu'Pol", status: int) -> HTMLResponse:
    """A page that says one thing (a refusal), escaped."""
    return page(f"<p>{html.escape(text)}</p>", title=title, heading=heading, status=status)
