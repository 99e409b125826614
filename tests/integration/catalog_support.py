"""Helpers for the catalog integration tests: products over HTTP, outbox rows, metrics."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.bootstrap.settings import RedisSettings, Settings
from tests.support.ports import dead_port
from tests.support.sql import sql_rows

PRODUCTS = "/api/v1/products"


def product_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": "MUG-001",
        "name": "Stoneware mug",
        "description": "Holds tea.",
        "price_amount": "12.50",
        "currency": "EUR",
        "stock_on_hand": 5,
    }
    return body | overrides


async def create_product(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> str:
    response = await client.post(PRODUCTS, json=product_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def get_product(
    client: httpx.AsyncClient, product_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await client.get(f"{PRODUCTS}/{product_id}", headers=headers or {})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def list_all(
    client: httpx.AsyncClient,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every item of a listing, following next_cursor to the end."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query = dict(params or {})
        if cursor is not None:
            query["cursor"] = cursor
        response = await client.get(PRODUCTS, params=query, headers=headers or {})
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    msg = "the listing never ended"
    raise AssertionError(msg)


async def outbox_events(
    database_url: str, aggregate_id: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """(event_type, payload) of the outbox rows, oldest first."""
    rows = await sql_rows(
        database_url,
        "SELECT event_type, payload, aggregate_type, aggregate_id FROM outbox_events "
        "WHERE ($1::uuid IS NULL OR aggregate_id = $1::uuid) "
        "ORDER BY occurred_at, recorded_at",
        aggregate_id,
    )
    events = []
    for row in rows:
        assert row["aggregate_type"] == "product", row
        payload = row["payload"]
        events.append(
            (row["event_type"], json.loads(payload) if isinstance(payload, str) else payload)
        )
    return events


async def metric(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` (a counter's ``_total``) whose labels include ``labels``."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    total = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def with_dead_redis(settings: Settings) -> Settings:
    redis = RedisSettings(url=f"redis://127.0.0.1:{dead_port()}/0", retries=1, connect_timeout=0.5)
    return dataclasses.replace(settings, redis=redis)
