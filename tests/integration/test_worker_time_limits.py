"""A task past its soft time limit: Celery raises SoftTimeLimitExceeded in the pool process,
which interrupts the event loop, not the coroutine. The runtime must cancel the coroutine (its
transaction rolls back, its SMTP connection closes) before the next task runs on that loop;
otherwise the abandoned send would carry on later, inside someone else's task."""

from __future__ import annotations

from pathlib import Path

import httpx
from redis.asyncio import Redis

from app.bootstrap.settings import Settings
from tests.integration.order_support import place_order, shopfront
from tests.support.broker import work_over
from tests.support.mail import GatedSink, text_of
from tests.support.polling import until
from tests.support.sql import sql_value, wait_for_sql
from tests.support.worker import running_workers, worker_environment

DEAD_LETTERS = (
    "SELECT count(*) FROM dead_letters WHERE task_name = 'notifications.order_confirmation'"
    " AND error_type = 'SoftTimeLimitExceeded'"
)
IDLE_IN_TRANSACTION = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND state LIKE 'idle in transaction%'"
)


async def test_a_task_past_its_soft_time_limit_is_cancelled_cleanly_and_dead_lettered(
    client: httpx.AsyncClient,
    database_url: str,
    redis: Redis,
    settings: Settings,
    tmp_path: Path,
) -> None:
    sink = GatedSink.start(tmp_path / "mailbox", hold="data")
    try:
        env = worker_environment(
            settings,
            sink.mailbox,
            APP_CELERY_SOFT_TIME_LIMIT="2",
            APP_CELERY_TIME_LIMIT="60",
            APP_CELERY_MAX_RETRIES="0",
            # The cancelled send still says QUIT (aiosmtplib); the held server never answers,
            # so the clean-up ends with the SMTP timeout.
            APP_SMTP_TIMEOUT="3",
        )
        with running_workers([env], [tmp_path / "worker.log"]) as (running,):
            shop = await shopfront(client, database_url)
            await place_order(client, shop)
            await until(
                sink.handler.in_flight.is_set,
                every=0.02,
                what=lambda: running.log.read_text()[-3000:],
            )
            # The limit fires while the sink holds the DATA command. By the time the failure is
            # recorded, the send was cancelled and its transaction (the inbox claim) rolled back:
            # nothing of the task is left running on the worker's loop.
            await wait_for_sql(database_url, DEAD_LETTERS, 1)
            assert await sql_value(database_url, IDLE_IN_TRANSACTION) == 0
            assert sink.handler.interrupted.is_set()
            # The sink lets go, and the next task runs on the same loop: an abandoned send
            # still pending there would now deliver the first order's mail too.
            sink.handler.release.set()
            second = await place_order(client, shop)
            await sink.mailbox.wait_for(1)
            # The second task has returned (the loop runs only while a task does) and nothing
            # is left to relay: a second mail would be here by now.
            await until(lambda: work_over(redis, database_url))
            messages = sink.mailbox.messages()
        assert len(messages) == 1, [message["Subject"] for message in messages]
        assert second in text_of(messages[0])
    finally:
        sink.stop()
