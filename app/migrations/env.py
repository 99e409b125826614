"""Alembic environment (async). The URL comes from APP_DB_URL unless the caller set one.

Every revision runs under a ``lock_timeout`` and a ``statement_timeout`` (APP_DB_MIGRATION_*,
or the revision's own through ``set_timeouts``); a lock timeout is retried a few times with a
growing pause, then the run fails naming the revision and the session holding the lock
(app/migrations/timeouts.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, pool, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from app.bootstrap.mapping import map_all
from app.bootstrap.settings import DatabaseSettings, MigrationSettings, load_section
from app.migrations.timeouts import (
    MigrationTimeoutError,
    Timeouts,
    describe_blockers,
    first_line,
    retry_delay,
    timeout_kind,
)
from app.shared.infrastructure.database import metadata

config = context.config
# A constant of this project's own: "migrate" and a newline, in ASCII.
_LOCK_KEY = 0x6D6967726174650A
_log = logging.getLogger("app.migrations")
map_all()
target_metadata = metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_section(DatabaseSettings).url


def _restore(timeouts: Timeouts) -> Any:  # noqa: ANN401 - alembic's callback protocol
    """After each revision (in its transaction, or in the --sql output): the defaults again, in
    place of any the revision set for itself."""

    def on_version_apply(*, ctx: MigrationContext, **_: object) -> None:
        for statement in timeouts.statements():
            ctx.execute(statement)

    return on_version_apply


def _configure(connection: Connection, timeouts: Timeouts) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=True,
        on_version_apply=_restore(timeouts),
    )


def _applied(connection: Connection) -> set[str]:
    if connection.scalar(text("SELECT to_regclass('alembic_version')::text")) is None:
        return set()
    return set(connection.scalars(text("SELECT version_num FROM alembic_version")).all())


def _failed_revision(connection: Connection) -> str:
    """The revision that was running: read back from alembic_version after the rollback
    (each revision commits on its own, so the one after the applied ones failed)."""
    try:
        applied = _applied(connection)
        connection.rollback()
    except DBAPIError:
        connection.rollback()
        return "unknown revision"
    script = ScriptDirectory.from_config(config)
    destination = context.get_revision_argument()
    try:
        below_destination = {
            rev.revision for rev in script.walk_revisions("base", str(destination))
        }
    except Exception:  # noqa: BLE001 - "base", a relative step: not an upgrade to name
        below_destination = set()
    if applied and not applied <= below_destination:  # downgrading: the head is being undone
        names: Collection[str] = applied
    elif not applied:
        names = script.get_bases()
    else:
        names = {
            child
            for head in applied
            for child in (script.get_revision(head).nextrev if script.get_revision(head) else ())
        }
    labels = []
    for name in sorted(names):
        revision = script.get_revision(name)
        labels.append(f"{name} ({revision.doc})" if revision is not None else name)
    return ", ".join(labels) or f"the revision after {', '.join(sorted(applied))}"


def _failure(
    kind: str, revision: str, error: DBAPIError, timeouts: Timeouts, attempts: int, blockers: str
) -> str:
    statement = first_line(error.statement)
    if kind == "lock":
        return (
            f"migration {revision} gave up: no lock within lock_timeout "
            f"({timeouts.lock_timeout_ms} ms) after {attempts} attempt(s), on: {statement}. "
            f"{blockers}. End or wait for that transaction and migrate again; "
            "APP_DB_MIGRATION_LOCK_TIMEOUT_MS and APP_DB_MIGRATION_LOCK_RETRIES allow longer waits"
        )
    return (
        f"migration {revision} ran past statement_timeout ({timeouts.statement_timeout_ms} ms, "
        f"unless the revision set its own), on: {statement}. A long step sets its own limit "
        "with set_timeouts(statement_timeout_ms=...) in the revision; "
        "APP_DB_MIGRATION_STATEMENT_TIMEOUT_MS raises the default"
    )


def _run_sync(connection: Connection, *, own_connection: bool = True) -> None:
    settings = load_section(MigrationSettings)
    timeouts = Timeouts(settings.lock_timeout_ms, settings.statement_timeout_ms)
    attempt = 1
    while True:
        for statement in timeouts.statements():
            connection.exec_driver_sql(statement)
        if own_connection:
            connection.commit()
        _configure(connection, timeouts)
        try:
            with context.begin_transaction():
                context.run_migrations()
        except DBAPIError as error:
            kind = timeout_kind(error)
            if kind is None or not own_connection:
                raise
            connection.rollback()
            revision = _failed_revision(connection)
            blockers = describe_blockers(connection, error.statement) if kind == "lock" else ""
            if kind == "lock" and attempt <= settings.lock_retries:
                delay = retry_delay(attempt, settings.retry_delay_seconds)
                _log.warning(
                    "migration %s: no lock within %d ms on: %s; %s; retry %d of %d in %.1f s",
                    revision,
                    timeouts.lock_timeout_ms,
                    first_line(error.statement),
                    blockers,
                    attempt,
                    settings.lock_retries,
                    delay,
                )
                time.sleep(delay)
                attempt += 1
                continue
            message = _failure(kind, revision, error, timeouts, attempt, blockers)
            raise MigrationTimeoutError(message) from error
        return


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            # Two runs at once (a retried Job, two releases rolling out) take turns: the second
            # waits here, then finds nothing left to do. A session lock: it outlives the
            # migrations' own transactions and ends with the connection. Taken before the
            # timeouts are set: the other run may legitimately take minutes.
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            await connection.commit()
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


def run_offline() -> None:
    """``--sql``: the SQL as text, timeouts included (the migration lint reads it). Needs no
    database, so no APP_DB_URL either."""
    settings = load_section(MigrationSettings)
    timeouts = Timeouts(settings.lock_timeout_ms, settings.statement_timeout_ms)
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        dialect_name=None if url else "postgresql",
        target_metadata=target_metadata,
        literal_binds=True,
        on_version_apply=_restore(timeouts),
    )
    with context.begin_transaction():
        for statement in timeouts.statements():
            context.execute(statement)
        context.run_migrations()


def run_online() -> None:
    # A caller (tests, pytest-alembic) may hand over an open connection: its transaction is
    # the caller's, so a timeout is raised as it is, not retried.
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection, own_connection=False)
        return
    asyncio.run(_run_async())


if context.is_offline_mode():
    run_offline()
else:
    run_online()
