"""Alembic driven from code, so the CLI and the images need no alembic.ini."""

from __future__ import annotations

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "app:migrations")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def make_revision(message: str, database_url: str | None = None) -> None:
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
