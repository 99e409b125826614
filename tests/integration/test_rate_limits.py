"""Rate limits on log-in (per account, per client address) and sign-up (per address): 429 problems
with Retry-After and RateLimit headers, client addresses from trusted proxies only, and failing
open when Redis is down. The limiter's check, which refuses like a hit but counts nothing."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.bootstrap.settings import HttpSettings, Settings
from app.shared.application.errors import RateLimitedError
from app.shared.application.rate_limit import RateLimitRule
from app.shared.infrastructure.rate_limiter import LimitsRateLimiter
from tests.conftest import build_settings
from tests.integration.catalog_support import metric, with_dead_redis
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import PASSWORD, sign_up
from tests.integration.support import assert_problem, log_in_raw, sign_up_raw
from tests.support.ports import dead_port
from tests.support.sql import sql_value

WRONG = "not the password at all"
PER_ACCOUNT = "login_per_account_and_address"


def _limited(
    database_url: str, redis_url: str, trusted_proxies: str | None = None, **limits: str
) -> Settings:  # limits: RateLimitSettings' fields, as their environment variables would say
    settings = build_settings(database_url, redis_url, rate_limits=limits)
    if trusted_proxies is not None:
        settings = dataclasses.replace(
            settings, http=HttpSettings(trusted_proxies=trusted_proxies, metrics_on_api_port=True)
        )
    return settings


def assert_rate_limited(response: httpx.Response, limit: int, window: int) -> dict[str, Any]:
    body = assert_problem(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= window, response.headers
    assert response.headers["RateLimit-Policy"] == f"{limit};w={window}"
    match = re.fullmatch(r"limit=(\d+), remaining=0, reset=(\d+)", response.headers["RateLimit"])
    assert match is not None, response.headers["RateLimit"]
    assert int(match.group(1)) == limit
    assert int(match.group(2)) == retry_after
    return body


def _xff(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


# --- per account ------------------------------------------------------------------------------


async def test_the_fourth_log_in_for_one_account_from_one_address_within_a_minute_is_429(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    await sign_up(client, "alice")
    await sign_up(client, "bob")
    settings = _limited(database_url, redis_url, login_per_account_and_address="3/minute")
    limited = await make_client(settings)
    rejections = await metric(limited, "rate_limit_rejections_total", rule=PER_ACCOUNT)
    for password in (WRONG, WRONG, PASSWORD):
        response = await log_in_raw(limited, "alice", password)
        assert response.status_code in {200, 401}, response.text
    # Even the right password is refused now: guessing is what the limit stops.
    fourth = await log_in_raw(limited, "alice", PASSWORD)
    assert_rate_limited(fourth, limit=3, window=60)
    assert "access_token" not in fourth.text
    # The key is the account the login names: case and blanks do not open a new budget.
    assert_rate_limited(await log_in_raw(limited, "  ALICE ", PASSWORD), limit=3, window=60)
    # The OAuth2 form endpoint shares the budget.
    token = await limited.post(
        "/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}
    )
    assert_rate_limited(token, limit=3, window=60)
    # Other accounts are unaffected.
    other = await log_in_raw(limited, "bob", PASSWORD)
    assert other.status_code == 200, other.text
    assert await metric(limited, "rate_limit_rejections_total", rule=PER_ACCOUNT) >= rejections + 3


# --- per address ------------------------------------------------------------------------------


async def test_the_per_address_limit_counts_attempts_across_accounts(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    for name in ("ann", "ben", "cat", "dan"):
        await sign_up(client, name)
    limited = await make_client(_limited(database_url, redis_url, login_per_address="3/minute"))
    for name in ("ann", "ben", "cat"):
        response = await log_in_raw(limited, name, WRONG)
        assert response.status_code == 401, response.text
    assert_rate_limited(await log_in_raw(limited, "dan", PASSWORD), limit=3, window=60)
    assert_rate_limited(await log_in_raw(limited, "ann", PASSWORD), limit=3, window=60)


async def test_sign_up_is_limited_per_address(
    make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    limited = await make_client(_limited(database_url, redis_url, sign_up_per_address="2/hour"))
    for name in ("first", "second"):
        response = await sign_up_raw(limited, name)
        assert response.status_code == 201, response.text
    third = await sign_up_raw(limited, "third")
    assert_rate_limited(third, limit=2, window=3600)
    assert await sql_value(database_url, "SELECT count(*) FROM users") == 2
    # Refused attempts, even invalid ones, are not a way around the limit.
    assert (await sign_up_raw(limited, "fourth")).status_code == 429


async def test_log_in_and_sign_up_budgets_are_separate(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    await sign_up(client, "eve")
    limited = await make_client(
        _limited(
            database_url, redis_url, login_per_address="1/minute", sign_up_per_address="1/hour"
        )
    )
    assert (await log_in_raw(limited, "eve", PASSWORD)).status_code == 200
    assert (await sign_up_raw(limited, "fred")).status_code == 201
    assert (await log_in_raw(limited, "eve", PASSWORD)).status_code == 429
    assert (await sign_up_raw(limited, "gina")).status_code == 429


# --- client addresses and proxies -------------------------------------------------------------


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    for name in ("ann", "ben", "cat"):
        await sign_up(client, name)
    # The test transport's peer is 127.0.0.1; only 192.0.2.1 is a trusted proxy here.
    settings = _limited(
        database_url,
        redis_url,
        trusted_proxies="192.0.2.1",
        login_per_address="2/minute",
        sign_up_per_address="2/hour",
    )
    limited = await make_client(settings)
    assert (await log_in_raw(limited, "ann", WRONG)).status_code == 401
    response = await limited.post(
        "/api/v1/auth/login",
        json={"login": "ben", "password": WRONG},
        headers=_xff("198.51.100.1"),
    )
    assert response.status_code == 401, response.text
    spoofed = await limited.post(
        "/api/v1/auth/login",
        json={"login": "cat", "password": PASSWORD},
        headers=_xff("198.51.100.2"),
    )
    assert_rate_limited(spoofed, limit=2, window=60)
    for name, address in (("sam1", "203.0.113.1"), ("sam2", "203.0.113.2")):
        created = await limited.post(
            "/api/v1/users",
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
            headers=_xff(address),
        )
        assert created.status_code == 201, created.text
    third = await limited.post(
        "/api/v1/users",
        json={"username": "sam3", "email": "sam3@example.com", "password": PASSWORD},
        headers=_xff("203.0.113.3"),
    )
    assert_rate_limited(third, limit=2, window=3600)


async def test_behind_trusted_proxies_each_forwarded_address_has_its_own_budget(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    for name in ("ann", "ben"):
        await sign_up(client, name)
    settings = _limited(database_url, redis_url, trusted_proxies="*", login_per_address="2/minute")
    limited = await make_client(settings)
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        for name in ("ann", "ben"):
            response = await limited.post(
                "/api/v1/auth/login",
                json={"login": name, "password": WRONG},
                headers=_xff(address),
            )
            assert response.status_code == 401, (address, response.text)
    exhausted = await limited.post(
        "/api/v1/auth/login",
        json={"login": "ann", "password": PASSWORD},
        headers=_xff("198.51.100.1"),
    )
    assert_rate_limited(exhausted, limit=2, window=60)
    fresh = await limited.post(
        "/api/v1/auth/login",
        json={"login": "ann", "password": PASSWORD},
        headers=_xff("198.51.100.4"),
    )
    assert fresh.status_code == 200, fresh.text
    # Without the header the peer itself (127.0.0.1) is the client: a budget of its own.
    assert (await log_in_raw(limited, "ben", PASSWORD)).status_code == 200


async def test_addresses_prepended_by_a_client_do_not_escape_a_trusted_proxy(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    await sign_up(client, "ann")
    # The peer (127.0.0.1) is the trusted proxy; it appends the address it saw, last.
    settings = _limited(
        database_url, redis_url, trusted_proxies="127.0.0.1", login_per_address="2/minute"
    )
    limited = await make_client(settings)
    statuses = []
    for index in range(4):
        response = await limited.post(
            "/api/v1/auth/login",
            json={"login": "ann", "password": WRONG},
            headers=_xff(f"10.9.9.{index}, 203.0.113.50"),
        )
        statuses.append(response.status_code)
    assert statuses == [401, 401, 429, 429]
    # Another real client behind the same proxy is unaffected.
    other = await limited.post(
        "/api/v1/auth/login",
        json={"login": "ann", "password": PASSWORD},
        headers=_xff("203.0.113.51"),
    )
    assert other.status_code == 200, other.text


# --- IPv6 networks (security review, finding 7) ----------------------------------------------


async def _log_in_from(client: httpx.AsyncClient, address: str) -> int:
    response = await client.post(
        "/api/v1/auth/login", json={"login": "ann", "password": WRONG}, headers=_xff(address)
    )
    return response.status_code


@pytest.mark.owasp("API4")
async def test_ipv6_clients_are_counted_by_their_64_network(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    # One host is usually given a whole /64: counted per address, it had unlimited tries.
    await sign_up(client, "ann")
    settings = _limited(database_url, redis_url, trusted_proxies="*", login_per_address="2/minute")
    limited = await make_client(settings)
    same_network = [f"2001:db8:1:2::{index:x}" for index in range(1, 4)]
    assert [await _log_in_from(limited, address) for address in same_network] == [401, 401, 429]
    assert await _log_in_from(limited, "2001:db8:1:3::1") == 401  # the next /64: its own budget
    # An IPv4 client written as IPv6 (a dual-stack proxy) is the same IPv4 client.
    assert [await _log_in_from(limited, a) for a in ("192.0.2.7", "::ffff:192.0.2.7")] == [401, 401]
    assert await _log_in_from(limited, "192.0.2.7") == 429


@pytest.mark.owasp("API4")
async def test_the_ipv6_network_size_is_a_setting(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    await sign_up(client, "ann")
    settings = _limited(
        database_url,
        redis_url,
        trusted_proxies="*",
        login_per_address="1/minute",
        ipv6_prefix="128",
    )
    limited = await make_client(settings)
    addresses = [f"2001:db8:1:2::{index:x}" for index in range(1, 4)]
    assert [await _log_in_from(limited, address) for address in addresses] == [401, 401, 401]


# --- Redis down -------------------------------------------------------------------------------


async def test_limits_fail_open_when_redis_is_down(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    await sign_up(client, "ann")
    settings = with_dead_redis(
        _limited(
            database_url,
            redis_url,
            login_per_account_and_address="1/minute",
            login_per_address="1/minute",
            sign_up_per_address="1/hour",
        )
    )
    dead = await make_client(settings)
    failures = await metric(dead, "rate_limit_store_errors_total")
    # Far past every limit, and never a 429: the limiter lets attempts through.
    for _ in range(4):
        response = await log_in_raw(dead, "ann", WRONG)
        assert response.status_code == 401, response.text
    for name in ("user1", "user2", "user3"):
        response = await sign_up_raw(dead, name)
        assert response.status_code == 201, response.text
    after = await metric(dead, "rate_limit_store_errors_total")
    assert after >= failures + 4 * 2 + 3, (failures, after)
    assert await metric(dead, "rate_limit_store_errors_total", rule=PER_ACCOUNT) > 0
    assert await metric(dead, "rate_limit_store_errors_total", rule="sign_up_per_address") > 0
    # A correct password passes the limiter too; the session itself lives in Redis, so the
    # log-in ends in a 503 (see test_unavailable), never in a 429.
    response = await log_in_raw(dead, "ann", PASSWORD)
    assert response.status_code != 429, response.text


async def test_disabled_limits_never_refuse(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    await sign_up(client, "ann")
    settings = _limited(database_url, redis_url, login_per_account_and_address="1/minute")
    settings = dataclasses.replace(
        settings, rate_limit=settings.rate_limit.model_copy(update={"enabled": False})
    )
    unlimited = await make_client(settings)
    for _ in range(3):
        assert (await log_in_raw(unlimited, "ann", PASSWORD)).status_code == 200


# --- checking without counting ------------------------------------------------------------------


async def test_a_check_counts_nothing_and_refuses_once_hits_spent_the_budget(
    redis_url: str,
) -> None:
    redis = Redis.from_url(redis_url)
    rule = RateLimitRule.DECLINED_PAYMENT_PER_USER
    limiter = LimitsRateLimiter(redis, {rule: "2/hour"}, enabled=True, operation_timeout=2)
    try:
        for _ in range(5):
            await limiter.check(rule, "alice")
        await limiter.hit(rule, "alice")
        await limiter.check(rule, "alice")
        await limiter.hit(rule, "alice")
        with pytest.raises(RateLimitedError) as caught:
            await limiter.check(rule, "alice")
        assert caught.value.limit == 2
        assert 0 < caught.value.retry_after <= 3600
        assert caught.value.context["window_seconds"] == 3600
        await limiter.check(rule, "bob")
    finally:
        await redis.aclose()


async def test_a_check_fails_open_when_redis_is_down() -> None:
    redis = Redis(port=dead_port(), socket_connect_timeout=0.5)
    rule = RateLimitRule.DECLINED_PAYMENT_PER_USER
    limiter = LimitsRateLimiter(redis, {rule: "1/hour"}, enabled=True, operation_timeout=2)
    try:
        for _ in range(3):
            await limiter.check(rule, "alice")
            await limiter.hit(rule, "alice")
    finally:
        await redis.aclose()
