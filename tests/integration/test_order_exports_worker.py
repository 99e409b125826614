"""CSV exports through a real worker: progress moves, the file has the right rows, cancel stops
it. Chunks of 10 orders with a pause between them make the progress observable."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from app.bootstrap.settings import Settings
from app.ordering.presentation.export_tasks import RUN_ORDER_EXPORT
from tests.integration.export_support import (
    EXPORTS,
    day,
    export_status,
    insert_orders,
    parse_csv,
    start_export,
    wait_until_finished,
)
from tests.integration.support import staffing
from tests.support.broker import age_unacked
from tests.support.mail import Mailbox
from tests.support.polling import until
from tests.support.sql import asyncpg_dsn, sql_execute, sql_value
from tests.support.worker import (
    WorkerProcess,
    kill_group,
    launch,
    start_worker,
    task_results,
    wait_for_log,
    worker_environment,
)

FIRST = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
VISIBILITY_TIMEOUT = 5


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

    running = await _progress_samples(client, team.staff.headers, database_url, started["id"])
    final, seen = await wait_until_finished(client, team.staff.headers, started["id"])
    assert final["status"] == "completed", (final, export_worker.log.read_text()[-3000:])
    assert final["rows_total"] == final["rows_written"] == 205
    assert final["percent"] == 100.0
    # Progress moved through several intermediate values, never backwards.
    assert [status["status"] for status in running] == ["running"] * 3, (running, seen)
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
    assert await sql_value(database_url, "SELECT count(*) FROM order_export_chunks") == 21
    # The 0.3 s slices handed over through the outbox, each hand-over relayed to a fresh task.
    handed_over = await sql_value(
        database_url,
        "SELECT count(*) FROM outbox_events WHERE event_type = 'OrderExportContinued'"
        " AND published_at IS NOT NULL",
    )
    assert handed_over >= 2


@contextlib.asynccontextmanager
async def export_row_locked(database_url: str, export_id: str) -> AsyncIterator[None]:
    """The export's row lock held by the test (taken once the worker's step in flight commits):
    the worker's next chunk waits for it."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with connection.transaction():
            await connection.execute(
                "SELECT 1 FROM order_exports WHERE id = $1 FOR UPDATE", uuid.UUID(export_id)
            )
            yield
    finally:
        await connection.close()


async def _progress_samples(
    client: httpx.AsyncClient, headers: dict[str, str], database_url: str, export_id: str
) -> list[dict[str, Any]]:
    """Three statuses of the running export, each read while the worker waits: the test holds
    the export's row lock, which every chunk takes first, so the status cannot move under it.
    Between two samples the worker writes at least one chunk (the signal to lock again)."""
    samples: list[dict[str, Any]] = []
    last = 0
    for _ in range(3):
        written = last

        async def moved(written: int = written) -> bool:
            status = await export_status(client, headers, export_id)
            return bool(status["rows_written"] > written)

        await until(moved, every=0.01)
        async with export_row_locked(database_url, export_id):
            samples.append(await export_status(client, headers, export_id))
        last = samples[-1]["rows_written"]
    return samples


async def test_cancelling_a_running_export_stops_it_and_drops_its_file(
    client: httpx.AsyncClient, database_url: str, export_worker: WorkerProcess
) -> None:
    team = await staffing(client, database_url)
    await insert_orders(database_url, 600, first=FIRST, step=timedelta(seconds=30))
    started = (await start_export(client, team.staff.headers, "2026-03-01", "2026-03-01")).json()
    status_url = started["status_url"]

    async def thirty_written() -> bool:
        status = await export_status(client, team.staff.headers, started["id"])
        assert status["status"] in {"queued", "running"}, status
        return bool(status["rows_written"] >= 30)

    await until(thirty_written, every=0.01)

    cancelled = await client.post(f"{status_url}/cancel", headers=team.staff.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    written_at_cancel = cancelled.json()["rows_written"]
    assert written_at_cancel < 600

    # The worker notices before its next chunk: nothing is written afterwards.
    final, _ = await wait_until_finished(client, team.staff.headers, started["id"])
    assert final["status"] == "cancelled"
    # The export's task has seen the cancel and returned: its work is over.
    await until(lambda: "'finished'" in task_results(export_worker.log, RUN_ORDER_EXPORT))
    after = (await client.get(status_url, headers=team.staff.headers)).json()
    assert after["rows_written"] == written_at_cancel
    assert await sql_value(database_url, "SELECT count(*) FROM order_export_chunks") == 0
    download = await client.get(f"{status_url}/download", headers=team.staff.headers)
    assert download.status_code == 409
    assert download.json()["code"] == "export_not_ready"
    # Cancelling again changes nothing.
    again = await client.post(f"{status_url}/cancel", headers=team.staff.headers)
    assert again.status_code == 200
    assert again.json()["finished_at"] == cancelled.json()["finished_at"]


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
    assert await sql_value(database_url, "SELECT count(*) FROM order_export_chunks") == 0
    dead = await sql_value(
        database_url,
        "SELECT error_type FROM dead_letters WHERE task_name = 'ordering.run_order_export'",
    )
    assert dead == "IntegrityError"


async def test_a_worker_killed_mid_export_loses_nothing_and_the_export_resumes_where_it_stopped(
    client: httpx.AsyncClient,
    database_url: str,
    redis: Redis,
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
        "APP_CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
    }
    started = (await start_export(client, team.staff.headers, "2026-03-01", "2026-03-01")).json()
    first = launch(["worker", "--concurrency=1"], env, tmp_path / "first.log")
    wait_for_log([(first, tmp_path / "first.log")], b"ready.")

    async def sixty_written() -> bool:
        status = await export_status(client, team.staff.headers, started["id"])
        return bool(status["rows_written"] >= 60)

    await until(sixty_written, every=0.01)
    kill_group(first)
    at_kill = await export_status(client, team.staff.headers, started["id"])
    assert at_kill["status"] == "running"
    assert 60 <= at_kill["rows_written"] < 300

    # The task's delivery is past its visibility timeout: the next worker delivers it again.
    assert await age_unacked(redis, VISIBILITY_TIMEOUT + 1) == 1
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
    assert await sql_value(database_url, "SELECT count(*) FROM order_export_chunks") == 30
    print(  # noqa: T201
        f"[exports] SIGKILL at {at_kill['rows_written']}/300 rows: resumed and completed, "
        f"{len(rows)} rows, none doubled"
    )
