"""The production profile on this machine, with the compose file's settings: environment
production, PostgreSQL for the app database, an S3-compatible store (moto, the S3 API on
loopback), the example env file's keys (the development keys are refused in production), JSON
logs; only the servers' addresses are this machine's. The API and the worker take a case through
every stage over HTTP, as the compose file's services would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from core.settings import Environment, Settings, StorageBackend
from core.storage import build_store
from core.temporal import connect_when_ready
from embedded.mailbox import MailServer
from tests.api import test_end_to_end as end_to_end
from tests.api.conftest import POSTGRES_URL, api_stack
from tests.test_deployment import (
    PRODUCTION_ENV,
    _read_env_file,
    _service_environment,
    _settings_from,
)

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs SECUPOL_TEST_POSTGRES_URL")


def production_settings(
    settings: Settings, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The settings of the compose file's ``api`` service (with the example env file's keys),
    where only the addresses of the servers change to this machine's."""
    compose = _settings_from(
        _service_environment("api", _read_env_file(PRODUCTION_ENV)), monkeypatch
    )
    return compose.model_copy(
        update={
            "temporal_address": settings.temporal_address,
            "smtp_host": settings.smtp_host,
            "smtp_port": settings.smtp_port,
            "s3_endpoint_url": s3_endpoint,
            "api_host": "127.0.0.1",
            "worker_metrics_address": None,
        }
    )


async def test_a_whole_case_on_the_production_profile(
    settings: Settings,
    client: Client,
    mail_server: MailServer,
    workdir: Path,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production = production_settings(settings, moto_endpoint, monkeypatch)
    # Validated as production: the development keys would have been refused.
    assert production.environment == Environment.PRODUCTION
    assert production.storage_backend == StorageBackend.S3
    assert production.payload_key_id != settings.payload_key_id
    # The bucket exists before the services start (compose's minio-setup makes it).
    store = build_store(production, create_bucket=True)
    try:
        assert not await store.exists("tmp/probe")  # the first call creates the bucket
    finally:
        await store.aclose()
    client = await connect_when_ready(production)
    async with api_stack(
        "postgresql", workdir / "api-production", production, client, mail_server
    ) as stack:
        await end_to_end.test_a_case_from_sign_in_to_payment(stack)
