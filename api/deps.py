"""Dependencies of the routes: the services opened by the lifespan, and who is calling.

``Allow(...)`` both authenticates (a Bearer session token) and checks the role; routes declare
their roles only through it, so the authorisation matrix test reads them from the routes.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.service import RPCError

from api.audit import OutcomeWatcher
from api.errors import ApiError, TemporalUnavailable
from api.mail import SignInLinks
from api.ratelimit import Bucket, limiter_of
from core.accounts import AccountRecord, Accounts
from core.cases import CaseClient
from core.settings import Settings
from core.storage import DocumentStorage
from core.temporal import connect
from domain.contracts import Actor
from domain.errors import DomainError, ErrorCode
from domain.stages import Role


class TemporalLink:
    """The API's Temporal client, connected on first need.

    The API starts, and answers what needs only the database, while Temporal is down; a request
    that needs Temporal then gets 503 until it is back. Once connected, the SDK reconnects by
    itself and a lost server shows as ``RPCError``.
    """

    def __init__(self, settings: Settings):
        self._settings = settings
        self._cases: CaseClient | None = None
        self._lock = asyncio.Lock()

    async def cases(self) -> CaseClient:
        if self._cases is None:
            async with self._lock:
                if self._cases is None:
                    try:
                        client = await connect(self._settings)
                    except (RuntimeError, OSError, RPCError) as error:
                        # Raised by the connect call itself: the server is unreachable.
                        raise TemporalUnavailable from error
                    self._cases = CaseClient(client, self._settings.task_queue)
        return self._cases


@dataclass
class Services:
    """What the lifespan opens once and every request shares."""

    settings: Settings
    engine: AsyncEngine
    temporal: TemporalLink
    storage: DocumentStorage
    accounts: Accounts
    outcomes: OutcomeWatcher
    """Completes the audit rows of actions whose outcome came after the request."""
    sign_in_links: SignInLinks
    """Issues and sends sign-in links off the request path."""

    async def cases(self) -> CaseClient:
        """The case client (raises ``TemporalUnavailable`` while Temporal is unreachable)."""
        return await self.temporal.cases()


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="Jeton de session",
    description="Jeton obtenu par un lien de connexion (candidats, tiers) ou remis par un "
    "administrateur (agents) : en-tête `Authorization: Bearer <jeton>`.",
)


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in account and the actor it is on cases."""

    account: AccountRecord
    actor: Actor
    token: str

    @property
    def role(self) -> Role:
        return self.actor.role


async def current_user(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> CurrentUser:
    if credentials is None:
        raise ApiError(ErrorCode.AUTHENTICATION_REQUIRED)
    token = credentials.credentials
    limiter = limiter_of(request)
    client = limiter.client(request)
    # A client that had too many tokens refused is refused any for a while: no guessing.
    await limiter.check(Bucket.REFUSED_TOKENS, client)
    try:
        if len(token) > 200:
            raise ApiError(ErrorCode.SESSION_INVALID)
        account, actor = await services.accounts.authenticate(token)
    except (ApiError, DomainError):
        await limiter.hit(Bucket.REFUSED_TOKENS, client)
        raise
    return CurrentUser(account=account, actor=actor, token=token)


CurrentUserDep = Annotated[CurrentUser, Depends(current_user)]


class Allow:
    """A signed-in user whose role is one of ``roles`` (else 403 ``forbidden_role``)."""

    def __init__(self, *roles: Role):
        self.roles = frozenset(roles)

    async def __call__(self, user: CurrentUserDep) -> CurrentUser:
        if user.role not in self.roles:
            raise ApiError(ErrorCode.FORBIDDEN_ROLE)
        return user


_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Clé choisie par le client (1 à 64 caractères : lettres, chiffres, "
            "« _ . : - »). Une requête répétée avec la même clé n'est appliquée qu'une fois et "
            "renvoie le même résultat.",
        ),
    ] = None,
) -> str | None:
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(
            ErrorCode.INVALID_INPUT,
            field="Idempotency-Key",
            message="La clé d'idempotence doit compter 1 à 64 lettres, chiffres ou « _ . : - ».",
        )
    return key


IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]
