"""The production profile on this machine: ``environment=production``, PostgreSQL for the app
database, an S3-compatible store (moto, the S3 API on loopback), keys of its own (the
development keys are refused in production), JSON logs; the API and the worker take a case
through every stage over HTTP, as the compose file's services would.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from core.settings import Environment, Settings, StorageBackend
from core.storage import build_store
from core.temporal import connect_when_ready
from embedded.mailbox import MailServer
from embedded.temporal_server import free_port
from tests.api import test_end_to_end as end_to_end
from tests.api.conftest import POSTGRES_URL, api_stack

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs SECUPOL_TEST_POSTGRES_URL")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def production_settings(settings: Settings, s3_endpoint: str) -> Settings:
    def key() -> SecretStr:
        return SecretStr(base64.b64encode(os.urandom(32)).decode())

    return Settings(
        **{
            **settings.model_dump(),
            "environment": Environment.PRODUCTION,
            "storage_backend": StorageBackend.S3,
            "s3_endpoint_url": s3_endpoint,
            "s3_bucket": "secupol-production-test",
            "s3_access_key_id": "secupol-test",
            "s3_secret_access_key": SecretStr("secupol-test-secret"),
            "document_keys": {"doc-2026-11": key()},
            "document_key_id": "doc-2026-11",
            "payload_keys": {"payload-2026-11": key()},
            "payload_key_id": "payload-2026-11",
            "log_format": "json",
            "worker_metrics_address": None,
        },
        _env_file=None,
    )


async def test_a_whole_case_on_the_production_profile(
    settings: Settings, mail_server: MailServer, workdir: Path, s3_endpoint: str
) -> None:
    production = production_settings(settings, s3_endpoint)
    # Validated as production: the development keys would have been refused.
    assert production.environment == Environment.PRODUCTION
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
