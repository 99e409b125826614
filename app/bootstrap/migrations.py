"""Alembic driven from code, so the CLI and the images need no alembic.ini."""

from __future__ import annotations

import shutil

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory


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
