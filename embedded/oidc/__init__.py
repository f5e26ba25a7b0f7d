"""The embedded stack's OpenID Connect provider: the npm package ``oidc-provider`` under Node.

``python -m embedded.oidc serve`` runs ``node embedded/oidc/provider.mjs`` with the provider's
settings taken from ``Settings`` (issuer, client id and secret, the API's callback), so that the
API and the provider agree. It is a development provider: its login form signs in any address
(the API then only lets in existing staff accounts). Tests start the same command on a free
port (``provider_command`` and ``provider_environment``).

The Node dependencies come from the root ``package.json`` (``make node_modules/.installed-stamp``
runs ``npm ci``).
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from pathlib import Path

from core.settings import Settings

PROVIDER_SCRIPT = Path(__file__).resolve().parent / "provider.mjs"


def node_binary() -> str:
    """The ``node`` executable.

    Raises:
        FileNotFoundError: Node.js is not installed.
    """
    found = shutil.which("node")
    if found is None:
        raise FileNotFoundError("node is missing: install Node.js (20 or later) and run make")
    return found


def provider_command() -> list[str]:
    return [node_binary(), str(PROVIDER_SCRIPT)]


def issuer_address(issuer: str) -> tuple[str, int]:
    """Host and port the provider of ``issuer`` listens on."""
    parts = urllib.parse.urlsplit(issuer)
    if parts.hostname is None:
        raise ValueError("oidc_issuer has no host")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def provider_environment(settings: Settings, *, redirect_uris: list[str]) -> dict[str, str]:
    """The environment of ``provider.mjs`` for ``settings`` (issuer, client, callbacks)."""
    if not settings.oidc_issuer:
        raise ValueError("oidc_issuer is empty: there is no provider to run")
    host, port = issuer_address(settings.oidc_issuer)
    return {
        **os.environ,
        "OIDC_HOST": host,
        "OIDC_PORT": str(port),
        "OIDC_ISSUER": settings.oidc_issuer,
        "OIDC_CLIENT_ID": settings.oidc_client_id,
        "OIDC_CLIENT_SECRET": settings.oidc_client_secret.get_secret_value(),
        "OIDC_REDIRECT_URIS": " ".join(redirect_uris),
    }
