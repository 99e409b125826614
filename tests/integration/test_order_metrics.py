"""Ordering's business metrics count each committed order event once, with its money: never a
replayed payment, a declined one, or the loser of two payments at once."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from prometheus_client import REGISTRY

from tests.integration.order_support import (
    DECLINED_CARD,
    cancel,
    new_product,
    open_shop,
    pay,
    placed,
    ship,
)

EVENTS = ("placed", "paid", "cancelled", "expired", "shipped", "delivered")


def _events() -> dict[str, float]:
    return {
        event: REGISTRY.get_sample_value("order_events_total", {"event": event}) or 0.0
        for event in EVENTS
    }


def _money(name: str, currency: str) -> float:
    return REGISTRY.get_sample_value(name, {"currency": currency}) or 0.0


def _increase(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {
        event: after[event] - before[event] for event in EVENTS if after[event] != before[event]
    }


async def test_each_committed_order_event_is_counted_once_with_its_money(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "MET-1", price="12.50", currency="EUR")
    events = _events()
    paid_eur = _money("order_paid_amount_total", "EUR")
    refunded_eur = _money("order_refunded_amount_total", "EUR")

    order = (await placed(client, shop.alice, (product, 2)))["id"]
    key = str(uuid.uuid4())
    assert (await pay(client, shop.alice, order, key=key)).status_code == 200
    replay = await pay(client, shop.alice, order, key=key)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert (await cancel(client, shop.admin, order, "refund it")).status_code == 200
    declined = (await placed(client, shop.alice, (product, 1)))["id"]
    assert (await pay(client, shop.alice, declined, DECLINED_CARD)).status_code == 402
    assert (await ship(client, shop.staff, declined)).status_code == 409  # not paid: nothing

    assert _increase(events, _events()) == {"placed": 2, "paid": 1, "cancelled": 1}
    assert _money("order_paid_amount_total", "EUR") == paid_eur + 25.0
    assert _money("order_refunded_amount_total", "EUR") == refunded_eur + 25.0


async def test_two_payments_at_once_count_the_winner_only(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "MET-2", price="100", currency="JPY")
    order = (await placed(client, shop.alice, (product, 3)))["id"]
    events = _events()
    paid_jpy = _money("order_paid_amount_total", "JPY")

    answers = await asyncio.gather(*(pay(client, shop.alice, order) for _ in range(4)))

    assert sorted(answer.status_code for answer in answers) == [200, 409, 409, 409]
    assert _increase(events, _events()) == {"paid": 1}
    assert _money("order_paid_amount_total", "JPY") == paid_jpy + 300
