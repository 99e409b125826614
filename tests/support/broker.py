"""The Celery broker (kombu's Redis transport, in the test Redis database) as a signal that the
workers' work is over."""

from __future__ import annotations

from typing import cast

from redis.asyncio import Redis

from app.bootstrap.worker.sides import QUEUES
from tests.support.sql import sql_value

UNPUBLISHED = "SELECT count(*) FROM outbox_events WHERE published_at IS NULL"


async def broker_idle(redis: Redis) -> bool:
    """No message waits in any queue and none is held by a worker.

    acks_late: a delivered message stays in kombu's ``unacked`` hash until its task has returned
    (a prefetched one too), and a task publishes what it sends before it returns. So an idle
    broker means every task sent so far has run, and nothing it sent is left; only a process
    outside the workers (beat, the API's fast path) can send more.
    """
    if await redis.hlen("unacked"):
        return False
    for queue in QUEUES:
        # One list per priority step: "<queue>", "<queue>\x06\x163", ...
        async for key in redis.scan_iter(match=f"{queue}*", _type="list"):
            if await redis.llen(key):
                return False
    return True


async def work_over(redis: Redis, database_url: str) -> bool:
    """Every task sent has run and every event is relayed: nothing more arrives (while the
    processes that send on their own, beat and the API's fast path, have nothing left to send).

    The broker idle first, then no event unpublished: an event recorded after the first look
    came from a task that was still queued or running then, and is caught by the second."""
    return await broker_idle(redis) and not await sql_value(database_url, UNPUBLISHED)


async def age_unacked(redis: Redis, seconds: float) -> int:
    """Time passes for the deliveries no worker acknowledged: kombu dates each in the
    ``unacked_index`` sorted set, and a worker that connects delivers again those older than
    the visibility timeout. kombu reads the clock of the worker process, which a test cannot
    move, so the dates move instead. Returns how many deliveries there were."""
    entries = cast(
        "list[tuple[str, float]]", await redis.zrange("unacked_index", 0, -1, withscores=True)
    )
    if entries:
        await redis.zadd("unacked_index", {tag: score - seconds for tag, score in entries})
    return len(entries)
