"""Test harness: a private database per run, real PostgreSQL and Redis, the app over HTTP.

``TEST_DATABASE_URL`` (a server to create the run's database on) and ``TEST_REDIS_URL`` (a
database index the run may flush) are used when set; otherwise embedded servers are started, so
``make test`` passes on a machine with neither.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from app.bootstrap.devtools.embedded import EmbeddedPostgres, EmbeddedRedis
from app.bootstrap.migrations import upgrade
from app.bootstrap.settings import (
    AppSettings,
    AuthSettings,
    CacheSettings,
    CelerySettings,
    DatabaseSettings,
    ExportSettings,
    HttpSettings,
    IdempotencySettings,
    LogSettings,
    OrderingSettings,
    RateLimitSettings,
    RedisSettings,
    Settings,
    SmtpSettings,
)

# Cheap Argon2 parameters keep hundreds of hashes fast; production parameters are tested apart.
TEST_AUTH = {
    "jwt_secret": "test-secret-" + "x" * 40,
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
    "hash_threads": 4,
    "cookie_secure": False,
}


# Tests sign up and log in far more often than people do; limits get their own tests.
GENEROUS_LIMITS = {
    "login_per_account_and_address": "10000/minute",
    "change_password_per_user": "10000/minute",
    "wrong_password_per_user": "10000/minute",
    "login_per_address": "10000/minute",
    "sign_up_per_address": "10000/minute",
    "place_order_per_user": "10000/minute",
    "place_order_per_address": "10000/minute",
    "pay_order_per_user": "10000/minute",
    "declined_payment_per_user": "10000/minute",
}
# Tests place many orders per customer; the holding bounds get their own tests.
GENEROUS_HOLDINGS = {
    "max_pending_orders": 10_000,
    "max_pending_units": 1_000_000,
    "max_units_per_product": 1000,
}


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL server on which this run may create a database."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    # Short path: the unix socket path must stay under 108 bytes.
    data = Path(tempfile.mkdtemp(prefix="fp-pg-"))
    server = EmbeddedPostgres(data / "pg")
    url = server.start()
    yield url
    server.stop()


def run_sql(dsn: str, sql: str) -> None:
    """One statement on its own connection (CREATE/DROP DATABASE cannot run in a transaction)."""

    async def execute() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute())


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A fresh database for this run, migrated to head, dropped at the end."""
    name = f"test_{secrets.token_hex(6)}"
    base = make_url(server_url).set(drivername="postgresql+asyncpg")
    admin_dsn = _asyncpg_dsn(base.render_as_string(hide_password=False))

    run_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    run_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        yield for_this_process(configured)
        return
    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="fp-redis-")), persistent=False)
    yield server.start()
    server.stop()


def build_settings(
    database_url: str,
    redis_url: str,
    *,
    rate_limits: dict[str, Any] | None = None,
    export: ExportSettings | None = None,
    ordering: dict[str, Any] | None = None,
    **auth: Any,
) -> Settings:
    return Settings(
        app=AppSettings(env="test"),
        db=DatabaseSettings(url=database_url, pool_size=10, max_overflow=20),
        redis=RedisSettings(url=redis_url),
        auth=AuthSettings(**{**TEST_AUTH, **auth}),
        # In-process apps (no gunicorn, so no metrics port) serve /metrics for the tests to read.
        http=HttpSettings(docs_enabled=True, metrics_on_api_port=True),
        log=LogSettings(format="json"),
        # The near cache off: these tests count Redis hits, and run several app instances in one
        # event loop, where a write's invalidation reaches another instance's listener only when
        # the loop next polls, which a test awaiting both in one task may not let it do. The near
        # cache's own tests turn it on (test_cache_invalidations.py, test_catalog_cache.py).
        cache=CacheSettings(local_seconds=0),
        idempotency=IdempotencySettings(),
        rate_limit=RateLimitSettings(**{**GENEROUS_LIMITS, **(rate_limits or {})}),
        ordering=OrderingSettings(**{**GENEROUS_HOLDINGS, **(ordering or {})}),
        export=export or ExportSettings(),
        # The broker shares the test Redis database: flushed between tests like everything else.
        celery=CelerySettings(broker_db=redis_database(redis_url)),
        smtp=SmtpSettings(),
    )


def for_this_process(redis_url: str) -> str:
    """The Redis database of this pytest process: TEST_REDIS_URL's for the first (or only) one;
    under pytest-xdist (make test runs two), worker N takes the index 2N below, since each
    process flushes its own database before every test, and a test may use the index above its
    own as a second one (test_catalog_cache_flooding.py)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    offset = 2 * int(worker.removeprefix("gw") or 0)
    if not offset:
        return redis_url
    index = (redis_database(redis_url) - offset) % 16
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query)) | {"db": str(index)}
        return urlunsplit(parts._replace(query=urlencode(query)))
    return urlunsplit(parts._replace(path=f"/{index}"))


def redis_database(redis_url: str) -> int:
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        return int(dict(parse_qsl(parts.query)).get("db", 0))
    return int(parts.path.strip("/") or 0)


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str) -> Settings:
    return build_settings(database_url, redis_url)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def server_in_tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is not UTC, so a time written in it would show (TZ is read
    by time.tzset, POSIX only)."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def pytest_unconfigure(config: pytest.Config) -> None:
    # The app's log handler holds pytest's captured stream, closed by now; servers stopped at exit
    # (embedded PostgreSQL) must not log into it.
    import logging  # noqa: PLC0415

    logging.getLogger().handlers.clear()
