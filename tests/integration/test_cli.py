"""The operator CLI, run as operators run it: a separate process configured by the environment."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

import asyncpg
import httpx

from app.bootstrap.migrations import CodeRevisions, upgrade
from app.bootstrap.settings import Settings
from tests.integration.helpers import PASSWORD, bearer, log_in
from tests.support.ports import dead_port


def _run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "app", *args],
        env={key: value for key, value in env.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _environment(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "test",
        "APP_DB_URL": settings.db.url,
        "APP_REDIS_URL": settings.redis.url,
        "APP_AUTH_JWT_SECRET": settings.auth.jwt_secret.get_secret_value(),
        "APP_AUTH_ARGON2_MEMORY_KIB": "1024",
        "APP_AUTH_ARGON2_TIME_COST": "1",
        **extra,
    }


async def test_create_super_admin_makes_an_account_that_can_manage_users(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    result = _run(
        "create-super-admin",
        "--username", "root",
        "--email", "root@example.com",
        env=_environment(settings, APP_SUPER_ADMIN_PASSWORD=PASSWORD),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    tokens = await log_in(client, "root")
    me = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert me.json()["role"] == "super_admin"
    users = await client.get("/api/v1/users", headers=bearer(tokens))
    assert users.status_code == 200


async def test_create_super_admin_refuses_a_taken_username(settings: Settings) -> None:
    env = _environment(settings, APP_SUPER_ADMIN_PASSWORD=PASSWORD)
    first = _run("create-super-admin", "--username", "root", "--email", "a@example.com", env=env)
    second = _run("create-super-admin", "--username", "root", "--email", "b@example.com", env=env)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 1
    assert second.stderr.strip() == "error: This username is taken. (username_taken)"


def test_migrate_is_idempotent_on_a_migrated_database(settings: Settings) -> None:
    result = _run("migrate", env=_environment(settings))
    assert result.returncode == 0, result.stderr
    assert "migrated to head" in result.stderr


def test_migrate_gives_up_after_its_bounded_wait_with_a_clear_message(settings: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    env = _environment(settings, APP_DB_URL=f"postgresql://postgres@127.0.0.1:{dead}/postgres")
    result = _run("migrate", "--wait", "2", env=env)
    assert result.returncode != 0
    assert "database not reachable after 2s" in result.stderr


def test_bad_configuration_stops_start_up_naming_each_variable() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("APP_", "TEST_"))}
    result = _run("api", env={**env, "APP_SERVER_PORT": "http", "APP_DB_URL": "mysql://x"})
    assert result.returncode == 2
    assert "APP_DB_URL" in result.stderr
    assert "APP_REDIS_URL" in result.stderr
    assert "APP_AUTH_JWT_SECRET" in result.stderr


def test_wait_for_schema_exits_0_at_once_on_a_migrated_database(settings: Settings) -> None:
    result = _run("wait-for-schema", "--wait", "10", env=_environment(settings))
    assert result.returncode == 0, result.stderr
    # At once: its only line is the answer, no "waiting for the schema" before it.
    assert result.stderr.strip() == f"schema at head: {_head()}"


def test_wait_for_schema_gives_up_on_an_unmigrated_database_with_a_clear_message(
    settings: Settings, empty_database_url: str
) -> None:
    env = _environment(settings, APP_DB_URL=empty_database_url)
    # It gives up by itself: _run's 60 s timeout fails the test if it never does.
    result = _run("wait-for-schema", "--wait", "2", env=env)
    assert result.returncode == 1, result.stderr
    assert "waiting for the schema (behind: the database is at no revision" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "schema not ready after 2s: behind: the database is at no revision (never migrated), "
        f"this code needs {_head()}"
    )


def test_wait_for_schema_exits_0_once_the_migration_lands_while_it_waits(
    settings: Settings, empty_database_url: str
) -> None:
    env = _environment(settings, APP_DB_URL=empty_database_url)
    waiting = subprocess.Popen(
        [sys.executable, "-m", "app", "wait-for-schema", "--wait", "120"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert waiting.stderr is not None
        first = waiting.stderr.readline()
        assert first.startswith("waiting for the schema (behind"), first
        upgrade(empty_database_url)  # what the migration Job does meanwhile
        assert waiting.wait(timeout=30) == 0
        assert f"schema at head: {_head()}" in waiting.stderr.read()
    finally:
        waiting.kill()
        waiting.wait()


def test_wait_for_schema_accepts_a_schema_a_newer_release_migrated(
    settings: Settings, empty_database_url: str
) -> None:
    upgrade(empty_database_url)
    _execute(empty_database_url, "UPDATE alembic_version SET version_num = '0099_newer'")
    result = _run(
        "wait-for-schema", "--wait", "2", env=_environment(settings, APP_DB_URL=empty_database_url)
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stderr.strip()
        == f"schema ahead of this code ({_head()}): the database is at 0099_newer"
    )


def test_wait_for_schema_waits_for_an_unreachable_database_and_gives_up(settings: Settings) -> None:
    env = _environment(settings, APP_DB_URL=f"postgresql://postgres@127.0.0.1:{dead_port()}/x")
    result = _run("wait-for-schema", "--wait", "2", env=env)
    assert result.returncode == 1
    assert "schema not ready after 2s: database not reachable: " in result.stderr


def test_migrate_refuses_a_transaction_pooler(settings: Settings) -> None:
    """Migrations hold a session-level advisory lock: they must not go through PgBouncer."""
    result = _run("migrate", env=_environment(settings, APP_DB_TRANSACTION_POOLING="true"))
    assert result.returncode == 2
    assert "APP_DB_TRANSACTION_POOLING: migrations need a direct connection" in result.stderr


def _head() -> str:
    (head,) = CodeRevisions.load().heads
    return head


def _execute(database_url: str, sql: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(database_url.replace("+asyncpg", "", 1))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())
