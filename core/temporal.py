"""The one factory of Temporal clients: every client gets the pydantic data converter and the
encryption codec, and connects with the TLS and API key of the settings."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, TLSConfig

from core.codec import EncryptionCodec
from core.settings import Settings
from domain.contracts import ActionInput
from domain.errors import problems_from_validation_error

log = logging.getLogger(__name__)


class ContractPayloadConverter(PydanticPayloadConverter):
    """Pydantic payloads; a human action whose input breaks its contract is refused by code.

    The SDK rejects an update whose arguments cannot be read, before its validator runs and
    without touching the history. Raising an ``ApplicationError`` typed with the first problem's
    stable code makes that refusal look like any other (code, French message, field) to the
    caller. Only ``ActionInput`` payloads are translated: a workflow input or an activity result
    that cannot be read stays an ordinary error, retried as a task failure.
    """

    def from_payloads(
        self, payloads: Sequence[Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        try:
            return super().from_payloads(payloads, type_hints)
        except ValidationError as error:
            if not any(
                isinstance(hint, type) and issubclass(hint, ActionInput)
                for hint in type_hints or []
            ):
                raise
            problems = problems_from_validation_error(error)
            first = problems[0]
            raise ApplicationError(
                first.message,
                *(asdict(problem) for problem in problems),
                type=first.code,
                non_retryable=True,
            ) from None


def data_converter(settings: Settings) -> DataConverter:
    """The data converter of every client, worker and replayer.

    Pydantic models in and out of every payload, each payload encrypted by the codec, and failure
    messages and stack traces moved into an encoded payload, so that they are encrypted too (they
    can quote an input).

    Args:
        settings: The payload keys.

    Raises:
        ValueError: A payload key is malformed (see ``core.codec``).
    """
    return DataConverter(
        payload_converter_class=ContractPayloadConverter,
        payload_codec=EncryptionCodec(settings),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def _read(setting: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        # A configuration error, not an unreachable server: ``connect_when_ready`` must not wait.
        raise ValueError(f"{setting}: cannot read {path} ({error.strerror})") from None


def tls_config(settings: Settings) -> TLSConfig | bool:
    """The TLS of the connection to the Temporal frontend.

    An API key, a certificate file or a server name implies TLS. Without any file or server
    name, TLS checks the server against the system roots.

    Args:
        settings: The ``temporal_tls*`` and ``temporal_api_key`` settings.

    Returns:
        False for a plain connection, True for TLS with the defaults, else the configuration.

    Raises:
        ValueError: A file cannot be read, or a client certificate comes without its key.
    """
    files = (
        settings.temporal_tls_ca_file,
        settings.temporal_tls_cert_file,
        settings.temporal_tls_key_file,
    )
    customised = any(files) or settings.temporal_tls_server_name is not None
    if not (settings.temporal_tls or settings.temporal_api_key is not None or customised):
        return False
    if (settings.temporal_tls_cert_file is None) != (settings.temporal_tls_key_file is None):
        raise ValueError("temporal_tls_cert_file and temporal_tls_key_file go together")
    if not customised:
        return True
    return TLSConfig(
        server_root_ca_cert=_read("temporal_tls_ca_file", settings.temporal_tls_ca_file),
        client_cert=_read("temporal_tls_cert_file", settings.temporal_tls_cert_file),
        client_private_key=_read("temporal_tls_key_file", settings.temporal_tls_key_file),
        domain=settings.temporal_tls_server_name,
    )


async def connect(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """Connect a client with the project's data converter (pydantic and encryption).

    Args:
        settings: Where the Temporal frontend is, how to reach it (TLS, API key), the payload
            keys.
        lazy: Connect on first use instead of now (the API starts, and answers 503, while
            Temporal is down).
        runtime: The SDK runtime (the worker's serves its metrics); the default one if None.

    Raises:
        ValueError: The TLS or payload key settings are unusable.
    """
    api_key = settings.temporal_api_key
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        tls=tls_config(settings),
        api_key=api_key.get_secret_value() if api_key is not None else None,
        lazy=lazy,
        runtime=runtime,
    )


async def connect_when_ready(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """Connect, waiting for a server that is still starting (``make up`` starts all at once).

    Args:
        settings: As for ``connect``.
        runtime: As for ``connect``.

    Raises:
        RuntimeError: the server did not answer within ``temporal_connect_timeout_s``.
        ValueError: The TLS or payload key settings are unusable (not retried).
    """
    deadline = time.monotonic() + settings.temporal_connect_timeout_s
    delay = 0.2
    while True:
        try:
            return await connect(settings, runtime=runtime)
        except (RPCError, RuntimeError, OSError) as error:
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"Temporal at {settings.temporal_address} did not answer within "
                    f"{settings.temporal_connect_timeout_s:.0f}s"
                ) from error
            log.info("waiting for Temporal at %s", settings.temporal_address)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
