"""Helpers for the order-export tests: orders written straight into PostgreSQL (many, fast, with
known values), the export routes, and polling an export's status."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from tests.support.sql import asyncpg_dsn

EXPORTS = "/api/v1/order-exports"


@dataclass(frozen=True, slots=True)
class StoredOrder:
    id: uuid.UUID
    customer_id: uuid.UUID
    placed_at: datetime
    total: Decimal
    quantity: int


async def insert_orders(
    database_url: str, count: int, *, first: datetime, step: timedelta = timedelta(seconds=1)
) -> list[StoredOrder]:
    """``count`` pending EUR orders of one line each, placed ``step`` apart from ``first``."""
    orders = [
        StoredOrder(
            id=uuid.uuid4(),
            customer_id=uuid.uuid4(),
            placed_at=first + number * step,
            total=Decimal(number % 97 + 1) * 3 + Decimal("0.25"),
            quantity=number % 5 + 1,
        )
        for number in range(count)
    ]
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.copy_records_to_table(
            "orders",
            records=[
                (o.id, o.customer_id, "pending_payment", o.total, "EUR", 1, o.placed_at,
                 o.placed_at)
                for o in orders
            ],
            columns=["id", "customer_id", "status", "total_amount", "currency", "version",
                     "created_at", "updated_at"],
        )  # fmt: skip
        await connection.copy_records_to_table(
            "order_lines",
            records=[
                (o.id, 1, uuid.uuid4(), "SKU-1", "Thing", o.total / o.quantity, "EUR", o.quantity)
                for o in orders
            ],
            columns=["order_id", "line_no", "product_id", "sku", "name", "unit_price_amount",
                     "unit_price_currency", "quantity"],
        )  # fmt: skip
    finally:
        await connection.close()
    return orders


async def start_export(
    client: httpx.AsyncClient, headers: dict[str, str], first_day: str, last_day: str
) -> httpx.Response:
    return await client.post(
        EXPORTS, json={"first_day": first_day, "last_day": last_day}, headers=headers
    )


async def export_status(
    client: httpx.AsyncClient, headers: dict[str, str], export_id: str
) -> dict[str, Any]:
    response = await client.get(f"{EXPORTS}/{export_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_until_finished(
    client: httpx.AsyncClient, headers: dict[str, str], export_id: str, *, within: float = 60.0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The final status and every distinct status seen on the way (polled every 20 ms)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = await export_status(client, headers, export_id)
        if not seen or (status["status"], status["rows_written"]) != (
            seen[-1]["status"],
            seen[-1]["rows_written"],
        ):
            seen.append(status)
        if status["status"] in {"completed", "failed", "cancelled"}:
            return status, seen
        await asyncio.sleep(0.02)
    raise AssertionError(f"export {export_id} did not finish: {seen[-1:]}")


def parse_csv(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def day(value: datetime) -> str:
    return value.astimezone(UTC).date().isoformat()
