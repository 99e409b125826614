"""The worker and its broker: surviving a restart with a task in flight, and the probes.

The bug this pins (docs/13-testing.md, "Broker stop"): with a message delivered but not yet
acknowledged (acks_late: its task still running) when the broker's Redis stopped, celery 5.7 /
kombu 5.7 killed the worker with ``AttributeError: 'NoneType' object has no attribute
'hostname'`` ("Unrecoverable error") instead of reconnecting. The workaround is
``guard_detached_redis_channels`` in ``app/bootstrap/worker/broker.py``. The first test replays
kombu's sequence on a private Redis, with and without it (deterministic); the third runs a real
worker through the restart (it died every time without the workaround). Defence in depth: a
worker that does stop on a broker error exits non-zero, and a worker that is alive but stuck
fails its probe.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.exceptions
from kombu.transport import redis as kombu_redis_module

from app.bootstrap.settings import Settings
from app.bootstrap.worker.broker import guard_detached_redis_channels
from loadtests.faults.servers import PrivateRedis
from tests.integration.conftest import ClientFactory
from tests.integration.order_support import place_order, shopfront
from tests.support.mail import GatedSink, Mailbox, text_of
from tests.support.polling import until, until_sync
from tests.support.sql import sql_value
from tests.support.worker import kill_group, launch, running_workers, worker_environment

# kombu's annotations are partial: its calls are untyped under mypy --strict.
kombu: Any = importlib.import_module("kombu")
kombu_redis: Any = kombu_redis_module

PROCESSED = (
    "SELECT count(*) FROM processed_events WHERE handler = 'notifications.order_confirmation'"
)


def _lose_the_broker_with_a_task_running(broker: PrivateRedis) -> tuple[Any, Any]:
    """What celery's consumer holds when its broker goes away, then what it does about it
    (``Consumer.on_connection_error_after_connected``): ``collect()``, then ``close()``."""
    connection = kombu.Connection(broker.url)
    tasks = connection.default_channel
    tasks.basic_qos(0, 1, False)
    queue = kombu.Queue("tasks", routing_key="tasks")
    kombu.Producer(tasks).publish({"n": 1}, routing_key="tasks", declare=[queue])
    delivered: list[Any] = []
    kombu.Consumer(
        tasks, [queue], callbacks=[lambda _body, message: delivered.append(message)]
    ).consume()
    connection.drain_events(timeout=5)
    assert len(delivered) == 1  # delivered, not acknowledged (acks_late): the task is running
    # The remote-control channel: a fanout binding and an auto-delete reply queue, which its
    # close deletes over the dead connection (a connection error that ends collect()'s loop).
    control = connection.channel()
    replies = kombu.Queue("control", kombu.Exchange("control", type="fanout"), auto_delete=True)
    kombu.Consumer(control, [replies], callbacks=[lambda _body, _message: None]).consume()
    tasks._brpop_start()  # the worker's event loop always has a BRPOP in flight
    broker.stop()
    connection.collect(socket_timeout=5)
    return connection, delivered[0]


def test_kombu_detaches_the_transport_then_reconnects_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the workaround the sequence fails as the worker did; with it, closing fails with a
    connection error, which kombu and celery handle. If the first half stops failing, kombu is
    fixed and the workaround can go."""
    guard_detached_redis_channels()
    guarded = kombu_redis.Channel._connparams
    broker = PrivateRedis(tmp_path / "broker")
    try:
        broker.start()
        monkeypatch.setattr(kombu_redis.Channel, "_connparams", guarded.__wrapped__)
        collected, _ = _lose_the_broker_with_a_task_running(broker)
        with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'hostname'"):
            collected.close()

        monkeypatch.setattr(kombu_redis.Channel, "_connparams", guarded)
        broker.start()
        collected, running = _lose_the_broker_with_a_task_running(broker)
        collected.close()  # the restore fails with a connection error: ignored while closing
        with pytest.raises(redis.exceptions.ConnectionError, match="transport detached"):
            running.ack()  # the task finished: celery logs "Couldn't ack" and carries on
    finally:
        broker.stop()


def test_the_workaround_is_installed_once_and_only_wraps_kombus_method() -> None:
    guard_detached_redis_channels()
    installed = kombu_redis.Channel._connparams
    guard_detached_redis_channels()
    assert kombu_redis.Channel._connparams is installed
    assert installed.__wrapped__.__qualname__ == "Channel._connparams"


def _connected(log: Path) -> int:
    return len(re.findall(rb"Connected to redis://", log.read_bytes()))


async def test_a_worker_with_a_task_in_flight_survives_a_broker_restart(
    make_client: ClientFactory,
    database_url: str,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """The confirmation's send is held at the SMTP sink (running, unacknowledged) while the
    broker stops and starts: the worker reconnects instead of dying, the held mail goes out
    once, a new order is confirmed over the new connection, and the probe stays healthy."""
    broker = PrivateRedis(tmp_path / "broker")
    broker.start()
    sink = GatedSink.start(tmp_path / "mailbox", hold="data")
    try:
        api_settings = dataclasses.replace(
            settings, celery=settings.celery.model_copy(update={"broker_url": broker.url})
        )
        client = await make_client(api_settings)
        shop = await shopfront(client, database_url, stock=2)
        probes = {
            "APP_CELERY_HEARTBEAT_FILE": str(tmp_path / "heartbeat"),
            "APP_CELERY_READY_FILE": str(tmp_path / "ready"),
            "APP_CELERY_HEARTBEAT_SECONDS": "1",
        }
        env = worker_environment(settings, sink.mailbox, APP_CELERY_BROKER_URL=broker.url, **probes)
        # Two pool processes: with one task held, the consumer still has a BRPOP in flight
        # when the broker goes away, as a busy worker has.
        with running_workers([env], [tmp_path / "worker.log"], concurrency=2) as (running,):
            log = running.log
            first = await place_order(client, shop)
            await until(
                sink.handler.in_flight.is_set, every=0.02, what=lambda: log.read_text()[-3000:]
            )
            broker.stop()
            await until(lambda: b"Connection to broker lost" in log.read_bytes(),
                        what=lambda: log.read_text()[-3000:])  # fmt: skip
            broker.start()

            def dead_or_back() -> bool:
                return running.process.poll() is not None or _connected(log) >= 2

            await until(dead_or_back, what=lambda: log.read_text()[-3000:])
            assert running.process.poll() is None, log.read_text()[-3000:]  # the bug: it died
            sink.handler.release.set()
            assert await sink.mailbox.wait_for(1, within=20), log.read_text()[-3000:]
            second = await place_order(client, shop)
            messages = await sink.mailbox.wait_for(2, within=30)
            assert len(messages) == 2, log.read_text()[-3000:]
            assert running.process.poll() is None, log.read_text()[-3000:]
            assert b"Unrecoverable error" not in log.read_bytes()
            check = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "app", "worker-check", "--max-age", "5"],
                env=env, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
            assert check.returncode == 0, check.stderr
        assert running.process.returncode == 0  # SIGTERM after the test: a clean stop
        bodies = [text_of(message) for message in sink.mailbox.messages()]
        assert [sum(order in body for body in bodies) for order in (first, second)] == [1, 1]
        assert await sql_value(database_url, PROCESSED) == 2
    finally:
        sink.stop()
        broker.stop()


def test_a_worker_that_cannot_recover_from_a_broker_error_exits_non_zero(
    settings: Settings, mailbox: Mailbox, tmp_path: Path
) -> None:
    """Defence in depth: whatever broker error a worker does not survive, it exits non-zero and
    its probe fails, so Kubernetes (or any supervisor) restarts it. The broker here refuses
    BRPOP: a Redis error that is not a connection error, so celery does not retry it."""
    broker = PrivateRedis(tmp_path / "broker", extra_args=("--rename-command", "BRPOP", ""))
    broker.start()
    try:
        probes = {
            "APP_CELERY_HEARTBEAT_FILE": str(tmp_path / "heartbeat"),
            "APP_CELERY_READY_FILE": str(tmp_path / "ready"),
        }
        env = worker_environment(settings, mailbox, APP_CELERY_BROKER_URL=broker.url, **probes)
        log = tmp_path / "worker.log"
        process = launch(["worker", "--concurrency=1"], env, log)
        try:
            code = process.wait(timeout=60)
        finally:
            kill_group(process)
        assert b"Unrecoverable error" in log.read_bytes(), log.read_text()[-3000:]
        assert code != 0, log.read_text()[-3000:]
        check = subprocess.run(
            [sys.executable, "-m", "app", "worker-check"],
            env=env, capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert check.returncode == 1, check.stderr
    finally:
        broker.stop()


def test_a_hung_worker_fails_its_probe_while_its_process_lives(
    settings: Settings, mailbox: Mailbox, tmp_path: Path
) -> None:
    """The liveness probe catches a worker that is alive but stuck: the heartbeat comes from the
    main process's event loop (its timer), so a main process that stops running (SIGSTOP here,
    a blocked loop in life) lets the file go stale; it is fresh again once the loop runs."""
    env = worker_environment(
        settings,
        mailbox,
        APP_CELERY_HEARTBEAT_FILE=str(tmp_path / "heartbeat"),
        APP_CELERY_READY_FILE=str(tmp_path / "ready"),
        APP_CELERY_HEARTBEAT_SECONDS="0.5",
    )
    probe = [sys.executable, "-m", "app", "worker-check", "--max-age", "2"]

    def probe_passes() -> bool:
        return subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0  # noqa: S603

    with running_workers([env], [tmp_path / "worker.log"]) as (running,):
        until_sync(probe_passes, every=0.2)
        os.kill(running.process.pid, signal.SIGSTOP)
        try:
            until_sync(lambda: not probe_passes(), every=0.2)
            assert running.process.poll() is None  # alive, yet reported dead: restarted
        finally:
            os.kill(running.process.pid, signal.SIGCONT)
        until_sync(probe_passes, every=0.2)
