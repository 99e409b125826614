"""SQLAlchemy foundations: a metadata with a naming convention, a mapper registry, the engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import registry

# Constraint names are stable and predictable, so an IntegrityError can be mapped back to the
# domain rule it protects (see ConstraintErrors) and Alembic migrations stay reviewable.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
mapper_registry = registry(metadata=metadata)


def create_engine(  # noqa: PLR0913 - every pool knob is a deliberate setting
    url: str,
    *,
    pool_size: int,
    max_overflow: int,
    pool_timeout: float,
    pool_recycle: int,
    connect_timeout: float,
    statement_timeout_ms: int,
    application_name: str,
    echo: bool = False,
) -> AsyncEngine:
    """A bounded pool: callers wait at most ``pool_timeout`` for a connection, queries at most
    ``statement_timeout_ms`` on the server, connection attempts at most ``connect_timeout``."""
    connect_args: dict[str, Any] = {
        "timeout": connect_timeout,
        "command_timeout": statement_timeout_ms / 1000 + 1,
        "server_settings": {
            "application_name": application_name,
            "statement_timeout": str(statement_timeout_ms),
            "idle_in_transaction_session_timeout": str(statement_timeout_ms * 4),
        },
    }
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_recycle=pool_recycle,
        pool_pre_ping=True,
        connect_args=connect_args,
        echo=echo,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: entities stay readable after commit without a second round trip.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
