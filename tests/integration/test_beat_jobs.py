"""Periodic jobs on real worker and beat processes: order expiry (with its single-run lock) and
the purge of expired bookkeeping."""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from redis.asyncio import Redis

from app.bootstrap.settings import Settings
from app.bootstrap.worker.celery_app import create_celery
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import log_in, sign_up
from tests.integration.order_support import place_order, shopfront, stock_of
from tests.support.broker import UNPUBLISHED, broker_idle, work_over
from tests.support.mail import Mailbox, text_of
from tests.support.polling import until
from tests.support.sql import sql_execute, sql_value, wait_for_sql
from tests.support.worker import (
    received,
    running_beats,
    running_workers,
    task_results,
    worker_environment,
)

EXPIRE = "ordering.expire_overdue_orders"
LOCK_KEY = f"jobs:lock:{EXPIRE}"
EXPIRED_EVENTS = "SELECT count(*) FROM outbox_events WHERE event_type = 'OrderExpired'"
EXPIRED_ORDERS = "SELECT count(*) FROM orders WHERE status = 'expired'"
EXPIRY_SUBJECT = "Your order expired"
# The expiry notice's inbox row: committed once the mail server accepted the notice.
EXPIRY_NOTICES_HANDLED = (
    "SELECT count(*) FROM processed_events p JOIN outbox_events e ON e.id = p.event_id"
    " WHERE e.event_type = 'OrderExpired' AND p.handler LIKE 'notifications.%'"
)


def _short_window(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, ordering=settings.ordering.model_copy(update={"payment_window_seconds": 1})
    )


def _subjects(mailbox: Mailbox) -> list[str]:
    return sorted(str(message["Subject"]) for message in mailbox.messages())


async def _backdate_orders(database_url: str) -> None:
    """Time passes for the orders: each was placed a minute earlier, well past its 1 s payment
    window. The job reads the clock of the worker process, which a test cannot move."""
    await sql_execute(
        database_url,
        "UPDATE orders SET created_at = created_at - interval '1 minute',"
        " updated_at = updated_at - interval '1 minute'",
    )


async def _mails_once_work_is_over(
    mailbox: Mailbox, subject: str, database_url: str, redis: Redis
) -> int:
    await until(lambda: work_over(redis, database_url), what=lambda: str(_subjects(mailbox)))
    return _subjects(mailbox).count(subject)


async def test_the_expiry_job_sent_twice_at_once_expires_the_overdue_order_once(
    make_client: ClientFactory,
    settings: Settings,
    database_url: str,
    redis: Redis,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    api_settings = _short_window(settings)
    client = await make_client(api_settings)
    env = worker_environment(settings, mailbox, APP_ORDERING_PAYMENT_WINDOW_SECONDS="1")
    # Two pool processes, so the two runs really are concurrent.
    with running_workers([env], [tmp_path / "worker.log"], concurrency=2) as (running,):
        shop = await shopfront(client, database_url, stock=5)
        order_id = await place_order(client, shop, quantity=2)
        assert await stock_of(client, database_url, shop.product_id) == 3
        await _backdate_orders(database_url)
        publisher = create_celery(settings)
        started = time.monotonic()
        try:
            publisher.send_task(EXPIRE)
            publisher.send_task(EXPIRE)
            status = await wait_for_sql(
                database_url,
                "SELECT status FROM orders WHERE id = $1",
                "expired",
                uuid.UUID(order_id),
            )
            expired_after = time.monotonic() - started
            assert status == "expired", running.log.read_text()[-3000:]
            # The OrderExpired event is in the outbox; the sweep that beat runs every few seconds
            # relays it (the worker's own fast path does not: see the test below).
            publisher.send_task("platform.relay_outbox")
            await wait_for_sql(database_url, EXPIRY_NOTICES_HANDLED, 1)
            mailed_after = time.monotonic() - started
            await until(lambda: len(task_results(running.log, EXPIRE)) >= 2)
            expiry_mails = await _mails_once_work_is_over(
                mailbox, EXPIRY_SUBJECT, database_url, redis
            )
        finally:
            publisher.close()
        results = sorted(task_results(running.log, EXPIRE))
        log = running.log.read_text()
    order = await client.get(f"/api/v1/orders/{order_id}", headers=shop.buyer)
    assert order.json()["status"] == "expired"
    assert await stock_of(client, database_url, shop.product_id) == 5
    assert await sql_value(database_url, EXPIRED_EVENTS) == 1
    assert expiry_mails == 1, (_subjects(mailbox), log[-3000:])
    notice = next(m for m in mailbox.messages() if str(m["Subject"]) == EXPIRY_SUBJECT)
    assert notice["To"] == "buyer@example.com"
    assert order_id in text_of(notice)
    # One run claimed the lock and expired the order; the other saw the lock and did nothing
    # (it never even tried the order: no "order_not_expired" from a lost row-lock race).
    assert results == ["0", "1"], results
    assert "order_not_expired" not in log
    owner = await redis.get(LOCK_KEY)
    ttl = await redis.pttl(LOCK_KEY)
    assert owner is not None
    assert 0 < ttl <= settings.celery.expire_orders_seconds * 0.9 * 1000
    print(  # noqa: T201
        f"[beat] expiry sent twice: results {results}; expired after {expired_after:.2f}s, "
        f"'{EXPIRY_SUBJECT}' mailed after {mailed_after:.2f}s; lock held by {owner!r} "
        f"for another {ttl / 1000:.1f}s"
    )


IDLE_IN_TRANSACTION = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND state LIKE 'idle in transaction%'"  # "(aborted)" too
)


async def test_an_event_committed_by_a_job_is_relayed_right_after_its_commit(
    make_client: ClientFactory,
    settings: Settings,
    database_url: str,
    redis: Redis,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    """The worker's unit of work hands its events to the outbox fast path like the API's does,
    so an expiry notice should not wait for the next sweep; and a worker between tasks should
    hold no database transaction open."""
    client = await make_client(_short_window(settings))
    env = worker_environment(settings, mailbox, APP_ORDERING_PAYMENT_WINDOW_SECONDS="1")
    with running_workers([env], [tmp_path / "worker.log"]) as (running,):
        shop = await shopfront(client, database_url, stock=5)
        order_id = await place_order(client, shop)
        await _backdate_orders(database_url)
        publisher = create_celery(settings)
        try:
            publisher.send_task(EXPIRE)
            status = await wait_for_sql(
                database_url,
                "SELECT status FROM orders WHERE id = $1",
                "expired",
                uuid.UUID(order_id),
            )
            assert status == "expired", running.log.read_text()[-3000:]
            started = time.monotonic()
            # No sweep runs (no beat, no other task sent): only the fast path can relay the
            # notice, so waiting longer never lets a broken fast path pass.
            with contextlib.suppress(AssertionError):
                await wait_for_sql(database_url, EXPIRY_NOTICES_HANDLED, 1, within=30)
            handled = await sql_value(database_url, EXPIRY_NOTICES_HANDLED)
            waited = time.monotonic() - started
            mails = _subjects(mailbox).count(EXPIRY_SUBJECT)
            unpublished = await sql_value(database_url, UNPUBLISHED)
            await until(lambda: broker_idle(redis))  # the expiry task has returned
            idle = await sql_value(database_url, IDLE_IN_TRANSACTION)
            # Any next task in that pool process resumes the suspended relay.
            publisher.send_task("platform.relay_outbox")
            await wait_for_sql(database_url, EXPIRY_NOTICES_HANDLED, 1)
            late = await _mails_once_work_is_over(mailbox, EXPIRY_SUBJECT, database_url, redis)
        finally:
            publisher.close()
    print(  # noqa: T201
        f"[beat] expiry notice without a sweep: {mails} after {waited:.1f}s (handled: {handled}) "
        f"({unpublished} event unpublished, {idle} worker connection idle in transaction); "
        f"after the next task: {late}"
    )
    assert late == 1
    assert (mails, unpublished, idle) == (1, 0, 0), (
        "the worker's fast-path relay was left suspended on a stopped event loop"
    )


def _sent(beat_log: Path) -> int:
    """How many expiry jobs a beat process has sent."""
    return beat_log.read_text().count(f"({EXPIRE})")


async def test_two_beat_processes_expire_each_overdue_order_once(
    make_client: ClientFactory,
    settings: Settings,
    database_url: str,
    redis: Redis,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    """Two `python -m app beat` started by mistake: both send the expiry job every 2 s, the
    JobLock (TTL 0.9 x interval) lets one run per interval, and each order expires once."""
    orders_count = 3
    client = await make_client(_short_window(settings))
    shop = await shopfront(client, database_url, stock=5)
    order_ids = [await place_order(client, shop) for _ in range(orders_count)]
    assert await stock_of(client, database_url, shop.product_id) == 5 - orders_count
    jobs = {
        "APP_ORDERING_PAYMENT_WINDOW_SECONDS": "1",
        "APP_CELERY_EXPIRE_ORDERS_SECONDS": "2",
        "APP_CELERY_OUTBOX_SWEEP_SECONDS": "1",
    }
    worker_env = worker_environment(settings, mailbox, **jobs)
    beat_envs = [
        worker_environment(
            settings, mailbox, **jobs, APP_CELERY_BEAT_SCHEDULE_FILE=str(tmp_path / f"{name}.db")
        )
        for name in ("beat-a", "beat-b")
    ]
    beat_logs = [tmp_path / "beat-a.log", tmp_path / "beat-b.log"]
    with running_workers([worker_env], [tmp_path / "worker.log"], concurrency=2) as (running,):
        started = time.monotonic()
        with running_beats(beat_envs, beat_logs):
            expired = await wait_for_sql(database_url, EXPIRED_ORDERS, orders_count)
            expired_after = time.monotonic() - started
            # The beats' sweeps relay the notices.
            await wait_for_sql(database_url, EXPIRY_NOTICES_HANDLED, orders_count)
            # A few more rounds from both beats, each run racing the other beat's.
            rounds = [_sent(log_file) + 2 for log_file in beat_logs]
            await until(
                lambda: all(_sent(log) >= n for log, n in zip(beat_logs, rounds, strict=True)),
                what=lambda: str([_sent(log_file) for log_file in beat_logs]),
            )
        # The beats are stopped: the runs they sent finish.
        mails = await _mails_once_work_is_over(mailbox, EXPIRY_SUBJECT, database_url, redis)
        log = running.log.read_text()
        runs = task_results(running.log, EXPIRE)
        deliveries = received(running.log, EXPIRE)
    sent = [_sent(log_file) for log_file in beat_logs]
    assert expired == orders_count, log[-3000:]
    assert mails == orders_count, _subjects(mailbox)
    assert _subjects(mailbox).count("Order confirmed: 12.50 EUR awaiting payment") == 3
    assert await sql_value(database_url, EXPIRED_EVENTS) == orders_count
    assert await stock_of(client, database_url, shop.product_id) == 5
    assert all(count > 0 for count in sent), sent  # both beats really were sending
    assert len(runs) == deliveries, (runs, deliveries)  # every run sent has finished
    assert sum(int(value) for value in runs) == orders_count  # each order expired by one run
    assert "order_not_expired" not in log  # no two runs ever raced for the same order
    for order_id in order_ids:
        order = await client.get(f"/api/v1/orders/{order_id}", headers=shop.buyer)
        assert order.json()["status"] == "expired"
    print(  # noqa: T201
        f"[beat] two beats: sent {sent} expiry jobs, worker received {deliveries}, "
        f"{len([v for v in runs if v != '0'])} run(s) expired orders; {orders_count} orders "
        f"expired after {expired_after:.1f}s, {mails} notices"
    )


PURGE = "platform.purge"


async def test_the_purge_deletes_expired_bookkeeping_and_keeps_the_rest(
    client: httpx.AsyncClient,
    settings: Settings,
    database_url: str,
    redis: Redis,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    owner = uuid.uuid4()
    await sql_execute(
        database_url,
        "INSERT INTO idempotency_keys (owner, operation, key, fingerprint, response, created_at,"
        " expires_at) VALUES"
        " ($1, 'place_order', 'expired', 'f', '{}', now() - interval '2 days',"
        "  now() - interval '1 second'),"
        " ($1, 'place_order', 'fresh', 'f', '{}', now(), now() + interval '1 hour')",
        owner,
    )
    await sql_execute(
        database_url,
        "INSERT INTO processed_events (handler, event_id, processed_at) VALUES"
        " ('h', gen_random_uuid(), now() - interval '8 days'),"
        " ('h', gen_random_uuid(), now() - interval '6 days'),"
        " ('h', gen_random_uuid(), now())",
    )
    outbox = (
        "INSERT INTO outbox_events (id, aggregate_type, aggregate_id, event_type, payload,"
        " headers, occurred_at, recorded_at, published_at) VALUES"
        " (gen_random_uuid(), 'Order', gen_random_uuid(), $1, '{}', '{}',"
        "  now() - $2::interval, now() - $2::interval, now() - $3::interval)"
    )
    await sql_execute(database_url, outbox, "old-published", timedelta(days=9), timedelta(days=8))
    await sql_execute(
        database_url, outbox, "recent-published", timedelta(days=6), timedelta(days=6)
    )
    # Never published, however old: the purge must not lose an event.
    await sql_execute(
        database_url,
        outbox.replace("now() - $3::interval", "NULL").replace(", $3", ""),
        "old-unpublished",
        timedelta(days=30),
    )
    user_id = await sign_up(client, "shopper")
    await log_in(client, "shopper")
    index = f"identity:user-sessions:{user_id}"
    live = await redis.smembers(index)
    assert len(live) == 1
    await redis.sadd(index, "expired-session-1")
    ghost = f"identity:user-sessions:{uuid.uuid4()}"
    await redis.sadd(ghost, "expired-session-2", "expired-session-3")

    env = worker_environment(settings, mailbox)
    with running_workers([env], [tmp_path / "worker.log"]) as (running,):
        publisher = create_celery(settings)
        started = time.monotonic()
        try:
            publisher.send_task(PURGE)
            publisher.send_task(PURGE)  # a second run at once: the lock makes it a no-op
        finally:
            publisher.close()
        await until(lambda: len(task_results(running.log, PURGE)) >= 2)
        elapsed = time.monotonic() - started
        results = task_results(running.log, PURGE)
    # One run purged (each side's steps, by name), the other found the lock held.
    assert sorted((ast.literal_eval(result) for result in results), key=len) == [
        {},
        {
            "idempotency_keys": 1,
            "processed_events": 1,
            "outbox_events": 1,
            "order_exports": 0,
            "session_index_entries": 3,
        },
    ], results
    assert await sql_value(database_url, "SELECT string_agg(key, ',') FROM idempotency_keys") == (
        "fresh"
    )
    assert await sql_value(database_url, "SELECT count(*) FROM processed_events") == 2
    assert (
        await sql_value(
            database_url,
            "SELECT string_agg(event_type, ',' ORDER BY event_type) FROM outbox_events",
        )
        == "old-unpublished,recent-published"
    )
    assert await redis.smembers(index) == live
    assert await redis.exists(ghost) == 0
    assert await redis.exists("jobs:lock:platform.purge") == 1
    done = next(result for result in results if result != "{}")
    print(f"[beat] purge: {done} in {elapsed:.2f}s; the second run at once: a no-op")  # noqa: T201
