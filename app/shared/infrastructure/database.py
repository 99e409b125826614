"""SQLAlchemy foundations: a metadata with a naming convention, a mapper registry, the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, NewType, cast

import asyncpg
from sqlalchemy import ColumnElement, CursorResult, Executable, MetaData, Result, Table, delete
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import registry
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from app.shared.infrastructure.pool_metrics import MeteredPool

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


async def delete_where(session: AsyncSession, table: Table, condition: ColumnElement[bool]) -> int:
    """``DELETE FROM table WHERE condition`` in the session's transaction; how many rows went."""
    result = cast("CursorResult[Any]", await session.execute(delete(table).where(condition)))
    return int(result.rowcount or 0)


def session_settings(statement_timeout_ms: int) -> dict[str, str]:
    """The server settings every connection runs with. Sent at connect time, unless a
    transaction pooler stands in between: then the pooler sets them on its server connections
    (PgBouncer's ``connect_query``, docs/07-database.md)."""
    return {
        "statement_timeout": str(statement_timeout_ms),
        "idle_in_transaction_session_timeout": str(statement_timeout_ms * 4),
    }


def _unnamed_statement() -> str:
    return ""


# A transaction pooler hands every transaction to whichever server connection is free, so nothing
# may outlive a transaction on the server. asyncpg's named prepared statements do: cached, they
# are missing on the next server connection ("does not exist") or collide with another client's
# of the same name ("already exists"); uniquely named, they are closed later on some other server
# connection and pile up on the one that has them. The unnamed statement is replaced by the next
# one on the same connection, and asyncpg sends it again (Parse) with each execution when its
# cache is off: no cache, no names, nothing left behind.
_TRANSACTION_POOLING_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,  # asyncpg's own cache
    "prepared_statement_cache_size": 0,  # SQLAlchemy's, per connection
    "prepared_statement_name_func": _unnamed_statement,
}


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
    transaction_pooling: bool = False,
    pool_pre_ping: bool = False,
    pool_busy_timeout: float = 0.0,
    echo: bool = False,
) -> AsyncEngine:
    """A bounded pool: callers wait at most ``pool_timeout`` for a connection, queries at most
    ``statement_timeout_ms`` on the server, connection attempts at most ``connect_timeout``.
    With ``pool_busy_timeout``, a caller behind callers that have waited for over a second
    waits at most that long instead (``pool_queue.py``).

    ``transaction_pooling``: ``url`` is a transaction-mode pooler such as PgBouncer, which
    refuses startup parameters it does not know (it tracks ``application_name``) and shares its
    server connections between clients; the pooler then sets ``session_settings()``.
    """
    server_settings = {"application_name": application_name}
    if not transaction_pooling:
        server_settings |= session_settings(statement_timeout_ms)
    connect_args: dict[str, Any] = {
        "timeout": connect_timeout,
        "command_timeout": statement_timeout_ms / 1000 + 1,
        "server_settings": server_settings,
        **(_TRANSACTION_POOLING_ARGS if transaction_pooling else {}),
    }
    return create_async_engine(
        url,
        # SQLAlchemy's own, with saturation and wait metrics and the standing-queue rule.
        poolclass=MeteredPool.with_busy_timeout(pool_busy_timeout)
        if pool_busy_timeout
        else MeteredPool,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_recycle=pool_recycle,
        # Off by default: a round trip per request, for an event that costs one failed request
        # per process when it happens (a disconnect invalidates the whole pool).
        pool_pre_ping=pool_pre_ping,
        connect_args=connect_args,
        echo=echo,
        # Error messages (logged, traced) name the statement but not its values, which can be
        # personal data or secrets; APP_DB_ECHO is for debugging and shows them.
        hide_parameters=not echo,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: entities stay readable after commit without a second round trip.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


AutocommitEngine = NewType("AutocommitEngine", AsyncEngine)


def autocommit(engine: AsyncEngine) -> AutocommitEngine:
    """The same pool, with each statement its own transaction (no BEGIN, no ROLLBACK)."""
    return AutocommitEngine(engine.execution_options(isolation_level="AUTOCOMMIT"))


class SessionSlot:
    """The request's session once something in the request has asked for one, else None.

    Readers look here instead of asking for the session: a request that only reads (a cached
    product, a list) then never creates and closes a session it would not use.
    """

    __slots__ = ("session",)

    def __init__(self) -> None:
        self.session: AsyncSession | None = None


class ReadConnections:
    """Reads for the query side, outside any transaction when the request has none: each
    statement runs on a pooled connection in autocommit mode, which goes back to the pool as
    soon as the rows are read.

    A session's read costs BEGIN and ROLLBACK round trips around the query and holds its
    connection to the end of the request; this costs the query alone. When the request's session
    already holds a connection (it loaded an entity first), reads go through it instead: one
    request never holds two connections, which a small pool or a pooler would run out of.
    The price of autocommit: two statements of one read are two snapshots, so a reader must not
    need them to agree beyond what its rows guarantee (an order's lines never change).
    """

    def __init__(self, engine: AutocommitEngine, slot: SessionSlot | None = None) -> None:
        self._engine = engine
        self._slot = slot

    async def execute(self, statement: Executable) -> Result[Any]:
        session = self._session()
        if session is not None:
            return await session.execute(statement)
        async with self._engine.connect() as connection:
            # Buffered: the rows outlive the connection, which is back in the pool already.
            return await connection.execute(statement)

    async def fetch(self, sql: str, *args: object) -> Sequence[asyncpg.Record]:
        """``sql`` (``$1``-style parameters) straight through asyncpg, on the same connections.

        For the hottest reads only: SQLAlchemy Core spends about 120 µs of CPU on executing a
        statement and 140 µs more on building one with filters, a sort and a cursor, as much as
        asyncpg's whole round trip (chapter 15). The pool, its bounds, the statement timeout and
        the pooler settings are the engine's; SQLAlchemy's tracing does not see these queries.
        A lost connection is a 503 and replaces the pool, as SQLAlchemy does on a disconnect.
        """
        session = self._session()
        if session is not None:
            return await _fetch_on(await session.connection(), sql, args)
        # The pooled connection itself, not a SQLAlchemy Connection around it: no Connection
        # object, events or autocommit switch and reset for a lone statement, which asyncpg runs
        # in a transaction of its own anyway. About 40 µs of CPU a read (chapter 15).
        pooled = await self._engine.raw_connection()
        try:
            return await _fetch_pooled(pooled, self._engine, sql, args)
        finally:
            await greenlet_spawn(pooled.close)

    def _session(self) -> AsyncSession | None:
        session = self._slot.session if self._slot is not None else None
        return session if session is not None and session.in_transaction() else None


async def _fetch_on(
    connection: AsyncConnection, sql: str, args: tuple[object, ...]
) -> Sequence[asyncpg.Record]:
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    try:
        rows: Sequence[asyncpg.Record] = await driver.fetch(sql, *args)  # type: ignore[union-attr]
    except _LOST as error:
        if isinstance(error, asyncpg.InterfaceError) and not driver.is_closed():  # type: ignore[union-attr]
            raise  # a mistake in the call, not a lost connection
        # SQLAlchemy never saw this error, so do what it does on a disconnect: this connection is
        # never pooled again, and the others are likely dead too (a restarted server), so none is
        # handed out again either.
        await connection.invalidate(error)
        await connection.engine.dispose(close=False)
        raise ConnectionResetError("the database connection was lost") from error
    return rows


async def _fetch_pooled(
    pooled: PoolProxiedConnection, engine: AsyncEngine, sql: str, args: tuple[object, ...]
) -> Sequence[asyncpg.Record]:
    driver = pooled.driver_connection
    try:
        rows: Sequence[asyncpg.Record] = await driver.fetch(sql, *args)  # type: ignore[union-attr]
    except _LOST as error:
        if isinstance(error, asyncpg.InterfaceError) and not driver.is_closed():  # type: ignore[union-attr]
            raise  # a mistake in the call, not a lost connection
        # As _fetch_on: never pooled again, and no other connection of this pool handed out.
        await greenlet_spawn(pooled.invalidate, error)
        await engine.dispose(close=False)
        raise ConnectionResetError("the database connection was lost") from error
    return rows


# InternalClientError: the server's "terminating connection" arrived while the connection was
# idle in the pool and its end-of-file has not been read yet, so asyncpg's protocol is stuck
# waiting for a ReadyForQuery that never comes ("cannot switch to state 12; another operation
# (2) is in progress"). About one kill in six lands there; SQLAlchemy treats it as a disconnect.
_LOST: Final = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
