"""Readiness and the schema: not ready while the database is behind this code, ready at head or
ahead of it (a newer release migrated it during a rolling upgrade)."""

from __future__ import annotations

import asyncio

import httpx

from app.bootstrap.migrations import upgrade
from tests.conftest import build_settings
from tests.integration.conftest import ClientFactory
from tests.support.sql import sql_execute, sql_value


async def _ready(
    make_client: ClientFactory, database_url: str, redis_url: str
) -> httpx.AsyncClient:
    return await make_client(build_settings(database_url, redis_url))


async def test_an_unmigrated_database_is_503_schema_behind_until_it_is_migrated(
    make_client: ClientFactory, empty_database_url: str, redis_url: str
) -> None:
    client = await _ready(make_client, empty_database_url, redis_url)
    before = await client.get("/health/ready")
    assert before.status_code == 503, before.text
    assert before.json() == {
        "status": "unavailable",
        "checks": {"postgres": "ok", "redis": "ok", "schema": "behind"},
    }
    await asyncio.to_thread(upgrade, empty_database_url)  # alembic runs its own event loop
    after = await client.get("/health/ready")
    assert after.status_code == 200, after.text
    assert after.json() == {
        "status": "ok",
        "checks": {"postgres": "ok", "redis": "ok", "schema": "ok"},
    }


async def test_a_database_at_an_older_revision_is_behind(
    make_client: ClientFactory, empty_database_url: str, redis_url: str
) -> None:
    await asyncio.to_thread(upgrade, empty_database_url, "0006")
    client = await _ready(make_client, empty_database_url, redis_url)
    response = await client.get("/health/ready")
    assert response.status_code == 503, response.text
    assert response.json()["checks"]["schema"] == "behind"


async def test_a_migrated_database_is_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"postgres": "ok", "redis": "ok", "schema": "ok"}


async def test_a_database_a_newer_release_migrated_is_ready(
    make_client: ClientFactory, empty_database_url: str, redis_url: str
) -> None:
    """During `helm upgrade` the new release migrates first; the old pods must stay ready."""
    await asyncio.to_thread(upgrade, empty_database_url)
    await sql_execute(empty_database_url, "UPDATE alembic_version SET version_num = '0099_newer'")
    client = await _ready(make_client, empty_database_url, redis_url)
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["schema"] == "ok"


async def test_a_schema_that_caught_up_is_not_queried_again(
    make_client: ClientFactory, empty_database_url: str, redis_url: str
) -> None:
    """Steady-state probes cost what they cost before: once ok, the schema check asks nothing
    (here: the stamp vanishes afterwards, and the probe does not notice)."""
    await asyncio.to_thread(upgrade, empty_database_url)
    client = await _ready(make_client, empty_database_url, redis_url)
    assert (await client.get("/health/ready")).status_code == 200
    await sql_execute(empty_database_url, "DROP TABLE alembic_version")
    assert await sql_value(empty_database_url, "SELECT to_regclass('alembic_version')") is None
    again = await client.get("/health/ready")
    assert again.status_code == 200, again.text
    assert again.json()["checks"]["schema"] == "ok"
