from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from app.bootstrap.api import create_app
from app.bootstrap.devtools.smtp_sink import start_sink
from app.bootstrap.settings import Settings
from tests.conftest import run_sql
from tests.integration.support import Staffing, staffing
from tests.support.mail import Mailbox
from tests.support.ports import free_port
from tests.support.worker import WorkerProcess, start_worker, worker_environment

OWASP_API_TOP_10: Final = frozenset(f"API{number}" for number in range(1, 11))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/integration talks to real servers: select with -m integration.
    for item in items:
        if "tests/integration/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
        for mark in item.iter_markers("owasp"):
            unknown = set(mark.args) - OWASP_API_TOP_10
            if unknown or not mark.args:
                raise pytest.UsageError(f"{item.nodeid}: owasp() takes API1..API10: {mark.args}")


@pytest.fixture(autouse=True)
async def _clean_state(database_url: str, redis_url: str) -> None:
    """Each test starts from empty tables and an empty Redis database."""
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{row["tablename"]}"' for row in tables)
            await connection.execute(f"TRUNCATE {names} CASCADE")
    finally:
        await connection.close()
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@pytest.fixture
def empty_database_url(server_url: str) -> Iterator[str]:
    """A new database on the test server, never migrated, dropped after the test."""
    name = f"test_empty_{secrets.token_hex(6)}"
    server = make_url(server_url)
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)

    run_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    url = server.set(drivername="postgresql+asyncpg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        run_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    """Start an app (its own container and pools) for given settings; stopped after the test."""
    async with AsyncExitStack() as stack:

        async def factory(settings: Settings, **kwargs: Any) -> httpx.AsyncClient:
            app: FastAPI = create_app(settings, **kwargs)
            manager = await stack.enter_async_context(LifespanManager(app))
            transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://testserver")
            )

        yield factory


@pytest.fixture
async def client(make_client: ClientFactory, settings: Settings) -> httpx.AsyncClient:
    return await make_client(settings)


@pytest.fixture
async def team(client: httpx.AsyncClient, database_url: str) -> Staffing:
    """One user of each role (root, adam, sam, carl), over HTTP on ``client``."""
    return await staffing(client, database_url)


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    """The project's SMTP sink on a free port, in this process, saving to ``tmp_path``."""
    port = free_port()
    controller = start_sink("127.0.0.1", port, tmp_path / "mailbox")
    yield Mailbox(port=port, path=tmp_path / "mailbox")
    controller.stop()


@pytest.fixture
def worker(settings: Settings, mailbox: Mailbox, tmp_path: Path) -> Iterator[WorkerProcess]:
    """``python -m app worker`` for the run's database and Redis, mailing to ``mailbox``."""
    running = start_worker(worker_environment(settings, mailbox), tmp_path / "worker.log")
    yield running
    running.stop()
