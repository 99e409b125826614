"""Events reach their handlers through the outbox, a real broker and a real worker process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis

from app.bootstrap.settings import Settings
from app.bootstrap.worker.celery_app import create_celery
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import sign_up
from tests.integration.order_support import place_order, shopfront
from tests.integration.support import staffing
from tests.support.broker import UNPUBLISHED, broker_idle, work_over
from tests.support.mail import Mailbox, text_of
from tests.support.polling import until, until_sync
from tests.support.ports import free_port
from tests.support.sql import sql_value
from tests.support.worker import WorkerProcess, start_worker, worker_environment


async def _place_order(
    client: httpx.AsyncClient, database_url: str
) -> tuple[str, dict[str, str], dict[str, str]]:
    shop = await shopfront(client, database_url)
    return await place_order(client, shop, quantity=2), shop.buyer, shop.team.admin.headers


async def _count(database_url: str, sql: str) -> int:
    return int(await sql_value(database_url, sql))


async def test_an_order_placed_over_http_sends_exactly_one_confirmation_email(
    client: httpx.AsyncClient,
    database_url: str,
    redis: Redis,
    mailbox: Mailbox,
    worker: WorkerProcess,
) -> None:
    started = time.monotonic()
    order_id, _, _ = await _place_order(client, database_url)
    messages = await mailbox.wait_for(1)
    elapsed = time.monotonic() - started
    # Every task sent has run and every event is relayed: a duplicate would be here by now.
    await until(lambda: work_over(redis, database_url))
    messages = mailbox.messages()
    assert len(messages) == 1, worker.log.read_text()[-3000:]
    message = messages[0]
    assert message["To"] == "buyer@example.com"
    assert message["Subject"] == "Order confirmed: 25.00 EUR awaiting payment"
    assert order_id in text_of(message)
    assert "2 x MUG-1" in text_of(message)
    assert (
        await _count(
            database_url,
            "SELECT count(*) FROM processed_events WHERE handler LIKE 'notifications.%'",
        )
        == 1
    )
    assert await _count(database_url, UNPUBLISHED) == 0
    print(f"[notifications] order placed -> confirmation in the mailbox after {elapsed:.2f}s")  # noqa: T201


async def test_payment_and_cancellation_send_a_receipt_and_a_refund_notice(
    client: httpx.AsyncClient,
    database_url: str,
    mailbox: Mailbox,
    worker: WorkerProcess,
) -> None:
    order_id, buyer, admin = await _place_order(client, database_url)
    paid = await client.post(
        f"/api/v1/orders/{order_id}/pay", json={"card_number": "4242424242424242"}, headers=buyer
    )
    assert paid.status_code == 200, paid.text
    cancelled = await client.post(
        f"/api/v1/orders/{order_id}/cancel", json={"reason": "out of season"}, headers=admin
    )
    assert cancelled.status_code == 200, cancelled.text
    messages = await mailbox.wait_for(3)
    subjects = sorted(str(message["Subject"]) for message in messages)
    assert subjects == [
        "Order confirmed: 25.00 EUR awaiting payment",
        "Payment received: 25.00 EUR",
        "Your order was cancelled",
    ], worker.log.read_text()[-3000:]
    notice = next(message for message in messages if "cancelled" in str(message["Subject"]))
    assert "refund of 25.00 EUR" in text_of(notice)


@pytest.mark.owasp("API2")
async def test_a_sign_up_with_a_taken_address_mails_its_owner_and_only_them(
    client: httpx.AsyncClient, mailbox: Mailbox, worker: WorkerProcess
) -> None:
    # Security review, finding 6: the sign-up's answer cannot say the address is taken.
    await sign_up(client, "owner")
    attempt = await client.post(
        "/api/v1/users",
        json={
            "username": "intruder",
            "email": "OWNER@example.com",
            "password": "<script>alert(1)</script> long enough",
        },
    )
    assert attempt.status_code == 201, attempt.text
    messages = await mailbox.wait_for(1)
    assert len(messages) == 1, worker.log.read_text()[-3000:]
    message = messages[0]
    assert message["To"] == "owner@example.com"
    assert message["Subject"] == "Someone tried to sign up with your e-mail address"
    body = text_of(message)
    assert "no new one was opened" in body
    assert "intruder" not in body  # nothing the caller typed reaches the owner's inbox


async def test_events_missed_by_the_fast_path_are_delivered_by_the_sweep(
    make_client: ClientFactory,
    database_url: str,
    settings: Settings,
    redis: Redis,
    mailbox: Mailbox,
    worker: WorkerProcess,
) -> None:
    import dataclasses  # noqa: PLC0415

    no_fast_path = dataclasses.replace(
        settings, celery=settings.celery.model_copy(update={"fast_path": False})
    )
    client = await make_client(no_fast_path)
    await _place_order(client, database_url)
    # The worker has nothing to do (the broker idle), and the event waits in the outbox.
    await until(lambda: broker_idle(redis))
    assert await _count(database_url, UNPUBLISHED) > 0
    assert mailbox.messages() == []  # nothing relayed it yet

    create_celery(settings).send_task("platform.relay_outbox")
    assert len(await mailbox.wait_for(1)) == 1


def test_the_worker_check_reports_a_fresh_heartbeat_while_it_runs_and_fails_after(
    settings: Settings, mailbox: Mailbox, tmp_path: Path
) -> None:
    env = {
        **worker_environment(settings, mailbox),
        "APP_CELERY_HEARTBEAT_FILE": str(tmp_path / "heartbeat"),
        "APP_CELERY_READY_FILE": str(tmp_path / "ready"),
        "APP_CELERY_HEARTBEAT_SECONDS": "0.5",
    }
    check = [sys.executable, "-m", "app", "worker-check", "--max-age", "2"]
    before = subprocess.run(check, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    heartbeat = tmp_path / "heartbeat"
    running = start_worker(env, tmp_path / "worker.log")
    try:
        # Several heartbeats: the file is rewritten after the first one seen.
        first = until_sync(lambda: heartbeat.exists() and heartbeat.stat().st_mtime_ns)
        until_sync(lambda: heartbeat.stat().st_mtime_ns != first)
        alive = subprocess.run(check, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    finally:
        stopped_with = running.stop()
    after = subprocess.run(check, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    assert before.returncode == 1
    assert alive.returncode == 0, alive.stderr
    assert stopped_with == 0  # SIGTERM: a bounded (cold) shutdown, exit 0
    assert after.returncode == 1
    assert "not ready" in after.stderr


async def test_the_worker_serves_task_queue_and_outbox_metrics(
    client: httpx.AsyncClient,
    database_url: str,
    settings: Settings,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {**worker_environment(settings, mailbox), "APP_CELERY_METRICS_PORT": str(port)}
    running = start_worker(env, tmp_path / "worker.log")
    try:
        await _place_order(client, database_url)
        assert len(await mailbox.wait_for(1)) == 1
        create_celery(settings).send_task("platform.relay_outbox")
        # The e-mail leaves before the task's metrics are written, and the relay's gauges come
        # with its next run: poll until every expected sample is there (or the deadline).
        expected = (
            'celery_tasks_total{state="SUCCESS",task="notifications.order_confirmation"} 1.0',
            "celery_task_runtime_seconds_bucket",
            'celery_queue_length{queue="notifications"}',
            "outbox_unpublished_events 0.0",
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as scraper:

            async def scraped() -> str:
                metrics = (await scraper.get("/metrics")).text
                return metrics if all(sample in metrics for sample in expected) else ""

            metrics = await until(scraped, every=0.1)
    finally:
        running.stop()
    for sample in expected:
        assert sample in metrics, metrics


async def test_a_poison_task_becomes_a_dead_letter_that_an_admin_can_requeue_once(
    client: httpx.AsyncClient,
    database_url: str,
    settings: Settings,
    mailbox: Mailbox,
    worker: WorkerProcess,
) -> None:
    team = await staffing(client, database_url)
    poison = {"event": {"event_id": "not-a-uuid"}}
    create_celery(settings).send_task(
        "notifications.order_confirmation", kwargs=poison, headers={"request_id": "req-poison-42"}
    )

    async def dead_letters(**params: str) -> list[dict[str, object]]:
        listed = await client.get(
            "/api/v1/admin/dead-letters", params=params, headers=team.admin.headers
        )
        items: list[dict[str, object]] = listed.json()["items"]
        return items

    letters = await until(dead_letters, every=0.1, what=lambda: worker.log.read_text()[-3000:])
    assert len(letters) == 1, worker.log.read_text()[-3000:]
    letter = letters[0]
    assert letter["task_name"] == "notifications.order_confirmation"
    assert letter["arguments"] == poison
    assert letter["error_type"] == "KeyError"
    assert letter["retries"] == 0  # a permanent error is not retried
    # Logs written during the task carry the request id from the task's headers.
    assert "req-poison-42" in worker.log.read_text()
    customer = await client.get("/api/v1/admin/dead-letters", headers=team.customer.headers)
    assert customer.status_code == 403
    requeued = await client.post(
        f"/api/v1/admin/dead-letters/{letter['id']}/requeue", headers=team.admin.headers
    )
    assert requeued.status_code == 202
    again = await client.post(
        f"/api/v1/admin/dead-letters/{letter['id']}/requeue", headers=team.admin.headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "dead_letter_already_requeued"

    # Still poison: it fails again and is recorded again, as a new dead letter.
    async def two_letters() -> bool:
        return len(await dead_letters(pending_only="false")) == 2

    await until(two_letters, every=0.1, what=lambda: worker.log.read_text()[-3000:])
    assert mailbox.messages() == []


async def test_one_trace_spans_the_request_the_relay_and_the_task(
    make_client: ClientFactory,
    database_url: str,
    settings: Settings,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    exporter = InMemorySpanExporter()
    client = await make_client(settings, span_exporter=exporter)
    env = {**worker_environment(settings, mailbox), "OTEL_TRACES_EXPORTER": "console"}
    running = start_worker(env, tmp_path / "worker.log")
    try:
        await _place_order(client, database_url)
        assert len(await mailbox.wait_for(1)) == 1
        placing = next(
            span
            for span in exporter.get_finished_spans()
            if span.kind.name == "SERVER"
            and span.attributes
            and span.attributes.get("http.route") == "/api/v1/orders"
        )
        trace_id = format(placing.context.trace_id, "032x")
        # The worker's batch span processor writes the task's spans to its log in a while.
        with contextlib.suppress(AssertionError):
            await until(lambda: f'"trace_id": "0x{trace_id}"' in running.log.read_text())
    finally:
        running.stop()
    worker_log = running.log.read_text()
    assert f'"trace_id": "0x{trace_id}"' in worker_log, worker_log[-3000:]
    assert "run/notifications.order_confirmation" in worker_log
