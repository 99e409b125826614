"""The idempotency store on real PostgreSQL, below the HTTP tests of test_orders_idempotency.py:
a key is claimed once and replays its stored response after the commit, belongs to one owner
and one operation (an owner's keys stay apart), is refused with another fingerprint, is
forgotten the moment it expires (not a moment before) by the claim that finds it and no other,
and the purge deletes expired keys only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.shared.application.idempotency import IdempotencyKey, IdempotencyKeyReusedError
from app.shared.infrastructure.idempotency import SqlaIdempotencyStore, delete_expired_keys
from tests.support.sql import sql_rows, sql_value

RETENTION = timedelta(hours=24)
START = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
_INSERT_KEY = text(
    "INSERT INTO idempotency_keys (owner, operation, key, fingerprint, created_at, expires_at)"
    " VALUES (:owner, 'ordering.place_order', :key, 'f', now(), now() + CAST(:expires AS interval))"
)


class SetClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(database_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


def _key_named(owner: uuid.UUID, key: str) -> IdempotencyKey:
    return IdempotencyKey(owner=owner, operation="ordering.place_order", key=key, fingerprint="f1")


def _key(
    owner: uuid.UUID, *, operation: str = "ordering.place_order", fingerprint: str = "f1"
) -> IdempotencyKey:
    return IdempotencyKey(owner=owner, operation=operation, key="k-1", fingerprint=fingerprint)


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    key: IdempotencyKey,
    *,
    at: datetime = START,
    response: dict[str, str] | None = None,
) -> dict[str, str] | None:
    """One unit of work: claim the key, and on a first claim complete it with ``response``."""
    async with sessions() as session, session.begin():
        store = SqlaIdempotencyStore(session, SetClock(at), retention=RETENTION)
        stored = await store.claim(key)
        if stored is None and response is not None:
            await store.complete(key, response)
        return stored


async def test_a_first_claim_stores_its_response_and_a_replay_gets_it(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    key = _key(uuid.uuid4())
    assert await _claim(sessions, key, response={"order": "o-1"}) is None
    assert await _claim(sessions, key, response={"order": "o-2"}) == {"order": "o-1"}
    (row,) = await sql_rows(
        database_url, "SELECT fingerprint, created_at, expires_at FROM idempotency_keys"
    )
    assert (row["fingerprint"], row["created_at"], row["expires_at"]) == (
        "f1",
        START,
        START + RETENTION,
    )


async def test_a_key_belongs_to_one_owner_and_one_operation(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    owner = uuid.uuid4()
    assert await _claim(sessions, _key(owner), response={"n": "1"}) is None
    assert await _claim(sessions, _key(uuid.uuid4()), response={"n": "2"}) is None
    assert (
        await _claim(sessions, _key(owner, operation="ordering.pay"), response={"n": "3"}) is None
    )
    assert await _claim(sessions, _key(owner)) == {"n": "1"}
    assert await sql_value(database_url, "SELECT count(*) FROM idempotency_keys") == 3


async def test_the_same_key_with_another_request_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner = uuid.uuid4()
    await _claim(sessions, _key(owner), response={"n": "1"})
    with pytest.raises(IdempotencyKeyReusedError):
        await _claim(sessions, _key(owner, fingerprint="f2"))


async def test_a_key_is_forgotten_the_moment_it_expires_and_not_before(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner = uuid.uuid4()
    await _claim(sessions, _key(owner), response={"n": "1"})
    just_before = START + RETENTION - timedelta(microseconds=1)
    assert await _claim(sessions, _key(owner), at=just_before) == {"n": "1"}
    expiry = START + RETENTION
    assert (
        await _claim(sessions, _key(owner, fingerprint="f2"), at=expiry, response={"n": "2"})
        is None
    )
    assert await _claim(sessions, _key(owner, fingerprint="f2"), at=expiry) == {"n": "2"}


async def test_the_purge_deletes_keys_whose_expiry_has_come_only(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    owner = uuid.uuid4()
    async with sessions() as session, session.begin():
        # now() is the transaction's start: a key expiring at that very instant is expired.
        await session.execute(
            _INSERT_KEY,
            [
                {"owner": owner, "key": "past", "expires": timedelta(seconds=-1)},
                {"owner": owner, "key": "now", "expires": timedelta(0)},
                {"owner": owner, "key": "future", "expires": timedelta(hours=1)},
            ],
        )
        assert await delete_expired_keys(session) == 2
    assert await sql_value(database_url, "SELECT array_agg(key) FROM idempotency_keys") == [
        "future"
    ]


async def test_one_owners_keys_for_one_operation_are_kept_apart(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner = uuid.uuid4()
    for name in ("k-1", "k-2"):
        assert await _claim(sessions, _key_named(owner, name), response={"key": name}) is None
    assert await _claim(sessions, _key_named(owner, "k-1")) == {"key": "k-1"}
    assert await _claim(sessions, _key_named(owner, "k-2")) == {"key": "k-2"}


async def test_a_claim_forgets_only_its_own_expired_key(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """Other expired keys wait for the purge: a claim deletes no one else's row."""
    first, second = uuid.uuid4(), uuid.uuid4()
    await _claim(sessions, _key(first), response={"n": "1"})
    await _claim(sessions, _key(second), response={"n": "2"})
    await _claim(sessions, _key(first, fingerprint="f2"), at=START + RETENTION, response={"n": "3"})
    owners = await sql_value(database_url, "SELECT array_agg(owner) FROM idempotency_keys")
    assert sorted(owners) == sorted([first, second])
