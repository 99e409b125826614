"""Migrations under load: every revision runs with a lock_timeout and a statement_timeout, retries
a lock timeout a bounded number of times, and otherwise fails naming the revision and the session
that holds the lock (app/migrations/env.py, app/migrations/timeouts.py).

The revisions here are the tests' own, written into a temporary version directory and run through
the project's env.py on a fresh database, with timeouts of a fraction of a second. Another session
(a thread with its own connection) holds the lock, as a long transaction of a running pod would.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.config import Config

from app.bootstrap.migrations import alembic_config
from app.migrations.timeouts import MigrationTimeoutError

pytestmark = pytest.mark.integration

BLOCKER = "migration-test-blocker"


@pytest.fixture(autouse=True)
def _clean_state() -> None:
    """Override the package's truncating fixture: these tests bring their own databases."""


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _fetch(url: str, sql: str) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(_dsn(url))
        try:
            return list(await connection.fetch(sql))
        finally:
            await connection.close()

    return asyncio.run(run())


def _revision(directory: Path, rev: str, down: str | None, body: str, prelude: str = "") -> None:
    (directory / f"{rev}_test.py").write_text(
        textwrap.dedent(
            f'''
            """Test revision {rev}."""
            import sqlalchemy as sa
            from alembic import op

            from app.migrations.timeouts import set_timeouts

            revision = {rev!r}
            down_revision = {down!r}
            branch_labels = None
            depends_on = None
            {prelude}

            def upgrade() -> None:
            '''
        )
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\n\ndef downgrade() -> None:\n    pass\n"
    )


def _config(url: str, versions: Path) -> Config:
    config = alembic_config(url)
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(versions))
    return config


class Blocker:
    """Another session with an open transaction that has read a table (ACCESS SHARE):
    ALTER TABLE needs ACCESS EXCLUSIVE and must wait for it."""

    def __init__(self, url: str, table: str = "t") -> None:
        self._url = url
        self._table = table
        self._held = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._hold()), daemon=True)
        self.error: BaseException | None = None

    async def _hold(self) -> None:
        try:
            connection = await asyncpg.connect(
                _dsn(self._url), server_settings={"application_name": BLOCKER}
            )
            transaction = connection.transaction()
            await transaction.start()
            await connection.fetch(f"SELECT * FROM {self._table}")  # noqa: S608 - a test's table
            self._held.set()
            await asyncio.get_running_loop().run_in_executor(None, self._release.wait)
            await transaction.rollback()
            await connection.close()
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error
            self._held.set()
            raise

    def __enter__(self) -> Blocker:
        self._thread.start()
        assert self._held.wait(30), "the blocking session never took its lock"
        assert self.error is None, self.error
        return self

    def release(self) -> None:
        self._release.set()

    def __exit__(self, *_: object) -> None:
        self.release()
        self._thread.join(30)


class RetryLog(logging.Handler):
    """The env's retry warnings; ``on_retry`` runs when one is logged."""

    def __init__(self, on_retry: object = None) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self._on_retry = on_retry

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if callable(self._on_retry):
            self._on_retry()


@pytest.fixture
def retry_log() -> Iterator[RetryLog]:
    handler = RetryLog()
    logger = logging.getLogger("app.migrations")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_DB_MIGRATION_LOCK_TIMEOUT_MS", "200")
    monkeypatch.setenv("APP_DB_MIGRATION_LOCK_RETRIES", "2")
    monkeypatch.setenv("APP_DB_MIGRATION_RETRY_DELAY_SECONDS", "0.05")


@pytest.fixture
def versions(tmp_path: Path) -> Path:
    _revision(tmp_path, "0001", None, 'op.execute("CREATE TABLE t (id integer PRIMARY KEY)")')
    _revision(
        tmp_path,
        "0002",
        "0001",
        'op.add_column("t", sa.Column("note", sa.Text(), nullable=True))',
    )
    return tmp_path


@pytest.mark.usefixtures("short_timeouts")
def test_a_migration_blocked_by_another_session_fails_naming_revision_and_blocker(
    empty_database_url: str, versions: Path, retry_log: RetryLog
) -> None:
    config = _config(empty_database_url, versions)
    command.upgrade(config, "0001")

    with Blocker(empty_database_url), pytest.raises(MigrationTimeoutError) as failure:
        command.upgrade(config, "head")

    message = str(failure.value)
    assert "migration 0002 (Test revision 0002.)" in message
    assert "lock_timeout (200 ms) after 3 attempt(s)" in message
    assert "ALTER TABLE t ADD COLUMN note TEXT" in message
    assert f"({BLOCKER}, user " in message
    assert "idle in transaction" in message
    assert "holds AccessShareLock on t" in message
    assert len(retry_log.messages) == 2  # APP_DB_MIGRATION_LOCK_RETRIES
    assert all(BLOCKER in line for line in retry_log.messages)
    assert [row["version_num"] for row in _fetch(empty_database_url, "TABLE alembic_version")] == [
        "0001"
    ]


def test_a_transient_lock_is_retried_and_the_migration_succeeds(
    empty_database_url: str, versions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_DB_MIGRATION_LOCK_TIMEOUT_MS", "300")
    monkeypatch.setenv("APP_DB_MIGRATION_LOCK_RETRIES", "5")
    monkeypatch.setenv("APP_DB_MIGRATION_RETRY_DELAY_SECONDS", "0.05")
    config = _config(empty_database_url, versions)
    command.upgrade(config, "0001")
    logger = logging.getLogger("app.migrations")

    with Blocker(empty_database_url) as blocker:
        # The blocking transaction ends once the migration has timed out once.
        handler = RetryLog(on_retry=blocker.release)
        logger.addHandler(handler)
        try:
            command.upgrade(config, "head")
        finally:
            logger.removeHandler(handler)

    assert len(handler.messages) >= 1
    assert "retry 1 of 5" in handler.messages[0]
    assert [row["version_num"] for row in _fetch(empty_database_url, "TABLE alembic_version")] == [
        "0002"
    ]
    columns = _fetch(
        empty_database_url,
        "SELECT column_name FROM information_schema.columns WHERE table_name = 't'",
    )
    assert {row["column_name"] for row in columns} == {"id", "note"}


def test_a_revision_sets_its_own_timeouts_for_itself_only(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_DB_MIGRATION_LOCK_TIMEOUT_MS", "4321")
    monkeypatch.setenv("APP_DB_MIGRATION_STATEMENT_TIMEOUT_MS", "654321")
    record = (
        "op.execute(\"INSERT INTO seen SELECT '{rev}', current_setting('lock_timeout'), "
        "current_setting('statement_timeout')\")"
    )
    _revision(
        tmp_path,
        "0001",
        None,
        'op.execute("CREATE TABLE seen (rev text, lock text, statement text)")\n'
        + record.format(rev="0001"),
    )
    _revision(
        tmp_path,
        "0002",
        "0001",
        "set_timeouts(lock_timeout_ms=1234, statement_timeout_ms=56789)\n"
        + record.format(rev="0002"),
    )
    _revision(tmp_path, "0003", "0002", record.format(rev="0003"))

    command.upgrade(_config(empty_database_url, tmp_path), "head")

    seen = _fetch(empty_database_url, "SELECT rev, lock, statement FROM seen ORDER BY rev")
    assert [tuple(row.values()) for row in seen] == [
        ("0001", "4321ms", "654321ms"),
        ("0002", "1234ms", "56789ms"),
        ("0003", "4321ms", "654321ms"),
    ]


def test_a_statement_past_its_timeout_fails_at_once_without_retries(
    empty_database_url: str, tmp_path: Path, retry_log: RetryLog
) -> None:
    _revision(tmp_path, "0001", None, 'op.execute("CREATE TABLE t (id integer PRIMARY KEY)")')
    _revision(
        tmp_path,
        "0002",
        "0001",
        'set_timeouts(statement_timeout_ms=100)\nop.execute("SELECT pg_sleep(30)")',
    )

    with pytest.raises(MigrationTimeoutError) as failure:
        command.upgrade(_config(empty_database_url, tmp_path), "head")

    message = str(failure.value)
    assert "migration 0002 (Test revision 0002.) ran past statement_timeout" in message
    assert "SELECT pg_sleep(30)" in message
    assert retry_log.messages == []


def test_set_timeouts_refuses_a_value_that_is_not_positive_milliseconds(
    empty_database_url: str, tmp_path: Path
) -> None:
    _revision(tmp_path, "0001", None, "set_timeouts(lock_timeout_ms=0)")

    with pytest.raises(ValueError, match="lock_timeout_ms must be a positive number"):
        command.upgrade(_config(empty_database_url, tmp_path), "head")


def test_an_index_built_concurrently_is_retried_after_a_lock_timeout_and_ends_valid(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CREATE INDEX CONCURRENTLY waits for every transaction that has seen the table; a lock
    timeout there leaves an INVALID index behind, outside any transaction. Chapter 07's pattern
    (drop it CONCURRENTLY IF EXISTS first, in a revision of its own) makes the retry succeed."""
    monkeypatch.setenv("APP_DB_MIGRATION_LOCK_TIMEOUT_MS", "300")
    monkeypatch.setenv("APP_DB_MIGRATION_LOCK_RETRIES", "5")
    monkeypatch.setenv("APP_DB_MIGRATION_RETRY_DELAY_SECONDS", "0.05")
    _revision(tmp_path, "0001", None, 'op.execute("CREATE TABLE t (id integer PRIMARY KEY)")')
    _revision(
        tmp_path,
        "0002",
        "0001",
        """
        with op.get_context().autocommit_block():
            op.drop_index("ix_t_id", table_name="t", postgresql_concurrently=True, if_exists=True)
            op.create_index(
                "ix_t_id", "t", ["id"], postgresql_concurrently=True, if_not_exists=True
            )
        """,
    )
    config = _config(empty_database_url, tmp_path)
    command.upgrade(config, "0001")
    logger = logging.getLogger("app.migrations")

    with Blocker(empty_database_url) as blocker:
        handler = RetryLog(on_retry=blocker.release)
        logger.addHandler(handler)
        try:
            command.upgrade(config, "head")
        finally:
            logger.removeHandler(handler)

    assert "CREATE INDEX CONCURRENTLY" in handler.messages[0]
    indexes = _fetch(
        empty_database_url,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_t_id'::regclass",
    )
    assert [row["indisvalid"] for row in indexes] == [True]
    assert [row["version_num"] for row in _fetch(empty_database_url, "TABLE alembic_version")] == [
        "0002"
    ]


def test_migrate_exits_1_naming_the_revision_and_the_blocker(empty_database_url: str) -> None:
    """The path the migration Job runs (`python -m app migrate`, the project's own revisions):
    0008 adds a column to users while a running pod's transaction has read users."""
    command.upgrade(alembic_config(empty_database_url), "0007")
    env = {
        **os.environ,
        "APP_DB_URL": empty_database_url,
        "APP_ENV": "test",
        "APP_DB_MIGRATION_LOCK_TIMEOUT_MS": "200",
        "APP_DB_MIGRATION_LOCK_RETRIES": "1",
        "APP_DB_MIGRATION_RETRY_DELAY_SECONDS": "0.05",
    }

    with Blocker(empty_database_url, table="users"):
        run = subprocess.run(
            [sys.executable, "-m", "app", "migrate", "--wait", "10"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert "migration 0008 (users.credentials_version) gave up" in run.stderr
    assert "after 2 attempt(s)" in run.stderr
    assert f"({BLOCKER}, user " in run.stderr
    assert "holds AccessShareLock on users" in run.stderr
