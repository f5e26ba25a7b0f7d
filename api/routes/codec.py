"""The codec endpoint of the Temporal Web UI: ``POST /codec/encode`` and ``POST /codec/decode``.

The Temporal codec-server protocol: the body is a ``temporal.api.common.v1.Payloads`` in the
proto3 JSON form (``{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}``),
the answer has the same shape, and the caller names its namespace in ``X-Namespace``. Payloads
are run through the same ``EncryptionCodec`` as every Temporal client; a payload that is not
encrypted comes back untouched, so the UI can send whatever it shows.

The UI calls the endpoint from the operator's browser, on another origin (the UI's), so the
``/codec/`` paths answer CORS for exactly ``settings.codec_cors_origins`` (``install_cors``); no
other path of the API does.

Who may call it: an account with the ``operator`` or ``admin`` role, by its session token
(``Authorization: Bearer``). Each call is in the audit log (no content).

The Web UI cannot send such a token in a header: its "pass access token" option forwards the
token of the UI's own OIDC sign-in, and there is no field where an operator could paste one. Its
"include credentials" option, however, sends cookies. So an operator opens
``{public_url}/codec/connexion`` in the browser they use the UI with, and gives their token
there: the API opens a *codec session* (``core.codec_sessions``) and sets a cookie holding only
that session's secret, never the token (``HttpOnly``, ``SameSite=Strict``, ``Secure`` when the
public address is HTTPS, ``Path=/codec/``, for ``settings.codec_session_ttl_hours``, 8 by
default). The UI's calls then carry it; CORS allows credentials for exactly the UI's origins.
``SameSite=Strict`` keeps the cookie off requests from other sites (the UI and the API are one
site: same host or same registrable domain). The secret opens nothing but ``/codec/``: it is no
API token (``Authorization: Bearer`` refuses it), and a cookie is no longer taken as a token.
``POST /codec/deconnexion`` ends the session; ``python -m api.admin codec-sessions-revoke``
ends all of an account's. Sign-in and sign-out are in the audit log, as each call is.

The embedded stack (``make up``, no UI sign-in) also accepts a call *without* any credentials
when all of the following hold, and refuses it (401) otherwise:

- ``settings.environment`` is ``development`` (never in test or production);
- the TCP peer is a loopback address (the browser runs on the machine that runs the stack);
- the ``Origin`` header is one of ``settings.codec_cors_origins`` (a page of another origin,
  including a DNS-rebinding one, is refused: the browser sets ``Origin`` itself).

That is safe enough for what development holds (the embedded stack's public development key,
fictitious cases); it is not for a deployment behind a reverse proxy on the same host (every
request would come from loopback), which is one more reason why a real deployment runs with
``environment=production``. ``temporal workflow show --codec-endpoint … --codec-auth "Bearer
<token>"`` works with an operator's token everywhere.
"""

from __future__ import annotations

import html
import ipaddress
import logging
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Header, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from pydantic import BaseModel, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from api import audit
from api.deps import Allow, CurrentUser, ServicesDep, current_user
from api.errors import PROBLEM_RESPONSES, ApiError
from api.pages import message_page, page
from api.ratelimit import Bucket, RateLimited, limiter_of
from core.codec import EncryptionCodec, PayloadIntegrityError, PayloadKeyUnavailable
from core.codec_sessions import CodecSessions
from core.settings import Environment, Settings
from domain.errors import DomainError, ErrorCode
from domain.stages import Role

log = logging.getLogger(__name__)

PREFIX = "/codec"
router = APIRouter(prefix=PREFIX, tags=["Exploitation"])

_OPERATORS = Allow(Role.OPERATOR, Role.ADMIN)
_operator_token = HTTPBearer(
    auto_error=False,
    scheme_name="Jeton d'exploitation",
    description="Jeton de session d'un compte exploitant ou administrateur : en-tête "
    "`Authorization: Bearer <jeton>`. En développement seulement, l'interface Temporal locale "
    "(origine autorisée, adresse de bouclage) peut s'en passer.",
)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: PROBLEM_RESPONSES[code] for code in (401, 403, 422, 503)
}
_ONLY_OPERATORS = "\n\nRéservé à : exploitant, administrateur."


class CodecPayload(BaseModel):
    """Une donnée Temporal (Payload) au format JSON de protobuf."""

    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="Métadonnées : nom → valeur encodée en base64 (dont `encoding`).",
    )
    data: str = Field(default="", description="Contenu, encodé en base64.")


class CodecPayloads(BaseModel):
    """Une liste de données Temporal (Payloads), telle que l'interface l'envoie."""

    payloads: list[CodecPayload] = Field(
        default_factory=list, description="Les données, dans l'ordre."
    )


_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Les données à traiter (Payloads au format JSON de protobuf).",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodecPayloads"}}},
    }
}


def is_local_ui(request: Request, settings: Settings) -> bool:
    """Whether a call without a token comes from the Web UI of a development stack.

    See the module docstring: development only, from a loopback peer, with an allowed ``Origin``.
    """
    if settings.environment != Environment.DEVELOPMENT:
        return False
    if request.headers.get("origin") not in settings.codec_cors_origins:
        return False
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


COOKIE = "secupol_codec_session"
"""The cookie of the Web UI's codec session: its secret only (see the module docstring)."""
COOKIE_PATH = PREFIX + "/"


async def codec_caller(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_operator_token)],
) -> CurrentUser | None:
    """The operator or admin calling, or None for the local Web UI of a development stack.

    An API token in ``Authorization``, or a codec session in the cookie (the Web UI).
    """
    if credentials is not None:
        return await _OPERATORS(await current_user(request, services, credentials))
    secret = request.cookies.get(COOKIE)
    if secret:
        # A refused codec secret counts as a refused token (api.ratelimit).
        limiter = limiter_of(request)
        client = limiter.client(request)
        await limiter.check(Bucket.REFUSED_TOKENS, client)
        try:
            account, actor = await _codec_sessions(services).authenticate(secret)
        except DomainError:
            await limiter.hit(Bucket.REFUSED_TOKENS, client)
            # An expired cookie must not lock the development UI out of what it may do bare.
            if is_local_ui(request, services.settings):
                return None
            raise
        return CurrentUser(account=account, actor=actor, token=secret)
    if is_local_ui(request, services.settings):
        return None
    raise ApiError(ErrorCode.AUTHENTICATION_REQUIRED)


def _codec_sessions(services: ServicesDep) -> CodecSessions:
    return CodecSessions(services.engine, services.settings)


def _secure_cookie(request: Request, settings: Settings) -> bool:
    # Behind a TLS-terminating proxy the request may arrive over plain HTTP: the public address
    # says how browsers reach the API.
    return request.url.scheme == "https" or settings.public_url.startswith("https://")


_TITLE = "Sécu'Pol — décodage dans l'interface Temporal"
_HEADING = "Sécu'Pol — exploitation"


@router.get(
    "/connexion",
    response_class=HTMLResponse,
    summary="Page de connexion du décodage",
    description="Page où un exploitant donne son jeton, dans le navigateur où il utilise "
    "l'interface Temporal : les appels de l'interface au décodage portent ensuite le cookie "
    "d'une session de décodage, courte et réservée aux adresses /codec/.",
)
async def codec_sign_in_page() -> HTMLResponse:
    content = (
        "<p>Pour que l'interface Temporal affiche les données des dossiers en clair, donnez "
        "votre jeton d'exploitant ou d'administrateur :</p>"
        f'<form method="post" action="{PREFIX}/connexion">'
        '<input type="password" name="token" size="50" autocomplete="off"> '
        '<button type="submit">Activer le décodage</button></form>'
    )
    return page(content, title=_TITLE, heading=_HEADING)


@router.post(
    "/connexion",
    response_class=HTMLResponse,
    summary="Activer le décodage dans l'interface Temporal",
    description="Vérifie le jeton (exploitant ou administrateur) et ouvre une session de "
    "décodage : le cookie (HttpOnly, SameSite=Strict, limité aux adresses /codec/) ne porte que "
    "le secret de cette session, jamais le jeton, et expire après "
    "`SECUPOL_CODEC_SESSION_TTL_HOURS` heures (8 par défaut)." + _ONLY_OPERATORS,
)
async def codec_sign_in(
    request: Request,
    services: ServicesDep,
    token: Annotated[str, Form(min_length=1, max_length=200, description="Jeton d'exploitant.")],
) -> HTMLResponse:
    limiter = limiter_of(request)
    try:
        await limiter.hit(Bucket.CODEC_SIGN_IN, limiter.client(request))
        user = await _OPERATORS(
            await current_user(
                request, services, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
            )
        )
    except (ApiError, DomainError) as refusal:
        status = 403 if isinstance(refusal, ApiError) else 401
        if isinstance(refusal, RateLimited):
            status = 429
        answer = message_page(refusal.message, title=_TITLE, heading=_HEADING, status=status)
        if isinstance(refusal, ApiError) and refusal.headers:
            answer.headers.update(refusal.headers)
        return answer
    sessions = _codec_sessions(services)
    secret = await sessions.open(user.account)
    await audit.record(services.engine, user.actor, "codec_sign_in", audit.OK)
    hours = services.settings.codec_session_ttl_hours
    response = page(
        "<p>Le décodage est activé dans ce navigateur pour "
        f"{hours} heure{'s' if hours > 1 else ''}. Dans l'interface Temporal, "
        "les réglages « Data Encoder » doivent indiquer l'adresse "
        f"<code>{html.escape(str(request.base_url).rstrip('/'))}{PREFIX}</code> et inclure "
        "les informations d'identification.</p>" + _SIGN_OUT_FORM,
        title=_TITLE,
        heading=_HEADING,
    )
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(sessions.ttl.total_seconds()),
        path=COOKIE_PATH,
        secure=_secure_cookie(request, services.settings),
        httponly=True,
        samesite="strict",
    )
    return response


_SIGN_OUT_FORM = (
    f'<form method="post" action="{PREFIX}/deconnexion">'
    '<button type="submit">Désactiver le décodage</button></form>'
)


@router.post(
    "/deconnexion",
    response_class=HTMLResponse,
    summary="Désactiver le décodage dans l'interface Temporal",
    description="Ferme la session de décodage de ce navigateur (son cookie) et efface le "
    "cookie. Sans session ouverte, ne fait qu'effacer le cookie.",
)
async def codec_sign_out(request: Request, services: ServicesDep) -> HTMLResponse:
    secret = request.cookies.get(COOKIE)
    sessions = _codec_sessions(services)
    if secret:
        try:
            _, actor = await sessions.authenticate(secret)
        except DomainError:
            actor = None
        if await sessions.revoke(secret) is not None and actor is not None:
            await audit.record(services.engine, actor, "codec_sign_out", audit.OK)
    response = page(
        "<p>Le décodage est désactivé dans ce navigateur : l'interface Temporal n'affiche plus "
        "les données des dossiers en clair.</p>",
        title=_TITLE,
        heading=_HEADING,
    )
    response.delete_cookie(
        COOKIE,
        path=COOKIE_PATH,
        secure=_secure_cookie(request, services.settings),
        httponly=True,
        samesite="strict",
    )
    return response


CodecCaller = Annotated[CurrentUser | None, Depends(codec_caller)]


def payload_codec(request: Request) -> EncryptionCodec:
    """The codec of the application's settings, built once."""
    codec: EncryptionCodec | None = getattr(request.app.state, "payload_codec", None)
    if codec is None:
        codec = EncryptionCodec(request.app.state.settings)
        request.app.state.payload_codec = codec
    return codec


CodecDep = Annotated[EncryptionCodec, Depends(payload_codec)]


def checked_namespace(
    services: ServicesDep,
    namespace: Annotated[
        str | None,
        Header(
            alias="X-Namespace",
            description="Espace de noms Temporal des données, envoyé par l'interface ; s'il est "
            "présent, ce doit être celui de Sécu'Pol.",
        ),
    ] = None,
) -> None:
    if namespace is not None and namespace != services.settings.temporal_namespace:
        raise ApiError(
            ErrorCode.INVALID_INPUT,
            field="X-Namespace",
            message="Cet espace de noms Temporal n'est pas celui de Sécu'Pol : ses données ne "
            "sont pas chiffrées par ses clés.",
        )


async def _read_payloads(request: Request) -> list[Payload]:
    message = Payloads()
    try:
        json_format.Parse(await request.body(), message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, RecursionError):
        # The parser's message quotes the body: it is not returned.
        raise ApiError(
            ErrorCode.INVALID_INPUT,
            message="Le corps doit être une liste de données Temporal (Payloads) au format JSON "
            'de protobuf : {"payloads": [{"metadata": {…}, "data": "…"}]}.',
        ) from None
    return list(message.payloads)


def _answer(payloads: Sequence[Payload]) -> Response:
    body = json_format.MessageToJson(Payloads(payloads=payloads), indent=None)
    return Response(content=body, media_type="application/json")


async def _audit(
    services: ServicesDep, caller: CurrentUser | None, action: str, outcome: str = audit.OK
) -> None:
    if caller is None:
        log.info("%s by the local Web UI (development): %s", action, outcome)
        return
    await audit.record(services.engine, caller.actor, action, outcome)


@router.post(
    "/encode",
    operation_id="codec_encode",
    response_model=CodecPayloads,
    summary="Chiffrer des données pour Temporal",
    description="Chiffre chaque donnée avec la clé courante, comme le font les clients Temporal "
    "de Sécu'Pol : l'interface Temporal s'en sert pour les données qu'un exploitant y saisit. "
    "Protocole « codec server » de Temporal : corps et réponse au format JSON de protobuf, "
    "espace de noms dans l'en-tête `X-Namespace`." + _ONLY_OPERATORS,
    responses=_RESPONSES,
    openapi_extra=_BODY,
    dependencies=[Depends(checked_namespace)],
)
async def codec_encode(
    request: Request, services: ServicesDep, caller: CodecCaller, codec: CodecDep
) -> Response:
    encoded = await codec.encode(await _read_payloads(request))
    await _audit(services, caller, "codec_encode")
    return _answer(encoded)


@router.post(
    "/decode",
    operation_id="codec_decode",
    response_model=CodecPayloads,
    summary="Déchiffrer des données de Temporal",
    description="Déchiffre chaque donnée chiffrée par Sécu'Pol, avec la clé dont l'identifiant "
    "figure dans ses métadonnées ; une donnée non chiffrée est renvoyée telle quelle. C'est "
    "l'adresse à indiquer à l'interface Temporal (option `--ui-codec-endpoint` ou réglages "
    "« Data Encoder », sans le suffixe `/decode`). Protocole « codec server » de Temporal : "
    "corps et réponse au format JSON de protobuf, espace de noms dans l'en-tête "
    "`X-Namespace`." + _ONLY_OPERATORS,
    responses=_RESPONSES,
    openapi_extra=_BODY,
    dependencies=[Depends(checked_namespace)],
)
async def codec_decode(
    request: Request, services: ServicesDep, caller: CodecCaller, codec: CodecDep
) -> Response:
    payloads = await _read_payloads(request)
    try:
        decoded = await codec.decode(payloads)
    except PayloadKeyUnavailable as error:
        await _audit(services, caller, "codec_decode", ErrorCode.INVALID_INPUT.value)
        raise ApiError(
            ErrorCode.INVALID_INPUT,
            message=f"Une donnée est chiffrée avec la clé « {error.key_id} », qui n'est pas "
            "configurée (payload_keys).",
        ) from None
    except PayloadIntegrityError:
        await _audit(services, caller, "codec_decode", ErrorCode.INVALID_INPUT.value)
        raise ApiError(
            ErrorCode.INVALID_INPUT,
            message="Une donnée chiffrée est illisible : altérée, ou chiffrée autrement.",
        ) from None
    await _audit(services, caller, "codec_decode")
    return _answer(decoded)


class CodecCors:
    """CORS for the ``/codec/`` paths only, for the Web UI's origins.

    Preflight requests are answered, and answers carry ``Access-Control-Allow-Origin``, only for
    an allowed origin, with credentials allowed (the codec session's cookie).

    Args:
        app: The application.
        origins: The Web UI's origins (``settings.codec_cors_origins``).
    """

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            # The codec session's cookie (the UI's "include credentials").
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Answer CORS on the codec endpoint for ``settings.codec_cors_origins``.

    Args:
        app: The application; the middleware is added outermost, so that error answers carry
            the CORS headers too (the UI can then read them).
        settings: The allowed origins.
    """
    app.add_middleware(CodecCors, origins=list(settings.codec_cors_origins))
