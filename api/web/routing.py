"""``PageRoute``: what a page raises becomes a French HTML page, never a JSON problem.

- no session: a redirection to the sign-in page, which brings the person back afterwards;
- a form without its CSRF token: 403, "reload the page";
- a refusal the JSON API knows (``problems.problem_of``): its status, code and French detail;
- anything else: the generic 500 page (and the log line the JSON API writes too).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from api.web.problems import problem_of
from api.web.session import CsrfRefused, SignInRequired, finish_response
from api.web.templating import PageContext, render
from domain.errors import MESSAGES, ErrorCode

log = logging.getLogger(__name__)

CSRF_DETAIL = (
    "Ce formulaire a expiré ou ne vient pas de Sécu'Pol. Rechargez la page, puis recommencez."
)


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path if request.method == "GET" else "/dossiers"
    query = urllib.parse.urlencode({"suite": target})
    response = RedirectResponse(f"/connexion?{query}", status_code=303)
    finish_response(request, response)
    return response


async def error_page(
    request: Request, status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    titles = {
        401: "Connexion requise",
        403: "Action refusée",
        404: "Page introuvable",
        409: "Action impossible maintenant",
        413: "Fichier trop volumineux",
        415: "Type de fichier refusé",
        422: "Données invalides",
        429: "Trop de demandes",
        503: "Service momentanément indisponible",
    }
    title = titles.get(status, "Erreur")
    response = await render(
        request, "error.html", PageContext(title=title), status=status, code=code, detail=detail
    )
    if headers:
        response.headers.update(headers)
    return response


class PageRoute(APIRoute):
    """An ``APIRoute`` whose errors are pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            finally:
                form = getattr(request.state, "form", None)
                if form is not None:
                    await form.close()

        async def answer(request: Request) -> Response:
            try:
                return await page_handler(request)
            except SignInRequired:
                return sign_in_redirect(request)
            except CsrfRefused:
                return await error_page(request, 403, "csrf_invalid", CSRF_DETAIL)
            except Exception as error:
                problem = problem_of(error)
                if problem is None:
                    log.exception("unexpected error on %s %s", request.method, request.url.path)
                    code = ErrorCode.INTERNAL_ERROR
                    return await error_page(request, 500, code.value, MESSAGES[code])
                headers = getattr(error, "headers", None)
                return await error_page(
                    request, problem.status, problem.code, problem.detail, headers
                )

        return answer
