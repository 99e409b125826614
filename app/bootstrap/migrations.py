"""Alembic driven from code, so the CLI and the images need no alembic.ini."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


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
    upgrade(database_url, revision)


async def wait_for_database(url: str, wait_seconds: float) -> None:
    """Bounded wait, so a migration Job started beside its database does not fail at once."""
    engine = create_async_engine(url, connect_args={"timeout": 5})
    deadline = time.monotonic() + wait_seconds
    delay = 0.5
    try:
        while (error := await _probe_database(engine)) is not None:
            if time.monotonic() + delay > deadline:
                msg = f"database not reachable after {wait_seconds:.0f}s: {error}"
                raise SystemExit(msg)
            print(f"waiting for the database ({error})...", file=sys.stderr)  # noqa: T201
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    finally:
        await engine.dispose()


async def _probe_database(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means "not yet"; reported, retried
        return f"{type(error).__name__}: {error}"
    return None
