"""The OpenID Connect client of the staff sign-in (ProConnect in production, any OIDC provider).

Authorization code flow with PKCE (S256), ``state`` and ``nonce``: the protocol messages are
built and read by ``authlib``'s OAuth 2.0 functions, the JOSE objects (ID token, signed userinfo)
are checked with ``joserfc``, and every request goes out through ``httpx``.

What one sign-in keeps between the redirect to the provider and its return (state, nonce, PKCE
verifier) travels in a cookie signed with ``itsdangerous`` (``PendingSignIn``): short-lived,
``HttpOnly``, ``SameSite=Lax`` (the provider's redirect back is a top-level GET from another
site), ``Secure`` over HTTPS, and only sent to ``/auth/staff/``. The server keeps no state.

Error tree::

    OidcError                        a sign-in that cannot go on (code → French message)
      code = oidc_not_configured     no issuer set
      code = oidc_state_invalid      missing, expired, forged cookie, or a state that differs
      code = oidc_denied             the provider answered an error (the person cancelled...)
      code = oidc_token_invalid      code refused (replayed, expired), ID token or userinfo
                                     invalid (signature, issuer, audience, expiry, nonce, sub)
      code = oidc_email_unverified   the provider does not vouch for the address
      code = oidc_provider_error     the provider is unreachable or answers nonsense
"""

from __future__ import annotations

import hmac
import logging
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from core.settings import Settings
from domain.errors import MESSAGES, ErrorCode

log = logging.getLogger(__name__)

STATE_COOKIE = "secupol_staff_oidc"
STATE_COOKIE_PATH = "/auth/staff/"
STATE_TTL_S = 600
"""A sign-in must come back from the provider within 10 minutes."""
CLOCK_LEEWAY_S = 60
"""Tolerated clock difference with the provider when checking ``exp`` and ``iat``."""
SIGNING_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Asymmetric algorithms only: never ``none``, never an HMAC keyed with the client secret."""
METADATA_TTL_S = 3600.0


class OidcError(Exception):
    """A staff sign-in that cannot go on.

    Args:
        code: One of the ``oidc_*`` codes.
        reason: For the log only (English, no personal data).
    """

    def __init__(self, code: ErrorCode, reason: str = ""):
        self.code = code
        self.message = MESSAGES[code]
        self.reason = reason
        super().__init__(f"{code}: {reason}")


@dataclass(frozen=True)
class ProviderMetadata:
    """What the discovery document says (the endpoints used here)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    signing_algorithms: frozenset[str]


@dataclass(frozen=True)
class PendingSignIn:
    """What the callback checks: kept in the signed cookie meanwhile."""

    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    subject: str
    email: str


def is_configured(settings: Settings) -> bool:
    return bool(settings.oidc_issuer)


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        settings.oidc_state_secret.get_secret_value(), salt="secupol-staff-oidc-state"
    )


def seal(settings: Settings, pending: PendingSignIn) -> str:
    """The cookie value of a sign-in under way (signed, timestamped)."""
    return _serializer(settings).dumps([pending.state, pending.nonce, pending.verifier])


def unseal(settings: Settings, cookie: str | None, state: str | None) -> PendingSignIn:
    """The sign-in under way, if the cookie is genuine, recent and matches ``state``.

    Raises:
        OidcError: ``oidc_state_invalid``.
    """
    if not cookie or not state:
        raise OidcError(ErrorCode.OIDC_STATE_INVALID, "no state cookie or no state")
    try:
        value = _serializer(settings).loads(cookie, max_age=STATE_TTL_S)
    except BadSignature:
        # SignatureExpired is a BadSignature too.
        raise OidcError(ErrorCode.OIDC_STATE_INVALID, "state cookie forged or expired") from None
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value)):
        raise OidcError(ErrorCode.OIDC_STATE_INVALID, "state cookie malformed")
    pending = PendingSignIn(state=value[0], nonce=value[1], verifier=value[2])
    if not hmac.compare_digest(pending.state.encode(), state.encode()):
        raise OidcError(ErrorCode.OIDC_STATE_INVALID, "state differs from the cookie's")
    return pending


class UnknownKey(Exception):
    """No key of the set has the token's key id."""


def decode_signed(token: str, keys: KeySet, algorithms: frozenset[str]) -> dict[str, Any]:
    """The claims of a JWT signed by one of ``keys`` with one of ``algorithms`` (asymmetric only).

    Raises:
        UnknownKey: no key of the set matches (read the keys again and retry).
        OidcError: ``oidc_token_invalid`` (bad signature, algorithm not allowed, malformed).
    """
    allowed = sorted(algorithms & SIGNING_ALGORITHMS)
    try:
        return jwt.decode(token, keys, algorithms=allowed).claims
    except InvalidKeyIdError:
        raise UnknownKey from None
    except (JoseError, ValueError) as error:
        raise OidcError(ErrorCode.OIDC_TOKEN_INVALID, type(error).__name__) from None


def check_id_token_claims(
    claims: dict[str, Any], *, issuer: str, client_id: str, nonce: str, now: int | None = None
) -> None:
    """OpenID Connect Core 1.0, section 3.1.3.7: issuer, audience (and ``azp``), subject,
    expiry, issue time and nonce of an ID token whose signature is already checked.

    Raises:
        OidcError: ``oidc_token_invalid``.
    """
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=CLOCK_LEEWAY_S,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        raise OidcError(ErrorCode.OIDC_TOKEN_INVALID, f"ID token: {error.error}") from None
    audience = claims["aud"]
    # Several audiences: the token must say it was issued to us (azp).
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise OidcError(ErrorCode.OIDC_TOKEN_INVALID, "ID token: azp")


class OidcClient:
    """The relying party: discovery, authorization URL, code exchange, token checks.

    It keeps the provider's metadata and keys in memory (an hour; the keys again at once when a
    token names a key it does not know, as after a rotation). Each exchange uses its own short
    ``httpx`` client: nothing to close.

    Args:
        settings: ``oidc_*`` settings and ``public_url``.
    """

    def __init__(self, settings: Settings):
        self._settings = settings
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._settings.oidc_timeout_s, follow_redirects=False)

    async def _get_json(self, http: httpx.AsyncClient, url: str) -> dict[str, Any]:
        try:
            response = await http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, type(error).__name__) from None
        if response.status_code != 200:
            raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, f"{url} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, f"{url} answered no JSON") from None
        if not isinstance(body, dict):
            raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, f"{url} answered no JSON object")
        return body

    async def metadata(self) -> ProviderMetadata:
        """The provider's discovery document (``/.well-known/openid-configuration``).

        Raises:
            OidcError: ``oidc_not_configured``, ``oidc_provider_error``.
        """
        issuer = self._settings.oidc_issuer
        if not issuer:
            raise OidcError(ErrorCode.OIDC_NOT_CONFIGURED)
        if self._metadata and time.monotonic() - self._metadata_at < METADATA_TTL_S:
            return self._metadata
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        async with self._http() as http:
            body = await self._get_json(http, url)
        try:
            metadata = ProviderMetadata(
                issuer=str(body["issuer"]),
                authorization_endpoint=str(body["authorization_endpoint"]),
                token_endpoint=str(body["token_endpoint"]),
                jwks_uri=str(body["jwks_uri"]),
                userinfo_endpoint=body.get("userinfo_endpoint"),
                signing_algorithms=frozenset(
                    body.get("id_token_signing_alg_values_supported", ["RS256"])
                )
                & SIGNING_ALGORITHMS,
            )
        except KeyError as missing:
            raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, f"discovery lacks {missing}") from None
        # OpenID Connect Discovery 1.0, section 4.3: the issuer must be the one configured.
        if metadata.issuer != issuer:
            raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, "discovery names another issuer")
        if not metadata.signing_algorithms:
            raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, "no asymmetric signing algorithm")
        self._metadata, self._metadata_at = metadata, time.monotonic()
        return metadata

    async def _key_set(self, metadata: ProviderMetadata, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            async with self._http() as http:
                body = await self._get_json(http, metadata.jwks_uri)
            try:
                self._keys = KeySet.import_key_set(body)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError):
                raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, "unreadable JWKS") from None
        return self._keys

    async def start(self) -> tuple[str, PendingSignIn]:
        """The provider's authorization URL for a new sign-in, and what the callback checks."""
        metadata = await self.metadata()
        pending = PendingSignIn(
            state=generate_token(32), nonce=generate_token(32), verifier=generate_token(64)
        )
        url = prepare_grant_uri(
            metadata.authorization_endpoint,
            self._settings.oidc_client_id,
            "code",
            redirect_uri=self._settings.oidc_callback_url,
            scope=self._settings.oidc_scopes,
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier),
            code_challenge_method="S256",
        )
        return url, pending

    async def finish(self, code: str, pending: PendingSignIn, *, issuer: str | None) -> Identity:
        """Exchange the code, check the ID token (and the userinfo), and say who signed in.

        Args:
            code: The authorization code of the callback.
            pending: The sign-in the callback's state matched.
            issuer: The callback's ``iss`` parameter (RFC 9207), if the provider sends it.

        Raises:
            OidcError: every code but ``oidc_state_invalid``.
        """
        metadata = await self.metadata()
        if issuer is not None and issuer != metadata.issuer:
            raise OidcError(ErrorCode.OIDC_TOKEN_INVALID, "callback names another issuer")
        tokens = await self._exchange(metadata, code, pending)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, "token answer without ID token")
        claims = await self._verified_claims(metadata, id_token, nonce=pending.nonce)
        subject = str(claims["sub"])
        if "email" not in claims:
            access_token = tokens.get("access_token")
            if not metadata.userinfo_endpoint or not isinstance(access_token, str):
                raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, "no email and no userinfo")
            userinfo = await self._userinfo(metadata, access_token)
            # OpenID Connect Core 1.0, section 5.3.2: the same person, or nothing at all.
            if userinfo.get("sub") != subject:
                raise OidcError(ErrorCode.OIDC_TOKEN_INVALID, "userinfo for another subject")
            claims = {**claims, **userinfo}
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, "no email claim")
        verified = claims.get("email_verified")
        if verified is False or (verified is None and self._settings.oidc_require_email_verified):
            raise OidcError(ErrorCode.OIDC_EMAIL_UNVERIFIED, "email_verified is not true")
        return Identity(subject=subject, email=email.strip().lower())

    async def _exchange(
        self, metadata: ProviderMetadata, code: str, pending: PendingSignIn
    ) -> dict[str, Any]:
        settings = self._settings
        client_id = settings.oidc_client_id
        secret = settings.oidc_client_secret.get_secret_value()
        body = prepare_token_request(
            "authorization_code",
            redirect_uri=settings.oidc_callback_url,
            code=code,
            code_verifier=pending.verifier,
        )
        auth: httpx.BasicAuth | None = None
        if settings.oidc_token_auth_method == "client_secret_post":
            body += "&" + urllib.parse.urlencode({"client_id": client_id, "client_secret": secret})
        else:
            # RFC 6749, section 2.3.1: both are form-encoded before Basic encodes them.
            auth = httpx.BasicAuth(
                urllib.parse.quote(client_id, safe=""), urllib.parse.quote(secret, safe="")
            )
        async with self._http() as http:
            try:
                response = await http.post(
                    metadata.token_endpoint,
                    content=body,
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Accept": "application/json",
                    },
                )
            except httpx.HTTPError as error:
                raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, type(error).__name__) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code == 400 and isinstance(answer, dict):
            # invalid_grant: a code already used, expired, or a PKCE verifier that differs.
            raise OidcError(ErrorCode.OIDC_TOKEN_INVALID, f"token endpoint: {answer.get('error')}")
        if response.status_code != 200 or not isinstance(answer, dict):
            raise OidcError(
                ErrorCode.OIDC_PROVIDER_ERROR, f"token endpoint answered {response.status_code}"
            )
        return answer

    async def _decode(self, metadata: ProviderMetadata, token: str) -> dict[str, Any]:
        """A JWT's claims once its signature is checked against the provider's keys."""
        keys = await self._key_set(metadata)
        try:
            return decode_signed(token, keys, metadata.signing_algorithms)
        except UnknownKey:
            # The provider may have rotated its keys since they were read: read them again.
            keys = await self._key_set(metadata, refresh=True)
            try:
                return decode_signed(token, keys, metadata.signing_algorithms)
            except UnknownKey:
                raise OidcError(ErrorCode.OIDC_TOKEN_INVALID, "no key for the token") from None

    async def _verified_claims(
        self, metadata: ProviderMetadata, id_token: str, *, nonce: str
    ) -> dict[str, Any]:
        claims = await self._decode(metadata, id_token)
        check_id_token_claims(
            claims, issuer=metadata.issuer, client_id=self._settings.oidc_client_id, nonce=nonce
        )
        return claims

    async def _userinfo(self, metadata: ProviderMetadata, access_token: str) -> dict[str, Any]:
        assert metadata.userinfo_endpoint is not None
        async with self._http() as http:
            try:
                response = await http.get(
                    metadata.userinfo_endpoint,
                    headers={"Authorization": f"Bearer {access_token}"},
                )
            except httpx.HTTPError as error:
                raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, type(error).__name__) from None
        if response.status_code != 200:
            raise OidcError(
                ErrorCode.OIDC_PROVIDER_ERROR, f"userinfo answered {response.status_code}"
            )
        if response.headers.get("content-type", "").startswith("application/jwt"):
            # ProConnect signs its userinfo answer: the same checks as a token's.
            claims = await self._decode(metadata, response.text.strip())
            registry = jwt.JWTClaimsRegistry(
                leeway=CLOCK_LEEWAY_S,
                iss={"essential": True, "value": metadata.issuer},
                aud={"essential": True, "value": self._settings.oidc_client_id},
            )
            try:
                registry.validate(claims)
            except JoseError as error:
                raise OidcError(ErrorCode.OIDC_TOKEN_INVALID, f"userinfo: {error.error}") from None
            return claims
        try:
            body = response.json()
        except ValueError:
            raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, "userinfo answered no JSON") from None
        if not isinstance(body, dict):
            raise OidcError(ErrorCode.OIDC_PROVIDER_ERROR, "userinfo answered no JSON object")
        return body
