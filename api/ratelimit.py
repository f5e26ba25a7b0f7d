"""Abuse limits (issue 12): how many requests one client, one target address and the whole
service may make, on the ``limits`` library (moving windows).

Buckets, each a setting (``rate_limit_*``)::

    emails           per client: account creation, sign-in links, third-party designation
    target           per email address named in those requests (a keyed digest, never the
                     address in clear)
    new_accounts     the whole service: account creations
    sessions         per client: sign-in tokens checked (POST /auth/sessions)
    sign_in_form     per client: the HTML form of the emailed link
    codec_sign_in    per client: the codec page of the Web UI
    refused_tokens   per client: Bearer tokens refused (401), then every token is refused

The client is the TCP peer, unless the peer is a trusted proxy (``trusted_proxies``): then the
right-most address of ``X-Forwarded-For`` that is not a trusted proxy. IPv6 clients count by
their /64 (one subscriber's prefix). The counters live in memory or in Redis; when Redis cannot
be reached the request goes through and the failure is logged (an outage of the counters must not
become an outage of the service).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from api.errors import ApiError
from core.settings import Settings
from domain.errors import ErrorCode

log = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Bucket(StrEnum):
    EMAILS = "emails"
    TARGET = "target"
    NEW_ACCOUNTS = "new_accounts"
    SESSIONS = "sessions"
    SIGN_IN_FORM = "sign_in_form"
    CODEC_SIGN_IN = "codec_sign_in"
    REFUSED_TOKENS = "refused_tokens"


class RateLimited(ApiError):
    """429 ``rate_limited``, with the seconds to wait (``Retry-After``)."""

    def __init__(self, retry_after: int):
        super().__init__(ErrorCode.RATE_LIMITED)
        self.headers = {"Retry-After": str(retry_after)}


def storage_uri(url: str) -> str:
    """The ``limits`` async storage URI of a setting (``redis://…`` → ``async+redis://…``)."""
    return url if url.startswith("async+") else f"async+{url}"


def parse_proxies(cidrs: list[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(
    peer: str | None, forwarded_for: list[str], trusted: tuple[IPNetwork, ...]
) -> str:
    """The client a request counts against (see the module): an address, or an IPv6 /64.

    Args:
        peer: The TCP peer (``request.client.host``).
        forwarded_for: The ``X-Forwarded-For`` header values, in order.
        trusted: The trusted proxies.
    """
    address = _address(peer or "")
    if address is None:
        return "unknown"

    def is_trusted(candidate: IPAddress) -> bool:
        return any(candidate in network for network in trusted)

    if is_trusted(address):
        hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            found = _address(hop)
            if found is None:
                # Something a proxy did not write: stop at the last address we can vouch for.
                break
            address = found
            if not is_trusted(found):
                break
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimiter:
    """The buckets of the module docstring, on one storage.

    Args:
        settings: The limits, the storage URL, the key prefix, the digest key, the proxies.
    """

    def __init__(self, settings: Settings):
        uri = storage_uri(settings.rate_limit_storage_url)
        options: dict[str, float | str | bool] = {}
        if not uri.startswith("async+memory"):
            options = {"stream_timeout": 1.0, "connect_timeout": 1.0}
        self._storage = storage_from_string(uri, **options)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._prefix = settings.rate_limit_key_prefix
        secret = settings.rate_limit_secret
        self._secret = (
            secret.get_secret_value().encode() if secret is not None else secrets.token_bytes(32)
        )
        self._trusted = parse_proxies(settings.trusted_proxies)
        self._limits: dict[Bucket, list[RateLimitItem]] = {
            bucket: parse_many(getattr(settings, f"rate_limit_{bucket.value}")) for bucket in Bucket
        }

    async def aclose(self) -> None:
        """Close the storage's connections (Redis); memory has none."""
        # ``limits`` has no close of its own: its Redis bridge holds a coredis client.
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()

    def client(self, request: Request) -> str:
        peer = request.client.host if request.client else None
        return client_address(peer, request.headers.getlist("x-forwarded-for"), self._trusted)

    def target_key(self, email: str) -> str:
        """The digest that names an address in the counters (normalised as accounts are)."""
        normalised = email.strip().lower().encode()
        return hmac.new(self._secret, normalised, hashlib.sha256).hexdigest()[:32]

    async def _allowed(
        self, item: RateLimitItem, identifiers: tuple[str, ...], count: bool
    ) -> bool:
        try:
            if count:
                return await self._limiter.hit(item, *identifiers)
            return await self._limiter.test(item, *identifiers)
        except Exception as error:  # the storage's errors: fail open, loudly
            log.error(
                "rate limit storage unreachable, request let through (%s)", type(error).__name__
            )
            return True

    async def hit(self, bucket: Bucket, key: str) -> None:
        """Count one request against ``key`` in ``bucket``.

        Raises:
            RateLimited: a limit of the bucket is reached (the request must not go on).
        """
        await self._apply(bucket, key, count=True)

    async def check(self, bucket: Bucket, key: str) -> None:
        """Refuse if a limit of ``bucket`` is reached for ``key``, without counting.

        Raises:
            RateLimited: a limit of the bucket is reached.
        """
        await self._apply(bucket, key, count=False)

    async def _apply(self, bucket: Bucket, key: str, *, count: bool) -> None:
        identifiers = (self._prefix, bucket.value, key)
        for item in self._limits[bucket]:
            if not await self._allowed(item, identifiers, count):
                raise RateLimited(await self._retry_after(item, identifiers))

    async def _retry_after(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> int:
        try:
            stats = await self._limiter.get_window_stats(item, *identifiers)
            wait = stats.reset_time - time.time()
        except Exception:
            wait = item.get_expiry()
        return max(1, math.ceil(wait))


def limiter_of(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def per_client(bucket: Bucket) -> Callable[[Request], Awaitable[None]]:
    """A route dependency counting each request against its client in ``bucket``."""

    async def limit(request: Request) -> None:
        limiter = limiter_of(request)
        await limiter.hit(bucket, limiter.client(request))

    return limit
