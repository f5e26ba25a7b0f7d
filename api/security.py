"""Security headers on every answer of the API (issue 12, first part).

- ``X-Content-Type-Options: nosniff``: a browser never guesses a type (an uploaded "PDF" is not
  run as HTML);
- ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``: no page is framed (clickjacking);
- ``Referrer-Policy: no-referrer``: a sign-in link's token never leaves in a Referer header;
- ``Cache-Control: no-store``: answers carry personal data or tokens, and no cache keeps them;
- ``Content-Security-Policy``: nothing loads but the page itself (JSON answers: nothing at all;
  the API's own forms: their inline style). The interactive documentation (``/docs``,
  ``/redoc``), which loads its scripts from a CDN, keeps FastAPI's defaults for scripts.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTML_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
"""The API's own forms (sign-in, codec session): inline style, forms posting to the API."""
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
"""JSON, files and problems: a browser may render nothing of them."""
DOCUMENTATION_PATHS = ("/docs", "/redoc")

COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)


class SecurityHeaders:
    """Adds the headers above to every HTTP answer (replacing any of the same name)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        documentation = str(scope.get("path", "")).startswith(DOCUMENTATION_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in {name for name, _ in COMMON_HEADERS}
                    and name.lower() != b"content-security-policy"
                ]
                headers.extend(COMMON_HEADERS)
                content_type = next(
                    (value for name, value in headers if name.lower() == b"content-type"), b""
                )
                if not documentation:
                    policy = HTML_POLICY if content_type.startswith(b"text/html") else OTHER_POLICY
                    headers.append((b"content-security-policy", policy.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
