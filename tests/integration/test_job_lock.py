"""RedisJobLock on a real Redis: one claim per interval, and a release that only ever gives back
its own claim."""

from __future__ import annotations

from redis.asyncio import Redis

from app.shared.infrastructure.job_lock import RedisJobLock
from tests.support.polling import until

JOB = "tests.job_lock"
KEY = f"jobs:lock:{JOB}"


async def _until_expired(redis: Redis, key: str) -> None:
    await redis.pexpire(key, 1)

    async def gone() -> bool:
        return not await redis.exists(key)

    await until(gone, every=0.01, what=f"{key} did not expire")


async def test_a_held_claim_refuses_a_second_until_released(redis: Redis) -> None:
    first, second = RedisJobLock(redis), RedisJobLock(redis)
    token = await first.acquire(JOB, 60)
    assert token is not None
    assert await second.acquire(JOB, 60) is None
    assert await redis.get(KEY) == token
    assert 0 < await redis.pttl(KEY) <= 60_000

    await first.release(JOB, token)
    assert await redis.exists(KEY) == 0
    assert await second.acquire(JOB, 60) is not None


async def test_a_release_after_the_claim_passed_to_another_holder_leaves_it(redis: Redis) -> None:
    first, second = RedisJobLock(redis), RedisJobLock(redis)
    stale = await first.acquire(JOB, 60)
    assert stale is not None
    await _until_expired(redis, KEY)  # the first run outlived its claim
    current = await second.acquire(JOB, 60)
    assert current is not None
    assert current != stale

    await first.release(JOB, stale)

    assert await redis.get(KEY) == current
    assert await first.acquire(JOB, 60) is None


async def test_two_claims_of_one_process_have_different_tokens(redis: Redis) -> None:
    # One worker process may run a job again after its claim expired: the old run's release
    # must not take the new run's claim, so the token is per claim, not per process.
    lock = RedisJobLock(redis)
    stale = await lock.acquire(JOB, 60)
    assert stale is not None
    await _until_expired(redis, KEY)
    current = await lock.acquire(JOB, 60)
    assert current is not None

    await lock.release(JOB, stale)

    assert await redis.get(KEY) == current
