"""Rate limits (issue 12, item 1): per client, per target address and for the whole service, in
memory and in Redis; the client taken from X-Forwarded-For only behind a trusted proxy; IPv6
clients counted by /64; Redis out of reach lets requests through with an ERROR log."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import coredis
import pytest
from pydantic import SecretStr

from api.ratelimit import Bucket, RateLimited, RateLimiter, client_address, parse_proxies
from core.settings import RATE_LIMIT_FIELDS, Settings
from domain.stages import Role
from embedded.mailbox import MailServer
from embedded.temporal_server import free_port
from tests.api.abuse_steps import (
    accepted_before_limit,
    assert_limited,
    limited_api,
    new_address,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
PROXY = ["127.0.0.1/32", "10.0.0.0/8"]


def test_the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    trusted = parse_proxies(PROXY)
    # No trusted proxy: the header is nobody's word.
    assert client_address("203.0.113.7", ["198.51.100.1"], ()) == "203.0.113.7"
    assert client_address("203.0.113.7", ["198.51.100.1"], trusted) == "203.0.113.7"
    # Behind the proxies: the right-most address that is not one of them.
    assert client_address("127.0.0.1", ["198.51.100.1, 10.1.2.3"], trusted) == "198.51.100.1"
    # What the client wrote itself, left of what the proxy appended, does not count.
    assert client_address("127.0.0.1", ["6.6.6.6, 198.51.100.1"], trusted) == "198.51.100.1"
    assert client_address("127.0.0.1", ["6.6.6.6", "198.51.100.1"], trusted) == "198.51.100.1"
    # A hop that is not an address stops the walk at the last one vouched for.
    assert client_address("127.0.0.1", ["nimporte, 10.0.0.9"], trusted) == "10.0.0.9"
    assert client_address("127.0.0.1", [], trusted) == "127.0.0.1"


def test_ipv6_clients_count_by_their_64() -> None:
    assert client_address("2001:db8:1:2::1", [], ()) == "2001:db8:1:2::/64"
    assert client_address("2001:db8:1:2:ffff::9", [], ()) == "2001:db8:1:2::/64"
    assert client_address("2001:db8:1:3::1", [], ()) == "2001:db8:1:3::/64"
    assert client_address("::ffff:192.0.2.1", [], ()) == "192.0.2.1"
    trusted = parse_proxies(PROXY)
    assert client_address("127.0.0.1", ["2001:db8:9:9::5"], trusted) == "2001:db8:9:9::/64"


def test_limits_are_checked_when_settings_load() -> None:
    for name in RATE_LIMIT_FIELDS:
        with pytest.raises(ValueError, match=name):
            Settings(**{name: "beaucoup"}, _env_file=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Settings(trusted_proxies=["pas-un-réseau"], _env_file=None)  # type: ignore[call-arg]


async def test_one_client_is_limited_and_told_when_to_come_back(
    settings: Settings, workdir: Path, mail_server: MailServer
) -> None:
    async with (
        limited_api(
            settings,
            workdir / f"rl-{uuid.uuid4().hex[:6]}",
            mail_server,
            rate_limit_emails="3/minute",
        ) as app,
        app.http() as http,
    ):
        accepted, refused = await accepted_before_limit(
            lambda i: http.post("/auth/sign-in-links", json={"email": new_address()}), 10
        )
        assert accepted == 3
        assert_limited(refused)
        # Account creation shares the bucket: refused as well.
        assert_limited(await http.post("/auth/accounts", json={"email": new_address()}))
        # The refusal carries the security headers of every answer.
        assert refused.headers["x-content-type-options"] == "nosniff"
        assert refused.headers["cache-control"] == "no-store"


async def test_a_forwarded_for_header_is_ignored_without_a_trusted_proxy(
    settings: Settings, workdir: Path, mail_server: MailServer
) -> None:
    async with (
        limited_api(
            settings,
            workdir / f"rl-{uuid.uuid4().hex[:6]}",
            mail_server,
            rate_limit_emails="2/minute",
        ) as app,
        app.http() as http,
    ):
        accepted, refused = await accepted_before_limit(
            lambda i: http.post(
                "/auth/sign-in-links",
                json={"email": new_address()},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            ),
            10,
        )
        assert accepted == 2
        assert_limited(refused)


async def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(
    settings: Settings, workdir: Path, mail_server: MailServer
) -> None:
    async with (
        limited_api(
            settings,
            workdir / f"rl-{uuid.uuid4().hex[:6]}",
            mail_server,
            rate_limit_emails="2/minute",
            trusted_proxies=PROXY,
        ) as app,
        app.http() as http,
    ):

        async def as_client(forwarded: str) -> int:
            response = await http.post(
                "/auth/sign-in-links",
                json={"email": new_address()},
                headers={"X-Forwarded-For": forwarded},
            )
            return response.status_code

        assert [await as_client("198.51.100.1") for _ in range(3)] == [202, 202, 429]
        # A spoofed left-most address does not make a new client: the proxy's entry counts.
        assert await as_client("6.6.6.6, 198.51.100.1") == 429
        assert await as_client("198.51.100.2") == 202
        # IPv6: one /64 is one client.
        assert await as_client("2001:db8:1:2::1") == 202
        assert await as_client("2001:db8:1:2::abcd") == 202
        assert await as_client("2001:db8:1:2:ffff::1") == 429
        assert await as_client("2001:db8:1:3::1") == 202


async def test_one_target_address_is_limited_whoever_asks(
    settings: Settings, workdir: Path, mail_server: MailServer
) -> None:
    target = new_address()
    async with (
        limited_api(
            settings,
            workdir / f"rl-{uuid.uuid4().hex[:6]}",
            mail_server,
            rate_limit_target="2/hour",
            trusted_proxies=PROXY,
        ) as app,
        app.http() as http,
    ):
        statuses = [
            (
                await http.post(
                    "/auth/sign-in-links",
                    json={"email": email},
                    headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
                )
            ).status_code
            for i, email in enumerate([target, target.upper(), f"  {target} "])
        ]
        assert statuses == [202, 202, 429]
        assert_limited(
            await http.post(
                "/auth/accounts", json={"email": target}, headers={"X-Forwarded-For": "192.0.2.9"}
            )
        )


async def test_the_service_has_a_ceiling_on_account_creations(
    settings: Settings, workdir: Path, mail_server: MailServer
) -> None:
    async with (
        limited_api(
            settings,
            workdir / f"rl-{uuid.uuid4().hex[:6]}",
            mail_server,
            rate_limit_new_accounts="3/hour",
            trusted_proxies=PROXY,
        ) as app,
        app.http() as http,
    ):
        accepted, refused = await accepted_before_limit(
            lambda i: http.post(
                "/auth/accounts",
                json={"email": new_address()},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            ),
            10,
        )
        assert accepted == 3
        assert_limited(refused)


async def test_refused_tokens_lock_the_client_out_for_a_while(
    settings: Settings, workdir: Path, mail_server: MailServer
) -> None:
    async with (
        limited_api(
            settings,
            workdir / f"rl-{uuid.uuid4().hex[:6]}",
            mail_server,
            rate_limit_refused_tokens="3/minute",
        ) as app,
        app.http() as http,
    ):
        account = await app.accounts.create(
            email=new_address(), display_name="", role=Role.CANDIDATE
        )
        good = await app.accounts.open_session(account.account_id)
        assert (
            await http.get("/auth/me", headers={"Authorization": f"Bearer {good}"})
        ).status_code == 200
        accepted, refused = await accepted_before_limit(
            lambda i: http.get("/auth/me", headers={"Authorization": f"Bearer devine-{i}"}), 10
        )
        assert accepted == 3
        assert_limited(refused)
        # Even a good token waits: the guessing client cannot tell a hit by its answer.
        assert_limited(await http.get("/auth/me", headers={"Authorization": f"Bearer {good}"}))


async def test_the_html_forms_are_limited(
    settings: Settings, workdir: Path, mail_server: MailServer
) -> None:
    async with (
        limited_api(
            settings,
            workdir / f"rl-{uuid.uuid4().hex[:6]}",
            mail_server,
            rate_limit_sign_in_form="2/minute",
            rate_limit_codec_sign_in="2/minute",
        ) as app,
        app.http() as http,
    ):
        for path in ("/auth/sign-in", "/codec/connexion"):
            statuses = [
                (await http.post(path, data={"token": f"devine{i}"})).status_code for i in range(3)
            ]
            assert statuses == [401, 401, 429], (path, statuses)
            limited = await http.post(path, data={"token": "encore"})
            assert limited.status_code == 429
            assert limited.headers["content-type"].startswith("text/html")
            assert "Trop de demandes" in limited.text
            assert int(limited.headers["retry-after"]) >= 1


async def test_redis_counts_for_every_api_process_and_keeps_no_address(
    settings: Settings, workdir: Path, mail_server: MailServer
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    target = new_address()
    overrides = {
        "rate_limit_storage_url": REDIS_URL,
        "rate_limit_key_prefix": prefix,
        "rate_limit_emails": "2/minute",
        "rate_limit_secret": SecretStr("secret-partage-des-processus"),
    }
    async with (
        limited_api(
            settings, workdir / f"rl-{uuid.uuid4().hex[:6]}", mail_server, **overrides
        ) as one,
        limited_api(
            settings, workdir / f"rl-{uuid.uuid4().hex[:6]}", mail_server, **overrides
        ) as two,
        one.http() as first,
        two.http() as second,
    ):
        assert (await first.post("/auth/sign-in-links", json={"email": target})).status_code == 202
        assert (
            await second.post("/auth/sign-in-links", json={"email": new_address()})
        ).status_code == 202
        # The second process counted the first one's request: the third is refused by either.
        assert_limited(await first.post("/auth/sign-in-links", json={"email": new_address()}))
        assert_limited(await second.post("/auth/sign-in-links", json={"email": new_address()}))
    redis = coredis.Redis(host="127.0.0.1", port=6379, db=0, decode_responses=True)
    keys = [key async for key in redis.scan_iter(match=f"*{prefix}*")]
    assert any(Bucket.TARGET.value in key for key in keys), keys
    assert not any(target.split("@")[0] in key for key in keys), keys
    await redis.delete(keys)
    redis.connection_pool.disconnect()


async def test_two_limiters_on_redis_share_their_counts(settings: Settings) -> None:
    local = settings.model_copy(
        update={
            "rate_limit_storage_url": REDIS_URL,
            "rate_limit_key_prefix": f"test-{uuid.uuid4().hex[:12]}",
            "rate_limit_sessions": "2/minute",
        }
    )
    one, two = RateLimiter(local), RateLimiter(local)
    await one.hit(Bucket.SESSIONS, "198.51.100.1")
    await two.hit(Bucket.SESSIONS, "198.51.100.1")
    with pytest.raises(RateLimited) as refused:
        await one.hit(Bucket.SESSIONS, "198.51.100.1")
    assert refused.value.headers is not None
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    await two.hit(Bucket.SESSIONS, "198.51.100.2")
    await one.aclose()
    await two.aclose()


async def test_redis_out_of_reach_lets_requests_through_and_logs_an_error(
    settings: Settings, workdir: Path, mail_server: MailServer, caplog: pytest.LogCaptureFixture
) -> None:
    target = new_address()
    async with (
        limited_api(
            settings,
            workdir / f"rl-{uuid.uuid4().hex[:6]}",
            mail_server,
            rate_limit_storage_url=f"redis://127.0.0.1:{free_port()}/0",
            rate_limit_emails="1/minute",
        ) as app,
        app.http() as http,
    ):
        with caplog.at_level(logging.ERROR, logger="api.ratelimit"):
            statuses = [
                (await http.post("/auth/sign-in-links", json={"email": target})).status_code
                for _ in range(3)
            ]
    assert statuses == [202, 202, 202]
    errors = [record for record in caplog.records if record.name == "api.ratelimit"]
    assert errors and all(record.levelno == logging.ERROR for record in errors)
    assert not any(target in record.getMessage() for record in caplog.records)
