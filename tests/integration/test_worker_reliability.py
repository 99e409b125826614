"""Delivery guarantees under failure: workers killed mid-task, the broker down, several workers.

All processes are real (``python -m app worker``), each in its own process group and killed at
the end whatever happens; the broker outage uses a private Redis, never the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis

from app.bootstrap.api import create_app
from app.bootstrap.settings import Settings
from app.bootstrap.worker.celery_app import create_celery
from app.shared.infrastructure.outbox_fast_path import OutboxFastPath
from loadtests.faults.servers import PrivateRedis
from tests.integration.conftest import ClientFactory
from tests.integration.order_support import place_order, shopfront
from tests.support.broker import age_unacked, broker_idle, work_over
from tests.support.mail import GatedSink, Mailbox, text_of
from tests.support.polling import WITHIN, until
from tests.support.sql import sql_value
from tests.support.worker import (
    kill_group,
    pool_children,
    received,
    running_beats,
    running_workers,
    worker_environment,
)

CONFIRMATION = "notifications.order_confirmation"
PROCESSED = (
    "SELECT count(*) FROM processed_events WHERE handler = 'notifications.order_confirmation'"
)
UNPUBLISHED = "SELECT count(*) FROM outbox_events WHERE published_at IS NULL"

# Celery's Redis transport keeps a delivered, unacknowledged message (acks_late) in its
# "unacked" hash; a worker that dies without acknowledging leaves it there, and another worker
# puts it back on its queue only once it is older than the visibility timeout (default 3600 s:
# far too long for a test). The restarted worker gets 5 s, and its delivery is dated back past
# those 5 s before it starts (age_unacked): kombu scans for such messages when a worker connects
# (and after that only every unacked_restore_interval x unacked_restore_throttle = 10 x 10 s),
# so the scan at start-up is the one that restores it.
VISIBILITY_TIMEOUT = 5.0


async def _settle(
    mailbox: Mailbox, count: int, broker: Redis, database_url: str, *, within: float = WITHIN
) -> list[str]:
    """Wait for ``count`` messages, then for the work to be over (every task sent has run,
    every event is relayed): a duplicate would be here by then."""
    await mailbox.wait_for(count, within=within)
    await until(lambda: work_over(broker, database_url))
    return [path.name for path in sorted(mailbox.path.glob("*.eml"))]


@contextlib.asynccontextmanager
async def _api(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app in this process and a client for it (the test reads the app's fast path)."""
    app = create_app(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
        ) as client,
    ):
        yield app, client


async def _kill_mid_send(
    client: httpx.AsyncClient,
    database_url: str,
    settings: Settings,
    tmp_path: Path,
    sink: GatedSink,
) -> tuple[str, dict[str, str], float]:
    """Place an order, let a worker pick up its confirmation, and SIGKILL the worker's whole
    process group while the sink holds the SMTP transaction."""
    env = worker_environment(
        settings, sink.mailbox, APP_CELERY_VISIBILITY_TIMEOUT=str(int(VISIBILITY_TIMEOUT))
    )
    with running_workers([env], [tmp_path / "first-worker.log"]) as (first,):
        shop = await shopfront(client, database_url)
        order_id = await place_order(client, shop)
        await until(
            sink.handler.in_flight.is_set, every=0.02, what=lambda: first.log.read_text()[-3000:]
        )
        held_at = time.monotonic()
        kill_group(first.process)
        assert first.process.poll() == -signal.SIGKILL
    # The dead worker's SMTP connection dropped: the held transaction was abandoned.
    await until(sink.handler.interrupted.is_set, every=0.02)
    return order_id, env, held_at


async def test_a_worker_killed_inside_the_smtp_send_sends_the_mail_exactly_once_after_restart(
    client: httpx.AsyncClient,
    database_url: str,
    redis: Redis,
    settings: Settings,
    tmp_path: Path,
) -> None:
    sink = GatedSink.start(tmp_path / "mailbox", hold="data")
    try:
        order_id, env, held_at = await _kill_mid_send(
            client, database_url, settings, tmp_path, sink
        )
        # Killed before the server accepted the message: nothing saved, nothing committed.
        assert sink.mailbox.messages() == []
        assert await sql_value(database_url, PROCESSED) == 0
        assert await sql_value(database_url, UNPUBLISHED) == 0  # the relay had handed it over
        assert await age_unacked(redis, VISIBILITY_TIMEOUT + 1) == 1
        restarted = time.monotonic()
        with running_workers([env], [tmp_path / "second-worker.log"]) as (second,):
            names = await _settle(sink.mailbox, 1, redis, database_url)
            recovered = time.monotonic() - restarted
            assert len(names) == 1, (names, second.log.read_text()[-3000:])
        message = sink.mailbox.messages()[0]
        assert message["To"] == "buyer@example.com"
        assert order_id in text_of(message)
        assert await sql_value(database_url, PROCESSED) == 1
        assert sink.handler.data_commands == 2  # the interrupted attempt, then the redelivery
        print(  # noqa: T201
            f"[reliability] SIGKILL mid-send: redelivered and sent once, {recovered:.2f}s after "
            f"the restart ({time.monotonic() - held_at:.2f}s after the kill)"
        )
    finally:
        sink.stop()


async def test_a_kill_after_the_mail_was_accepted_but_before_the_inbox_commit_sends_it_twice(
    client: httpx.AsyncClient,
    database_url: str,
    redis: Redis,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """The documented at-least-once window (SendCustomerNotice): the inbox row commits
    after the mail server accepted the message, so a worker dying in between (here: it has its
    250 and waits for the QUIT reply) leaves no inbox row, and the redelivery sends again.
    Guaranteed: the e-mail is never lost, and it is sent at most once more per such crash."""
    sink = GatedSink.start(tmp_path / "mailbox", hold="quit")
    try:
        order_id, env, _ = await _kill_mid_send(client, database_url, settings, tmp_path, sink)
        assert len(sink.mailbox.messages()) == 1  # accepted before the kill
        assert await sql_value(database_url, PROCESSED) == 0  # ...but the inbox rolled back
        assert await age_unacked(redis, VISIBILITY_TIMEOUT + 1) == 1
        with running_workers([env], [tmp_path / "second-worker.log"]) as (second,):
            names = await _settle(sink.mailbox, 2, redis, database_url)
            assert len(names) == 2, (names, second.log.read_text()[-3000:])
        messages = sink.mailbox.messages()
        assert {str(message["Subject"]) for message in messages} == {
            "Order confirmed: 12.50 EUR awaiting payment"
        }
        assert all(order_id in text_of(message) for message in messages)
        # Two real sends of one message: the same Message-ID (derived from handler and event),
        # so a mail client shows the duplicate once.
        assert messages[0]["Message-ID"] == messages[1]["Message-ID"]
        assert await sql_value(database_url, PROCESSED) == 1
        print(  # noqa: T201
            "[reliability] SIGKILL between the 250 and the inbox commit: "
            f"{len(messages)} e-mails (the at-least-once duplicate), 1 inbox row"
        )
    finally:
        sink.stop()


async def test_a_pool_process_killed_mid_task_is_requeued_by_its_worker_at_once(
    client: httpx.AsyncClient,
    database_url: str,
    redis: Redis,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """Only the pool process dies (OOM killer): the worker's main process sees it
    (reject_on_worker_lost) and requeues the task, no visibility timeout involved."""
    sink = GatedSink.start(tmp_path / "mailbox", hold="data")
    try:
        env = worker_environment(settings, sink.mailbox)  # default visibility: 3600 s
        with running_workers([env], [tmp_path / "worker.log"]) as (running,):
            shop = await shopfront(client, database_url)
            order_id = await place_order(client, shop)
            await until(
                sink.handler.in_flight.is_set,
                every=0.02,
                what=lambda: running.log.read_text()[-3000:],
            )
            children = pool_children(running.process.pid)
            assert len(children) == 1, children
            killed_at = time.monotonic()
            os.kill(children[0], signal.SIGKILL)
            await until(sink.handler.interrupted.is_set, every=0.02)
            names = await _settle(sink.mailbox, 1, redis, database_url)
            recovered = time.monotonic() - killed_at
            assert len(names) == 1, (names, running.log.read_text()[-3000:])
            assert running.process.poll() is None  # the worker itself lives on
            assert b"WorkerLostError" in running.log.read_bytes()
        assert order_id in text_of(sink.mailbox.messages()[0])
        assert await sql_value(database_url, PROCESSED) == 1
        print(f"[reliability] pool process SIGKILLed: mail sent once, {recovered:.2f}s later")  # noqa: T201
    finally:
        sink.stop()


async def test_orders_placed_while_the_broker_is_down_are_all_delivered_once_it_is_back(
    database_url: str,
    settings: Settings,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    """The broker has its own private Redis; sessions, cache and locks stay on the test Redis,
    so only the broker goes away."""
    orders_count = 10
    broker = PrivateRedis(tmp_path / "broker")
    broker.start()
    try:
        api_settings = dataclasses.replace(
            settings, celery=settings.celery.model_copy(update={"broker_url": broker.url})
        )
        async with _api(api_settings) as (app, client):
            shop = await shopfront(client, database_url, stock=orders_count)
            broker.stop()
            latencies = []
            order_ids = []
            for _ in range(orders_count):
                started = time.monotonic()
                order_ids.append(await place_order(client, shop))  # 201 each
                latencies.append(time.monotonic() - started)
            # The fast path has tried (and failed): its relays in flight are over.
            await (await app.state.dishka_container.get(OutboxFastPath)).drain()
        assert await sql_value(database_url, UNPUBLISHED) == orders_count
        broker.start()  # same port, empty: nothing had reached it
        env = worker_environment(settings, mailbox, APP_CELERY_BROKER_URL=broker.url)
        async with Redis.from_url(broker.url) as broker_client:
            with running_workers([env], [tmp_path / "worker.log"]) as (running,):
                assert mailbox.messages() == []
                swept = time.monotonic()
                publisher = create_celery(api_settings)
                try:
                    publisher.send_task("platform.relay_outbox")
                finally:
                    publisher.close()
                names = await _settle(mailbox, orders_count, broker_client, database_url)
                delivered = time.monotonic() - swept
                assert len(names) == orders_count, (names, running.log.read_text()[-3000:])
        bodies = [text_of(message) for message in mailbox.messages()]
        assert all(sum(order in body for body in bodies) == 1 for order in order_ids)
        assert await sql_value(database_url, UNPUBLISHED) == 0
        assert await sql_value(database_url, PROCESSED) == orders_count
        print(  # noqa: T201
            f"[reliability] broker down: {orders_count} orders placed (201), latency max "
            f"{max(latencies) * 1000:.0f} ms / mean {sum(latencies) / orders_count * 1000:.0f} ms;"
            f" all {orders_count} delivered {delivered:.2f}s after the sweep"
        )
    finally:
        broker.stop()


async def test_a_running_worker_and_beat_deliver_what_was_placed_during_a_broker_outage(
    make_client: ClientFactory,
    database_url: str,
    settings: Settings,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    """The worker and beat stay up through the outage; both reconnect on their own, and beat's
    sweep (every second here) relays what the API's fast path could not."""
    orders_count = 5
    broker = PrivateRedis(tmp_path / "broker")
    broker.start()
    try:
        api_settings = dataclasses.replace(
            settings, celery=settings.celery.model_copy(update={"broker_url": broker.url})
        )
        client = await make_client(api_settings)
        shop = await shopfront(client, database_url, stock=orders_count)
        env = worker_environment(
            settings,
            mailbox,
            APP_CELERY_BROKER_URL=broker.url,
            APP_CELERY_OUTBOX_SWEEP_SECONDS="1",
            APP_CELERY_BEAT_SCHEDULE_FILE=str(tmp_path / "beat-schedule.db"),
        )
        with (
            running_workers([env], [tmp_path / "worker.log"]) as (running,),
            running_beats([env], [tmp_path / "beat.log"]),
        ):
            broker.stop()
            order_ids = [await place_order(client, shop) for _ in range(orders_count)]
            await asyncio.sleep(2.0)  # beat's sweeps fail meanwhile
            assert mailbox.messages() == []
            broker.start()
            back = time.monotonic()
            async with Redis.from_url(broker.url) as broker_client:
                names = await _settle(mailbox, orders_count, broker_client, database_url)
            delivered = time.monotonic() - back
            assert len(names) == orders_count, (
                (tmp_path / "beat.log").read_text()[-2000:],
                running.log.read_text()[-3000:],
            )
        bodies = [text_of(message) for message in mailbox.messages()]
        assert all(sum(order in body for body in bodies) == 1 for order in order_ids)
        assert await sql_value(database_url, PROCESSED) == orders_count
        print(  # noqa: T201
            f"[reliability] broker restarted under a running worker and beat: all "
            f"{orders_count} confirmations {delivered:.2f}s after it came back"
        )
    finally:
        broker.stop()


async def test_two_workers_and_fifty_orders_send_exactly_one_confirmation_per_order(
    client: httpx.AsyncClient,
    database_url: str,
    redis: Redis,
    settings: Settings,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    orders_count = 50
    env = worker_environment(settings, mailbox)
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    with running_workers([env, env], logs, concurrency=2) as workers:
        shop = await shopfront(client, database_url, stock=orders_count)
        publisher = create_celery(settings)
        started = time.monotonic()
        try:
            gate = asyncio.Semaphore(10)

            async def one() -> str:
                async with gate:
                    return await place_order(client, shop)

            placing = asyncio.gather(*(one() for _ in range(orders_count)))
            # Sweeps racing the fast path: SKIP LOCKED must keep them from publishing twice.
            for _ in range(5):
                publisher.send_task("platform.relay_outbox")
                await asyncio.sleep(0.1)
            order_ids = await placing
            placed = time.monotonic() - started
            await until(lambda: broker_idle(redis))  # the racing sweeps are over
            # What the fast path and the racing sweeps left behind; beat's next sweep (sent here)
            # relays it. (Each fast path that lost a race to a sweep also opened the fast path's
            # breaker: see test_a_fast_path_that_finds_its_events_already_relayed_stays_open.)
            left_behind = await sql_value(database_url, UNPUBLISHED)
            publisher.send_task("platform.relay_outbox")
            names = await _settle(mailbox, orders_count, redis, database_url)
        finally:
            publisher.close()
        delivered = time.monotonic() - started
        per_worker = [received(running.log, CONFIRMATION) for running in workers]
        assert len(names) == orders_count, (len(names), per_worker)
    bodies = [text_of(message) for message in mailbox.messages()]
    mentions = Counter(order for order in order_ids for body in bodies if order in body)
    assert set(mentions.values()) == {1}
    assert len(mentions) == orders_count
    assert await sql_value(database_url, PROCESSED) == orders_count
    assert await sql_value(database_url, UNPUBLISHED) == 0
    assert sum(per_worker) == orders_count  # no confirmation task was delivered twice
    assert all(count > 0 for count in per_worker), per_worker
    print(  # noqa: T201
        f"[reliability] 2 workers: {orders_count} orders placed in {placed:.2f}s, "
        f"{orders_count} confirmations (one each) after {delivered:.2f}s; "
        f"tasks per worker {per_worker}; {left_behind} events were left for the last sweep"
    )


async def test_a_fast_path_that_finds_its_events_already_relayed_stays_open(
    settings: Settings, database_url: str, mailbox: Mailbox, tmp_path: Path
) -> None:
    """A sweep racing the fast path (it claimed or published the rows first: SKIP LOCKED) is not
    a broker failure: the fast path must keep relaying the next commits at once. Reproduced
    deterministically by handing the fast path an event the relay has already published, which
    is exactly what it sees after losing that race."""
    async with _api(settings) as (app, client):
        env = worker_environment(settings, mailbox)
        with running_workers([env], [tmp_path / "worker.log"]):
            shop = await shopfront(client, database_url, stock=5)
            await place_order(client, shop)
            assert len(await mailbox.wait_for(1, within=15)) == 1  # the fast path works
            published = await sql_value(
                database_url, "SELECT id FROM outbox_events WHERE published_at IS NOT NULL"
            )
            fast_path = await app.state.dishka_container.get(OutboxFastPath)
            fast_path.submit([published])  # the sweep got there first
            await fast_path.drain()
            started = time.monotonic()
            await place_order(client, shop)
            # No sweep runs (no beat, no task sent): only the fast path can relay the order's
            # event, so a longer wait never lets a breaker that opened pass.
            messages = await mailbox.wait_for(2)
            elapsed = time.monotonic() - started
            unpublished = await sql_value(database_url, UNPUBLISHED)
            print(  # noqa: T201
                f"[reliability] after a lost race: next order's confirmation "
                f"{f'after {elapsed:.2f}s' if len(messages) == 2 else 'never sent'}, "
                f"{unpublished} event(s) left in the outbox"
            )
            assert len(messages) == 2, "the fast path's breaker opened after a lost race"
            assert unpublished == 0
