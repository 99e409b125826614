"""Dependencies down or saturated: clear 503 problems with Retry-After, never a 500."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
from prometheus_client import REGISTRY

from app.bootstrap.settings import DatabaseSettings, RedisSettings, Settings
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import PASSWORD, sign_up
from tests.support.ports import dead_port
from tests.support.sql import sql_value


def _with_dead_redis(settings: Settings) -> Settings:
    redis = RedisSettings(url=f"redis://127.0.0.1:{dead_port()}/0", retries=1, connect_timeout=0.5)
    return dataclasses.replace(settings, redis=redis)


def _with_dead_database(settings: Settings) -> Settings:
    db = DatabaseSettings(
        url=f"postgresql://postgres@127.0.0.1:{dead_port()}/postgres", connect_timeout=1
    )
    return dataclasses.replace(settings, db=db)


def _redis_errors(use: str) -> float:
    return REGISTRY.get_sample_value("redis_errors_total", {"use": use}) or 0.0


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["code"] == "dependency_unavailable"


async def test_log_in_is_503_with_retry_after_when_redis_is_down(
    make_client: ClientFactory, settings: Settings, client: httpx.AsyncClient
) -> None:
    await sign_up(client, "nored")
    dead = await make_client(_with_dead_redis(settings))
    before = {use: _redis_errors(use) for use in ("rate_limit", "sessions")}
    response = await dead.post("/api/v1/auth/login", json={"login": "nored", "password": PASSWORD})
    _assert_unavailable(response)
    # The limits let the log-in through (counted), the session could not be opened (counted).
    assert _redis_errors("rate_limit") > before["rate_limit"]
    assert _redis_errors("sessions") == before["sessions"] + 1


async def test_sign_up_is_503_when_postgres_refuses_connections(
    make_client: ClientFactory, settings: Settings
) -> None:
    dead = await make_client(_with_dead_database(settings))
    response = await dead.post(
        "/api/v1/users",
        json={"username": "nodb", "email": "nodb@example.com", "password": PASSWORD},
    )
    _assert_unavailable(response)


async def test_readiness_names_the_failed_dependency(
    make_client: ClientFactory, settings: Settings, client: httpx.AsyncClient
) -> None:
    healthy = await client.get("/health/ready")
    readiness_errors = _redis_errors("readiness")
    no_redis = await (await make_client(_with_dead_redis(settings))).get("/health/ready")
    assert _redis_errors("readiness") == readiness_errors + 1
    no_db = await (await make_client(_with_dead_database(settings))).get("/health/ready")
    assert healthy.status_code == 200
    assert healthy.json()["checks"] == {"postgres": "ok", "redis": "ok", "schema": "ok"}
    assert no_redis.status_code == 503
    assert no_redis.json()["checks"]["postgres"] == "ok"
    assert no_redis.json()["checks"]["redis"] != "ok"
    assert no_db.status_code == 503
    assert no_db.json()["checks"]["postgres"] != "ok"
    assert no_db.json()["checks"]["schema"] != "ok"
    assert no_db.json()["checks"]["redis"] == "ok"


async def test_liveness_needs_no_dependency(make_client: ClientFactory, settings: Settings) -> None:
    dead = await make_client(_with_dead_database(_with_dead_redis(settings)))
    response = await dead.get("/health/live")
    assert response.status_code == 200


async def test_saturated_password_hashing_answers_503_instead_of_queueing_forever(
    make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    from tests.conftest import build_settings  # noqa: PLC0415

    # One hashing thread, no queue, and slow hashes: concurrent log-ins must be turned away.
    narrow = build_settings(
        database_url, redis_url, hash_threads=1, hash_queue=0, argon2_memory_kib=65536
    )
    client = await make_client(narrow)
    await sign_up(client, "busy")
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/auth/login", json={"login": "busy", "password": PASSWORD})
            for _ in range(8)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert 200 in statuses
    busy = [response for response in responses if response.status_code == 503]
    assert busy, statuses
    assert all(response.json()["code"] == "service_busy" for response in busy)
    assert all(response.headers["Retry-After"] for response in busy)


async def test_connections_the_server_killed_cost_one_request_then_the_pool_reconnects(
    client: httpx.AsyncClient, database_url: str
) -> None:
    # No pre-ping by default (APP_DB_POOL_PRE_PING): this is the price, and it is bounded.
    search = {"q": "nothing-cached", "sort": "price"}  # never cached: it reaches PostgreSQL
    assert (await client.get("/api/v1/products", params=search)).status_code == 200
    killed = await sql_value(
        database_url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'fastapi-platform'",
    )
    assert killed >= 1
    first = await client.get("/api/v1/products", params=search)
    assert first.status_code in {200, 503}, first.text
    if first.status_code == 503:
        assert first.headers["Retry-After"]
    statuses = [(await client.get("/api/v1/products", params=search)).status_code for _ in range(5)]
    assert statuses == [200] * 5
