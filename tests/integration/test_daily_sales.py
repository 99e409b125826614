"""The daily sales roll-up: a beat job recomputes today's and yesterday's figures from the orders;
admins read them. Orders are placed, paid and refunded over HTTP; the job runs in a real worker."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from app.bootstrap.settings import Settings
from app.bootstrap.worker.celery_app import create_celery
from tests.integration.order_support import Shop, cancel, new_product, open_shop, paid, placed
from tests.integration.support import assert_problem
from tests.support.mail import Mailbox
from tests.support.polling import until
from tests.support.sql import sql_execute, sql_value, wait_for_sql
from tests.support.worker import WorkerProcess, running_beats, task_results, worker_environment

ROLL_UP = "ordering.roll_up_daily_sales"
DAILY_SALES = "/api/v1/orders/daily-sales"


async def _daily_sales(client: httpx.AsyncClient, shop: Shop, first: date, last: date) -> Any:
    response = await client.get(
        DAILY_SALES,
        params={"from": first.isoformat(), "to": last.isoformat()},
        headers=shop.admin.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _roll_up(settings: Settings, worker: WorkerProcess, runs: int) -> None:
    publisher = create_celery(settings)
    try:
        publisher.send_task(ROLL_UP)
    finally:
        publisher.close()
    await until(lambda: len(task_results(worker.log, ROLL_UP)) >= runs)
    assert len(task_results(worker.log, ROLL_UP)) == runs, worker.log.read_text()[-3000:]


async def test_the_roll_up_counts_placed_paid_and_refunded_orders_per_day_and_currency(
    client: httpx.AsyncClient,
    settings: Settings,
    database_url: str,
    redis: Redis,
    worker: WorkerProcess,
) -> None:
    shop = await open_shop(client, database_url)
    mug = await new_product(client, shop, "MUG", price="12.50", stock=50)
    yen = await new_product(client, shop, "CUP", price="1500", currency="JPY", stock=50)
    await placed(client, shop.alice, (mug, 1))  # placed, never paid
    first = await placed(client, shop.alice, (mug, 2))
    await paid(client, shop.alice, first["id"])  # 25.00
    second = await placed(client, shop.bob, (mug, 4))
    await paid(client, shop.bob, second["id"])  # 50.00, then refunded
    assert (await cancel(client, shop.admin, second["id"])).status_code == 200
    yen_order = await placed(client, shop.bob, (yen, 3))
    await paid(client, shop.bob, yen_order["id"])  # 4500 JPY
    # An order placed and paid two days ago: outside the job's window (today and yesterday).
    old = await placed(client, shop.alice, (mug, 1))
    await paid(client, shop.alice, old["id"])
    await sql_execute(
        database_url,
        "UPDATE orders SET created_at = created_at - interval '2 days',"
        " paid_at = paid_at - interval '2 days' WHERE id = $1",
        uuid.UUID(old["id"]),
    )

    today = datetime.now(UTC).date()
    await _roll_up(settings, worker, runs=1)
    rows = await _daily_sales(client, shop, today - timedelta(days=3), today)
    figures = {(row["day"], row["currency"]): row for row in rows}
    assert set(figures) == {(today.isoformat(), "EUR"), (today.isoformat(), "JPY")}
    eur = figures[(today.isoformat(), "EUR")]
    assert (eur["orders_placed"], eur["orders_paid"], eur["refunds"]) == (3, 2, 1)
    assert (eur["revenue"], eur["refunded"], eur["net"]) == ("75.00", "50.00", "25.00")
    jpy = figures[(today.isoformat(), "JPY")]
    assert (jpy["orders_placed"], jpy["orders_paid"], jpy["revenue"], jpy["net"]) == (
        1,
        1,
        "4500",
        "4500",
    )

    # A second run recomputes: nothing is counted twice. (The job's lock lasts one interval, so
    # it is released first, as the next interval would.)
    await redis.delete(f"jobs:lock:{ROLL_UP}")
    await _roll_up(settings, worker, runs=2)
    again = await _daily_sales(client, shop, today - timedelta(days=3), today)
    assert [{**row, "rolled_up_at": None} for row in again] == [
        {**row, "rolled_up_at": None} for row in rows
    ]


async def test_daily_sales_are_for_admins_only_and_take_a_bounded_range(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    params = {"from": "2026-01-01", "to": "2026-01-31"}
    for actor in (shop.staff, shop.alice):
        response = await client.get(DAILY_SALES, params=params, headers=actor.headers)
        assert_problem(response, 403, "forbidden")
    assert (await client.get(DAILY_SALES, params=params)).status_code == 401
    reversed_range = {"from": "2026-02-01", "to": "2026-01-01"}
    response = await client.get(DAILY_SALES, params=reversed_range, headers=shop.admin.headers)
    assert_problem(response, 422, "invalid_date_range")
    too_long = {"from": "2024-01-01", "to": "2026-01-01"}
    response = await client.get(DAILY_SALES, params=too_long, headers=shop.admin.headers)
    assert_problem(response, 422, "invalid_date_range")
    response = await client.get(DAILY_SALES, params=params, headers=shop.admin.headers)
    assert response.status_code == 200
    assert response.json() == []


async def test_beat_rolls_the_sales_up_as_soon_as_it_starts(
    client: httpx.AsyncClient,
    settings: Settings,
    database_url: str,
    mailbox: Mailbox,
    worker: WorkerProcess,
    tmp_path: Path,
) -> None:
    """The schedule's first run would come one interval (900 s) after beat starts; beat sends
    the roll-up once at start-up instead of leaving the figures empty until then."""
    shop = await open_shop(client, database_url)
    mug = await new_product(client, shop, "MUG", price="12.50", stock=5)
    await paid(client, shop.alice, (await placed(client, shop.alice, (mug, 2)))["id"])
    rolled_up = "SELECT coalesce(sum(orders_paid), 0) FROM daily_sales"
    assert await sql_value(database_url, rolled_up) == 0

    with running_beats([worker_environment(settings, mailbox)], [tmp_path / "beat.log"]):
        await wait_for_sql(database_url, rolled_up, 1)
    assert await sql_value(database_url, rolled_up) == 1, worker.log.read_text()[-3000:]
