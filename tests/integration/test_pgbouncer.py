"""Behind a real PgBouncer in transaction mode, two server connections shared by every client:
with APP_DB_TRANSACTION_POOLING the API and the worker serve a real flow without an error, the
session settings are in force, nothing is left behind on the server connections; without it the
same flow fails. Run with -s to see the figures."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.bootstrap.settings import DatabaseSettings, Settings
from app.shared.infrastructure.database import create_engine
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import PASSWORD, bearer
from tests.integration.order_support import APPROVED_CARD, new_product, open_shop
from tests.integration.pgbouncer_support import (
    DEFAULT_POOL_SIZE,
    PgBouncer,
    pgbouncer_binary,
    pgbouncer_version,
    start_pgbouncer,
)
from tests.support.mail import Mailbox
from tests.support.worker import start_worker, worker_environment

# Short, so that a statement running past it is quick to show; far above what the flow needs.
STATEMENT_TIMEOUT_MS = 2000
CUSTOMERS = 24  # each runs 8 requests; all at once, over 2 server connections


def _database_name(database_url: str) -> str:
    return str(make_url(database_url).database)


@pytest.fixture(scope="module")
def pgbouncer(server_url: str, database_url: str) -> Iterator[PgBouncer]:
    """The chart's PgBouncer settings: transaction mode, the app's session settings in
    connect_query, no startup parameter tolerated beyond those PgBouncer tracks."""
    running = start_pgbouncer(
        server_url=server_url,
        database=_database_name(database_url),
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
    )
    print(f"\n[pgbouncer] {pgbouncer_version(pgbouncer_binary())}")  # noqa: T201
    yield running
    running.stop()


@pytest.fixture
def lenient_pgbouncer(server_url: str, database_url: str) -> Iterator[PgBouncer]:
    """One that also lets the session settings through at connect time (and drops them), so that
    an app without the setting gets as far as its prepared statements."""
    running = start_pgbouncer(
        server_url=server_url,
        database=_database_name(database_url),
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        extra=(
            "ignore_startup_parameters = statement_timeout, idle_in_transaction_session_timeout",
        ),
    )
    yield running
    running.stop()


def _through(pgbouncer: PgBouncer, settings: Settings, *, transaction_pooling: bool) -> Settings:
    db = DatabaseSettings(
        url=pgbouncer.url,
        pool_size=10,
        max_overflow=20,
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        transaction_pooling=transaction_pooling,
    )
    return dataclasses.replace(settings, db=db)


def _engine(url: str, *, transaction_pooling: bool) -> AsyncEngine:
    return create_engine(
        url,
        pool_size=5,
        max_overflow=0,
        pool_timeout=5,
        pool_recycle=1800,
        connect_timeout=5,
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        application_name="pgbouncer-test",
        transaction_pooling=transaction_pooling,
    )


@pytest.fixture
async def pooled_engine(pgbouncer: PgBouncer) -> AsyncIterator[AsyncEngine]:
    engine = _engine(pgbouncer.url, transaction_pooling=True)
    yield engine
    await engine.dispose()


async def _on_every_server_connection(pgbouncer: PgBouncer, sql: str) -> dict[int, str]:
    """``sql``'s answer per PgBouncer server connection: several clients at once, each holding its
    server connection for a moment, reach all of them."""

    async def ask() -> tuple[int, str]:
        connection = await asyncpg.connect(pgbouncer.dsn, statement_cache_size=0)
        try:
            row = await connection.fetchrow(
                f"SELECT pg_backend_pid() AS pid, ({sql})::text AS answer FROM pg_sleep(0.2)"  # noqa: S608 - ours
            )
        finally:
            await connection.close()
        assert row is not None
        return int(row["pid"]), str(row["answer"])

    return dict(await asyncio.gather(*(ask() for _ in range(3 * DEFAULT_POOL_SIZE))))


async def test_clients_share_the_two_server_connections(pgbouncer: PgBouncer) -> None:
    """The premise of the other tests: many clients, at most two PostgreSQL backends."""
    answers = await _on_every_server_connection(pgbouncer, "1")
    assert 1 <= len(answers) <= DEFAULT_POOL_SIZE, answers


async def _customer_flow(
    api: httpx.AsyncClient, number: int, product: str, failures: list[str]
) -> bool:
    """Sign up, log in, browse, order, read the order and the list, pay, read the profile.
    Records what failed instead of asserting: the same flow must also be able to fail."""
    name = f"pgb{number:03d}"

    def ok(step: str, response: httpx.Response, status: int) -> bool:
        if response.status_code != status:
            failures.append(f"{step}: {response.status_code} {response.text[:200]}")
        return response.status_code == status

    response = await api.post(
        "/api/v1/users",
        json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
    )
    if not ok("sign up", response, 201):
        return False
    response = await api.post("/api/v1/auth/login", json={"login": name, "password": PASSWORD})
    if not ok("log in", response, 200):
        return False
    headers = bearer(response.json())
    if not ok("products", await api.get("/api/v1/products", params={"in_stock": "true"}), 200):
        return False
    response = await api.post(
        "/api/v1/orders",
        json={"lines": [{"product_id": product, "quantity": 1}]},
        headers={**headers, "Idempotency-Key": f"order-{name}"},
    )
    if not ok("place order", response, 201):
        return False
    order = f"/api/v1/orders/{response.json()['id']}"
    results = [
        ok("get order", await api.get(order, headers=headers), 200),
        ok("my orders", await api.get("/api/v1/orders", headers=headers), 200),
        ok(
            "pay",
            await api.post(
                f"{order}/pay",
                json={"card_number": APPROVED_CARD},
                headers={**headers, "Idempotency-Key": f"pay-{name}"},
            ),
            200,
        ),
        ok("me", await api.get("/api/v1/users/me", headers=headers), 200),
    ]
    return all(results)


async def _run_flow(
    client: httpx.AsyncClient, api: httpx.AsyncClient, database_url: str
) -> tuple[int, list[str], float]:
    """Staff and products are set up directly; every customer request goes through ``api``."""
    shop = await open_shop(client, database_url, customers=0)
    products = [
        await new_product(client, shop, f"PGB-{n}", stock=1000, price="25.00") for n in range(3)
    ]
    failures: list[str] = []
    started = time.perf_counter()
    completed = await asyncio.gather(
        *(
            _customer_flow(api, number, products[number % len(products)], failures)
            for number in range(CUSTOMERS)
        )
    )
    return sum(completed), failures, time.perf_counter() - started


async def test_a_real_flow_through_pgbouncer_has_no_error_and_the_worker_mails_every_order(
    pgbouncer: PgBouncer,
    make_client: ClientFactory,
    client: httpx.AsyncClient,
    settings: Settings,
    database_url: str,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    pooled = _through(pgbouncer, settings, transaction_pooling=True)
    env = {
        **worker_environment(pooled, mailbox),
        "APP_DB_TRANSACTION_POOLING": "true",
        "APP_DB_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
    }
    worker = start_worker(env, tmp_path / "worker.log", concurrency=2)
    try:
        api = await make_client(pooled)
        ready = await api.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok", "schema": "ok"}

        completed, failures, elapsed = await _run_flow(client, api, database_url)

        assert failures == [], pgbouncer.log()[-3000:]
        assert completed == CUSTOMERS
        # A confirmation and a receipt per order, from the worker, itself behind PgBouncer.
        messages = await mailbox.wait_for(2 * CUSTOMERS, within=60)
        assert len(messages) == 2 * CUSTOMERS, worker.log.read_text()[-3000:]
    finally:
        assert worker.stop() == 0, worker.log.read_text()[-3000:]
    assert "prepared statement" not in worker.log.read_text(), worker.log.read_text()[-3000:]
    print(  # noqa: T201 - the figures are quoted from the -s output
        f"\n[pgbouncer] {CUSTOMERS} customers x 8 requests at once over {DEFAULT_POOL_SIZE} "
        f"server connections: 0 errors in {elapsed:.2f}s; {len(messages)} e-mails"
    )


async def test_nothing_is_left_behind_on_the_server_connections(
    pgbouncer: PgBouncer,
    make_client: ClientFactory,
    client: httpx.AsyncClient,
    settings: Settings,
    database_url: str,
) -> None:
    """Uniquely named prepared statements (SQLAlchemy's recipe) would work too, but each one is
    closed later from whichever server connection the client has then: they pile up on the
    others, for as long as PgBouncer keeps them. Unnamed statements leave nothing."""
    api = await make_client(_through(pgbouncer, settings, transaction_pooling=True))
    completed, failures, _ = await _run_flow(client, api, database_url)
    assert failures == []
    assert completed == CUSTOMERS
    left = await _on_every_server_connection(
        pgbouncer, "SELECT count(*) FROM pg_prepared_statements"
    )
    assert set(left.values()) == {"0"}, left


async def test_the_session_settings_are_in_force_behind_pgbouncer(
    pgbouncer: PgBouncer, pooled_engine: AsyncEngine
) -> None:
    """The app sends no session settings through PgBouncer; its connect_query sets them on every
    server connection, so a statement running past the timeout is cancelled by the server."""
    timeouts = await _on_every_server_connection(pgbouncer, "current_setting('statement_timeout')")
    assert set(timeouts.values()) == {"2s"}, timeouts
    async with pooled_engine.connect() as connection:
        shown = await connection.scalar(text("SHOW idle_in_transaction_session_timeout"))
        assert shown == "8s"
        started = time.monotonic()
        with pytest.raises(DBAPIError, match="canceling statement due to statement timeout"):
            await connection.execute(text("SELECT pg_sleep(5)"))
    # The server's 2 s, not the client's command_timeout (3 s).
    assert 1.9 < time.monotonic() - started < 2.9


async def test_without_the_setting_pgbouncer_refuses_the_session_settings(
    pgbouncer: PgBouncer, make_client: ClientFactory, settings: Settings
) -> None:
    engine = _engine(pgbouncer.url, transaction_pooling=False)
    try:
        with pytest.raises(
            (DBAPIError, asyncpg.PostgresError),
            match="unsupported startup parameter: statement_timeout",
        ):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    api = await make_client(_through(pgbouncer, settings, transaction_pooling=False))
    ready = await api.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["postgres"] != "ok"


async def test_without_the_setting_the_same_flow_fails_on_prepared_statements(
    lenient_pgbouncer: PgBouncer,
    make_client: ClientFactory,
    client: httpx.AsyncClient,
    settings: Settings,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Even a PgBouncer that lets the session settings pass cannot keep asyncpg's named, cached
    prepared statements: each lives on one server connection, and the next transaction of the
    same client may get the other one."""
    api = await make_client(_through(lenient_pgbouncer, settings, transaction_pooling=False))
    completed, failures, _ = await _run_flow(client, api, database_url)
    logged = capsys.readouterr().err
    # Logged by SQLSTATE, never by message (security review, finding 8): 26000 is "prepared
    # statement does not exist", 42P05 "prepared statement already exists".
    kinds = Counter(
        kind
        for sqlstate, kind in (("26000", "does not exist"), ("42P05", "already exists"))
        for line in logged.splitlines()
        if f'"sqlstate": "{sqlstate}"' in line
    )
    print(  # noqa: T201
        f"\n[pgbouncer] without APP_DB_TRANSACTION_POOLING: {len(failures)} failed requests, "
        f"{CUSTOMERS - completed} of {CUSTOMERS} flows broken; "
        f"prepared statement errors: {dict(kinds)}"
    )
    assert failures
    assert completed < CUSTOMERS
    assert kinds, logged[-3000:]


def test_wait_for_schema_works_through_pgbouncer(pgbouncer: PgBouncer) -> None:
    """The init container goes through APP_DB_URL like the app: PgBouncer, when there is one."""
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("APP_")},
        "APP_DB_URL": pgbouncer.url,
        "APP_DB_TRANSACTION_POOLING": "true",
    }
    result = subprocess.run(
        [sys.executable, "-m", "app", "wait-for-schema", "--wait", "10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("schema at head: ")
