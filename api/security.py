"""Security headers on every answer of the API (issue 12, first part).

- ``X-Content-Type-Options: nosniff``: a browser never guesses a type (an uploaded "PDF" is not
  run as HTML);
- ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``: no page is framed (clickjacking);
- ``Referrer-Policy: no-referrer``: a sign-in link's token never leaves in a Referer header;
- ``Cache-Control: no-store``: answers carry personal data or tokens, and no cache keeps them;
- ``Content-Security-Policy``: nothing loads but the page itself (JSON answers: nothing at all;
  the API's own forms: no script; the web pages: the DSFR's files from ``/static/``). The
  interactive documentation (``/docs``, ``/redoc``, ``api.docs``) loads Swagger UI and ReDoc
  from the API itself: scripts from ``'self'`` only, no inline script, no CDN; styles inline
  (both tools set style attributes),
  images as ``data:`` URIs, ReDoc's search worker from a ``blob:``;
- ``Strict-Transport-Security`` (two years, subdomains included) when the public address
  (``SECUPOL_PUBLIC_URL``) is HTTPS: a browser then never tries the service in clear again.
  Not sent over a plain-HTTP public address (development), where it would mean nothing.

The documentation's assets and the pages' static files (fixed files of pinned packages, no
personal data) may be cached a day; every other answer carries ``Cache-Control: no-store``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTML_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""The API's own forms under ``/auth/`` and ``/codec/`` (the emailed link's landing page, the
token page, the codec session): no script at all; the DSFR's styles, fonts and icons, and the
older forms' inline style."""
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
"""The web pages (``api.web``): the DSFR's scripts, styles, fonts and icons from the app itself
(``/static/``), no inline script or style, icons as ``data:`` URIs where the DSFR has them."""
FORM_PATHS = ("/auth/", "/codec/")
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
"""JSON, files and problems: a browser may render nothing of them."""
DOCUMENTATION_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""``/docs`` and ``/redoc``: their scripts and styles from the API itself (``api.docs``)."""
DOCUMENTATION_PATHS = ("/docs", "/redoc")
ASSET_PATHS = ("/docs/assets/", "/static/")
ASSET_CACHE = b"public, max-age=86400"
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")

COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)

_REPLACED = {name for name, _ in COMMON_HEADERS} | {b"content-security-policy", HSTS[0]}


class SecurityHeaders:
    """Adds the headers above to every HTTP answer (replacing any of the same name).

    Args:
        app: The application.
        hsts: Whether to send ``Strict-Transport-Security`` (the public address is HTTPS).
    """

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        documentation = path.startswith(DOCUMENTATION_PATHS)
        asset = path.startswith(ASSET_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in _REPLACED
                ]
                headers.extend(COMMON_HEADERS)
                if asset and message.get("status") == 200:
                    headers = [
                        (name, ASSET_CACHE if name == b"cache-control" else value)
                        for name, value in headers
                    ]
                if self.hsts:
                    headers.append(HSTS)
                content_type = next(
                    (value for name, value in headers if name.lower() == b"content-type"), b""
                )
                if not content_type.startswith(b"text/html"):
                    policy = OTHER_POLICY
                elif documentation:
                    policy = DOCUMENTATION_POLICY
                elif path.startswith(FORM_PATHS):
                    policy = HTML_POLICY
                else:
                    policy = PAGE_POLICY
                headers.append((b"content-security-policy", policy.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
