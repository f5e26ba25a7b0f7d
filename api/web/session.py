"""The page session (an HttpOnly cookie holding a session token) and the forms' CSRF tokens.

The cookie ``secupol_session`` holds the same kind of token as ``Authorization: Bearer``: a page
request is authenticated by the same ``Accounts.authenticate``, with the same throttling of
refused tokens, and the session ends (sign-out, expiry, disabled account) the same way.

CSRF: every form carries ``csrf_token``, an HMAC of a random value held in the HttpOnly cookie
``secupol_csrf`` (SameSite=Lax) — the signed double-submit pattern. A well-kept middleware
was considered and not kept: ``starlette-csrf`` reads the token from a header only (a form
without JavaScript cannot set one), and ``asgi-csrf`` guards every POST of the application,
the Bearer JSON API and its streamed uploads included, which have no cookie to protect. The
token is bound to the cookie with the standard library's ``hmac`` (no secret to configure: the
cookie value is the key, and a third-party site can neither read nor choose it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import Response

from api.deps import CurrentUser, Services
from api.ratelimit import Bucket, limiter_of
from domain.errors import DomainError, ErrorCode

SESSION_COOKIE = "secupol_session"
CSRF_COOKIE = "secupol_csrf"
CSRF_FIELD = "csrf_token"
_CSRF_MESSAGE = b"secupol-page-form"


class SignInRequired(Exception):
    """A page that needs a signed-in person was asked without a (valid) session."""


class CsrfRefused(Exception):
    """A form came without the token of the page it was read from."""


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def secure_cookies(request: Request) -> bool:
    return services_of(request).settings.public_url.lower().startswith("https://")


async def page_user(request: Request) -> CurrentUser | None:
    """The person signed in by the page session, or None (no cookie, or a refused one)."""
    cached: CurrentUser | bool | None = getattr(request.state, "page_user", False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    token = request.cookies.get(SESSION_COOKIE, "")
    user = None
    if token:
        limiter = limiter_of(request)
        client = limiter.client(request)
        await limiter.check(Bucket.REFUSED_TOKENS, client)
        try:
            if len(token) > 200:
                raise DomainError(ErrorCode.SESSION_INVALID)
            account, actor = await services_of(request).accounts.authenticate(token)
            user = CurrentUser(account=account, actor=actor, token=token)
        except DomainError:
            await limiter.hit(Bucket.REFUSED_TOKENS, client)
            request.state.clear_session = True
    request.state.page_user = user
    return user


async def require_user(request: Request) -> CurrentUser:
    user = await page_user(request)
    if user is None:
        raise SignInRequired
    return user


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    hours = services_of(request).settings.session_ttl_hours
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request)
    )


def _csrf_seed(request: Request) -> str:
    seed = getattr(request.state, "csrf_seed", None) or request.cookies.get(CSRF_COOKIE, "")
    if not seed or len(seed) > 100:
        seed = secrets.token_urlsafe(32)
        request.state.new_csrf_seed = seed
    request.state.csrf_seed = seed
    return str(seed)


def csrf_token(request: Request) -> str:
    """The token the page's forms carry (sets the cookie with the response if needed)."""
    return hmac.new(_csrf_seed(request).encode(), _CSRF_MESSAGE, hashlib.sha256).hexdigest()


def finish_response(request: Request, response: Response) -> Response:
    """Set the cookies this request decided on (a new CSRF seed, a refused session dropped)."""
    seed = getattr(request.state, "new_csrf_seed", None)
    if seed:
        response.set_cookie(
            CSRF_COOKIE,
            seed,
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request),
        )
    if getattr(request.state, "clear_session", False):
        clear_session_cookie(request, response)
    return response


async def checked_form(request: Request, **limits: Any) -> FormData:
    """The posted form, once its CSRF token matches the cookie's (else ``CsrfRefused``)."""
    form = await request.form(**limits)
    # Closed by ``PageRoute`` once the page is answered (its files are temporary files).
    request.state.form = form
    seed = request.cookies.get(CSRF_COOKIE, "")
    given = form.get(CSRF_FIELD)
    if not seed or not isinstance(given, str):
        raise CsrfRefused
    expected = hmac.new(seed.encode(), _CSRF_MESSAGE, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise CsrfRefused
    return form
