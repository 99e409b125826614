"""CSV exports through a real worker: progress moves, the file has the right rows, cancel stops
it. Chunks of 10 orders with a pause between them make the progress observable."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.bootstrap.settings import Settings
from tests.integration.export_support import (
    EXPORTS,
    day,
    export_status,
    insert_orders,
    parse_csv,
    start_export,
    wait_until_finished,
)
from tests.integration.reliability_support import kill_group, launch, sql_execute, wait_for_log
from tests.integration.support import fetch_value, staffing
from tests.integration.worker_support import (
    Mailbox,
    WorkerProcess,
    start_worker,
    worker_environment,
)

FIRST = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def export_worker(settings: Settings, mailbox: Mailbox, tmp_path: Path) -> Iterator[WorkerProcess]:
    env = {
        **worker_environment(settings, mailbox),
        "APP_EXPORT_CHUNK_ROWS": "10",
        "APP_EXPORT_CHUNK_PAUSE_MS": "40",
        # Short slices: the export hands over to fresh tasks several times on the way.
        "APP_EXPORT_SLICE_SECONDS": "0.3",
    }
    running = start_worker(env, tmp_path / "worker.log")
    yield running
    running.stop()


async def test_an_export_reports_progress_and_its_csv_holds_exactly_the_orders_of_the_range(
    client: httpx.AsyncClient, database_url: str, export_worker: WorkerProcess
) -> None:
    team = await staffing(client, database_url)
    # 2 days before the range, 205 orders inside it (two days), 3 after it.
    await insert_orders(database_url, 2, first=FIRST - timedelta(days=2))
    inside = await insert_orders(database_url, 205, first=FIRST, step=timedelta(minutes=10))
    await insert_orders(database_url, 3, first=FIRST + timedelta(days=3))
    last_day = day(inside[-1].placed_at)
    assert last_day == "2026-03-02"

    response = await start_export(client, team.staff.headers, "2026-03-01", last_day)
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["status"] == "queued"
    assert response.headers["Location"] == started["status_url"]
    assert started["status_url"] == f"{EXPORTS}/{started['id']}"
    assert started["download_url"] is None

    final, seen = await wait_until_finished(client, team.staff.headers, started["id"])
    assert final["status"] == "completed", (final, export_worker.log.read_text()[-3000:])
    assert final["rows_total"] == final["rows_written"] == 205
    assert final["percent"] == 100.0
    running = [status for status in seen if status["status"] == "running"]
    # Progress moved through several intermediate values, never backwards.
    assert len(running) >= 3, seen
    written = [status["rows_written"] for status in running]
    assert written == sorted(written)
    assert all(0 < status["percent"] < 100 for status in running if status["rows_written"])
    assert final["download_url"] == f"{final['status_url']}/download"

    download = await client.get(final["download_url"], headers=team.staff.headers)
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in download.headers["content-disposition"]
    assert int(download.headers["content-length"]) == final["size_bytes"] == len(download.content)
    rows = parse_csv(download.content)
    assert [row["order_id"] for row in rows] == [str(order.id) for order in inside]
    first_row, expected = rows[0], inside[0]
    assert first_row["customer_id"] == str(expected.customer_id)
    assert first_row["status"] == "pending_payment"
    assert first_row["total_amount"] == f"{expected.total:.2f}"
    assert first_row["item_count"] == str(expected.quantity)
    assert first_row["line_count"] == "1"
    assert datetime.fromisoformat(first_row["placed_at"]) == expected.placed_at
    # 205 orders in chunks of 10: 21 chunks, stored in PostgreSQL.
    assert await fetch_value(database_url, "SELECT count(*) FROM order_export_chunks") == 21
    # The 0.3 s slices handed over through the outbox, each hand-over relayed to a fresh task.
    handed_over = await fetch_value(
        database_url,
        "SELECT count(*) FROM outbox_events WHERE event_type = 'OrderExportContinued'"
        " AND published_at IS NOT NULL",
    )
    assert handed_over >= 2


async def test_cancelling_a_running_export_stops_it_and_drops_its_file(
    client: httpx.AsyncClient, database_url: str, export_worker: WorkerProcess
) -> None:
    team = await staffing(client, database_url)
    await insert_orders(database_url, 600, first=FIRST, step=timedelta(seconds=30))
    started = (await start_export(client, team.staff.headers, "2026-03-01", "2026-03-01")).json()
    status_url = started["status_url"]
    while (status := (await client.get(status_url, headers=team.staff.headers)).json())[
        "rows_written"
    ] < 30:
        assert status["status"] in {"queued", "running"}, status

    cancelled = await client.post(f"{status_url}/cancel", headers=team.staff.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    written_at_cancel = cancelled.json()["rows_written"]
    assert written_at_cancel < 600

    # The worker notices before its next chunk: nothing is written afterwards.
    final, _ = await wait_until_finished(client, team.staff.headers, started["id"])
    assert final["status"] == "cancelled"
    await _settle()
    after = (await client.get(status_url, headers=team.staff.headers)).json()
    assert after["rows_written"] == written_at_cancel
    assert await fetch_value(database_url, "SELECT count(*) FROM order_export_chunks") == 0
    download = await client.get(f"{status_url}/download", headers=team.staff.headers)
    assert download.status_code == 409
    assert download.json()["code"] == "export_not_ready"
    # Cancelling again changes nothing.
    again = await client.post(f"{status_url}/cancel", headers=team.staff.headers)
    assert again.status_code == 200
    assert again.json()["finished_at"] == cancelled.json()["finished_at"]


async def _settle() -> None:
    await asyncio.sleep(0.5)  # longer than a chunk and its pause


async def test_an_export_whose_task_fails_for_good_is_marked_failed_and_dead_lettered(
    client: httpx.AsyncClient,
    database_url: str,
    settings: Settings,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    """A permanent error (here: a chunk row already in the way, a unique violation) ends the
    task as a dead letter; the task_failure receiver then marks the export failed, so its status
    does not say "running" for ever, and drops what it wrote."""
    team = await staffing(client, database_url)
    await insert_orders(database_url, 5, first=FIRST)
    started = (await start_export(client, team.staff.headers, "2026-03-01", "2026-03-01")).json()
    await sql_execute(
        database_url,
        "INSERT INTO order_export_chunks (export_id, sequence, content) VALUES ($1, 0, 'x')",
        uuid.UUID(started["id"]),
    )
    running = start_worker(worker_environment(settings, mailbox), tmp_path / "worker.log")
    try:
        final, _ = await wait_until_finished(client, team.staff.headers, started["id"])
    finally:
        running.stop()
    assert final["status"] == "failed", running.log.read_text()[-3000:]
    assert final["failure_reason"] == "internal_error"
    assert final["download_url"] is None
    assert await fetch_value(database_url, "SELECT count(*) FROM order_export_chunks") == 0
    dead = await fetch_value(
        database_url,
        "SELECT error_type FROM dead_letters WHERE task_name = 'ordering.run_order_export'",
    )
    assert dead == "IntegrityError"


async def test_a_worker_killed_mid_export_loses_nothing_and_the_export_resumes_where_it_stopped(
    client: httpx.AsyncClient,
    database_url: str,
    settings: Settings,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    """SIGKILL to the whole worker, between or inside a chunk's transaction: what was committed
    stays, what was not rolls back with the dead connection. The redelivered task resumes from
    the committed position, so the file has every order exactly once, in order."""
    team = await staffing(client, database_url)
    orders = await insert_orders(database_url, 300, first=FIRST, step=timedelta(seconds=30))
    env = {
        **worker_environment(settings, mailbox),
        "APP_EXPORT_CHUNK_ROWS": "10",
        "APP_EXPORT_CHUNK_PAUSE_MS": "40",
        # Redelivery of the unacknowledged task after the kill (see test_worker_reliability).
        "APP_CELERY_VISIBILITY_TIMEOUT": "5",
    }
    started = (await start_export(client, team.staff.headers, "2026-03-01", "2026-03-01")).json()
    first = launch(["worker", "--concurrency=1"], env, tmp_path / "first.log")
    wait_for_log([(first, tmp_path / "first.log")], b"ready.")
    for _ in range(3000):  # polls for at most about 30 s
        if (await export_status(client, team.staff.headers, started["id"]))["rows_written"] >= 60:
            break
        await asyncio.sleep(0.01)
    killed_at = time.monotonic()
    kill_group(first)
    at_kill = await export_status(client, team.staff.headers, started["id"])
    assert at_kill["status"] == "running"
    assert 60 <= at_kill["rows_written"] < 300

    await asyncio.sleep(max(0.0, killed_at + 5.5 - time.monotonic()))
    second = start_worker(env, tmp_path / "second.log")
    try:
        final, _ = await wait_until_finished(client, team.staff.headers, started["id"])
    finally:
        second.stop()
    assert final["status"] == "completed", second.log.read_text()[-3000:]
    assert final["rows_written"] == final["rows_total"] == 300
    download = await client.get(final["download_url"], headers=team.staff.headers)
    rows = parse_csv(download.content)
    assert [row["order_id"] for row in rows] == [str(order.id) for order in orders]
    assert await fetch_value(database_url, "SELECT count(*) FROM order_export_chunks") == 30
    print(  # noqa: T201
        f"[exports] SIGKILL at {at_kill['rows_written']}/300 rows: resumed and completed, "
        f"{len(rows)} rows, none doubled"
    )
