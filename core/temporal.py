"""The one factory of Temporal clients: every client gets the pydantic data converter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

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


DATA_CONVERTER = DataConverter(payload_converter_class=ContractPayloadConverter)
"""Pydantic models in and out of every payload. The encryption codec joins it in issue 6."""


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """Connect a client with the project's data converter.

    Args:
        settings: Where the Temporal frontend is.
        lazy: Connect on first use instead of now (the API starts, and answers 503, while
            Temporal is down).
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        lazy=lazy,
    )


async def connect_when_ready(settings: Settings) -> Client:
    """Connect, waiting for a server that is still starting (``make up`` starts all at once).

    Raises:
        RuntimeError: the server did not answer within ``temporal_connect_timeout_s``.
    """
    deadline = time.monotonic() + settings.temporal_connect_timeout_s
    delay = 0.2
    while True:
        try:
            return await connect(settings)
        except (RPCError, RuntimeError, OSError) as error:
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"Temporal at {settings.temporal_address} did not answer within "
                    f"{settings.temporal_connect_timeout_s:.0f}s"
                ) from error
            log.info("waiting for Temporal at %s", settings.temporal_address)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
