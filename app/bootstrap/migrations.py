"""Alembic driven from code, so the CLI and the images need no alembic.ini."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.bootstrap.settings import DatabaseSettings
from app.migrations.timeouts import MigrationTimeoutError
from app.shared.infrastructure.database import create_engine


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "app:migrations")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def next_revision_id(config: Config) -> str:
    """Revisions are numbered 0001, 0002, ... so the history reads in order."""
    heads = ScriptDirectory.from_config(config).get_heads()
    numbers = [int(head) for head in heads if head.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def make_revision(message: str, database_url: str | None = None) -> None:
    config = alembic_config(database_url)
    if shutil.which("ruff"):  # format generated code the way `make fmt` would
        config.set_section_option("post_write_hooks", "hooks", "ruff_format")
        config.set_section_option("post_write_hooks", "ruff_format.type", "exec")
        config.set_section_option("post_write_hooks", "ruff_format.executable", "ruff")
        config.set_section_option(
            "post_write_hooks", "ruff_format.options", "format REVISION_SCRIPT_FILENAME"
        )
    command.revision(config, message=message, autogenerate=True, rev_id=next_revision_id(config))


def migrate_when_ready(database_url: str, revision: str = "head", *, wait: float) -> None:
    """Wait (bounded) for the database, then upgrade: what a migration Job needs."""
    asyncio.run(wait_for_database(database_url, wait))
    try:
        upgrade(database_url, revision)
    except MigrationTimeoutError as error:  # exit 1 with the revision and the blocker named
        raise SystemExit(str(error)) from error


async def wait_for_database(url: str, wait_seconds: float) -> None:
    """Bounded wait, so a migration Job started beside its database does not fail at once."""
    engine = create_async_engine(url, connect_args={"timeout": 5})
    try:
        await _wait_until(
            lambda: _probe_database(engine),
            wait_seconds,
            waiting_for="database",
            failure="database not reachable",
        )
    finally:
        await engine.dispose()


async def _wait_until(
    probe: Callable[[], Awaitable[str | None]],
    wait_seconds: float,
    *,
    waiting_for: str,
    failure: str,
) -> None:
    """Probe until it reports no problem, backing off from 0.5 s to 5 s; give up (exit 1, the
    last problem on stderr) when the next wait would pass the deadline."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.5
    while (problem := await probe()) is not None:
        if time.monotonic() + delay > deadline:
            msg = f"{failure} after {wait_seconds:.0f}s: {problem}"
            raise SystemExit(msg)
        print(f"waiting for the {waiting_for} ({problem})...", file=sys.stderr)  # noqa: T201
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


async def _probe_database(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means "not yet"; reported, retried
        return f"{type(error).__name__}: {error}"
    return None


SchemaState = Literal["behind", "current", "ahead"]


@dataclass(frozen=True, slots=True)
class CodeRevisions:
    """The revisions this code's migrations know, and their head(s): read once per process."""

    heads: frozenset[str]
    known: frozenset[str]

    @classmethod
    def load(cls) -> CodeRevisions:
        script = ScriptDirectory.from_config(alembic_config())
        return cls(
            heads=frozenset(script.get_heads()),
            known=frozenset(revision.revision for revision in script.walk_revisions()),
        )

    def state_of(self, applied: Collection[str]) -> SchemaState:
        """Where a database stamped with ``applied`` stands against this code.

        A revision this code does not know was written by a newer release: ``ahead``, which this
        code can serve, since each release's migrations keep the previous release working (during
        a rolling upgrade the old pods run on the new schema). Otherwise every head must be
        applied: an empty stamp, or one that is an ancestor of a head, is ``behind``.
        """
        if not applied:
            return "behind"
        if not self.known.issuperset(applied):
            return "ahead"
        return "current" if self.heads.issubset(applied) else "behind"

    def describe(self, applied: Collection[str]) -> str:
        database = ", ".join(sorted(applied)) or "no revision (never migrated)"
        code = ", ".join(sorted(self.heads))
        match self.state_of(applied):
            case "behind":
                return f"behind: the database is at {database}, this code needs {code}"
            case "ahead":
                return f"ahead of this code ({code}): the database is at {database}"
            case "current":
                return f"at head: {database}"


async def applied_revisions(engine: AsyncEngine) -> frozenset[str]:
    """The database's Alembic revisions: none while it has no ``alembic_version`` table."""
    async with engine.connect() as connection:
        if await connection.scalar(text("SELECT to_regclass('alembic_version')::text")) is None:
            return frozenset()
        rows = await connection.scalars(text("SELECT version_num FROM alembic_version"))
        return frozenset(rows.all())


def schema_not_behind(
    engine: AsyncEngine, revisions: CodeRevisions
) -> Callable[[], Awaitable[bool]]:
    """The readiness check's schema probe: true once the database holds this code's heads, or a
    newer release's revision."""

    async def probe() -> bool:
        return revisions.state_of(await applied_revisions(engine)) != "behind"

    return probe


async def wait_for_schema(db: DatabaseSettings, wait_seconds: float) -> str:
    """Bounded wait until the database answers and its schema is not behind this code: an init
    container of the api, worker and beat pods, so none starts on a schema it does not know.
    Goes through ``APP_DB_URL`` like the app (a transaction pooler included); returns what it
    found."""
    revisions = CodeRevisions.load()
    engine = create_engine(
        db.url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=db.pool_timeout,
        pool_busy_timeout=db.pool_busy_timeout,
        pool_recycle=db.pool_recycle,
        connect_timeout=db.connect_timeout,
        statement_timeout_ms=db.statement_timeout_ms,
        application_name="wait-for-schema",
        transaction_pooling=db.transaction_pooling,
    )
    found = ""

    async def probe() -> str | None:
        nonlocal found
        try:
            applied = await applied_revisions(engine)
        except Exception as error:  # noqa: BLE001 - any failure means "not yet"; reported, retried
            return f"database not reachable: {type(error).__name__}: {error}"
        found = revisions.describe(applied)
        return found if revisions.state_of(applied) == "behind" else None

    try:
        await _wait_until(probe, wait_seconds, waiting_for="schema", failure="schema not ready")
    finally:
        await engine.dispose()
    return f"schema {found}"
