"""Idempotency-Key on placing and paying: concurrent duplicates act once, replays answer the
original status and body (Idempotent-Replayed: true), a reused key with another body is 422,
keys are per customer, and they expire."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from dishka import Provider, Scope

from app.bootstrap.settings import IdempotencySettings, Settings
from app.shared.application.ports import Clock
from tests.integration.conftest import ClientFactory
from tests.integration.order_support import (
    DECLINED_CARD,
    INSUFFICIENT_FUNDS_CARD,
    ORDERS,
    REPLAYED,
    event_counts,
    new_product,
    open_shop,
    order_body,
    order_of,
    orders_of,
    pay,
    place,
    placed,
    stock_of,
)
from tests.integration.support import assert_problem, without_request_id
from tests.support.sql import sql_value


async def test_twenty_concurrent_requests_with_one_key_place_one_order(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "IDEM-1", stock=50)

    started = time.perf_counter()
    responses = await asyncio.wait_for(
        asyncio.gather(
            *(place(client, shop.alice, (product, 3), key="order-2024-0001") for _ in range(20))
        ),
        60,
    )
    elapsed = time.perf_counter() - started

    statuses = Counter(response.status_code for response in responses)
    replayed = sum(response.headers.get(REPLAYED) == "true" for response in responses)
    rows = await orders_of(database_url, shop.alice.id)
    stock = await stock_of(client, database_url, product)
    print(  # noqa: T201 - the figures are quoted from the -s output
        f"\n[idempotency] 20 concurrent requests, one key: statuses={dict(statuses)} "
        f"distinct_bodies={len({r.content for r in responses})} replayed={replayed} "
        f"orders_in_db={rows} stock={stock} (from 50, 3 per order) elapsed={elapsed:.2f}s"
    )
    assert statuses == {201: 20}, [r.text for r in responses]
    assert len({response.content for response in responses}) == 1
    assert replayed == 19
    assert len({response.headers["Location"] for response in responses}) == 1
    assert rows == 1
    assert stock == 47
    order_id = responses[0].json()["id"]
    assert await event_counts(database_url) == Counter({("OrderPlaced", order_id): 1})

    later = await place(client, shop.alice, (product, 3), key="order-2024-0001")
    assert later.status_code == 201, later.text
    assert later.headers[REPLAYED] == "true"
    assert later.headers["Location"] == f"{ORDERS}/{order_id}"
    assert later.content == responses[0].content
    assert await orders_of(database_url, shop.alice.id) == 1
    assert await stock_of(client, database_url, product) == 47


async def test_a_replay_is_the_original_response_even_after_the_order_changed(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "IDEM-2", stock=5)
    first = await place(client, shop.alice, (product, 1), key="k")
    assert first.status_code == 201
    assert REPLAYED not in first.headers
    order_id = first.json()["id"]
    assert (await pay(client, shop.alice, order_id)).status_code == 200

    replay = await place(client, shop.alice, (product, 1), key="k")

    assert replay.status_code == 201
    assert replay.headers[REPLAYED] == "true"
    assert replay.json() == first.json()
    assert replay.json()["status"] == "pending_payment"  # what was answered then
    assert (await order_of(client, shop.alice, order_id))["status"] == "paid"


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "IDEM-3", stock=10)
    other = await new_product(client, shop, "IDEM-4", stock=10)
    assert (await place(client, shop.alice, (product, 1), key="k")).status_code == 201

    for lines in (((product, 2),), ((other, 1),), ((product, 1), (other, 1))):
        assert_problem(
            await place(client, shop.alice, *lines, key="k"), 422, "idempotency_key_reused"
        )
    assert await orders_of(database_url, shop.alice.id) == 1
    assert await stock_of(client, database_url, product) == 9
    assert await stock_of(client, database_url, other) == 10


async def test_the_fingerprint_is_of_the_merged_basket(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    first_product = await new_product(client, shop, "IDEM-5", stock=10)
    second_product = await new_product(client, shop, "IDEM-6", stock=10)
    first = await place(client, shop.alice, (first_product, 2), (second_product, 1), key="k")
    assert first.status_code == 201

    same_basket = await place(
        client, shop.alice, (second_product, 1), (first_product, 1), (first_product, 1), key="k"
    )

    assert same_basket.status_code == 201, same_basket.text
    assert same_basket.headers[REPLAYED] == "true"
    assert same_basket.json() == first.json()
    assert await stock_of(client, database_url, first_product) == 8


async def test_keys_belong_to_one_customer(client: httpx.AsyncClient, database_url: str) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "IDEM-7", stock=10)

    mine = await place(client, shop.alice, (product, 1), key="shared-key")
    theirs = await place(client, shop.bob, (product, 1), key="shared-key")
    other_body = await place(client, shop.customers[2], (product, 4), key="shared-key")

    for response in (mine, theirs, other_body):
        assert response.status_code == 201, response.text
        assert REPLAYED not in response.headers
    assert len({mine.json()["id"], theirs.json()["id"], other_body.json()["id"]}) == 3
    assert theirs.json()["customer_id"] == shop.bob.id
    assert await stock_of(client, database_url, product) == 4


async def test_a_failed_request_does_not_spend_its_key(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "IDEM-8", stock=1)

    assert_problem(await place(client, shop.alice, (product, 2), key="k"), 409, "out_of_stock")
    restock = await client.post(
        f"/api/v1/products/{product}/stock/restock",
        json={"quantity": 5, "reason": "delivery"},
        headers=shop.staff.headers,
    )
    assert restock.status_code == 200, restock.text

    retried = await place(client, shop.alice, (product, 2), key="k")
    assert retried.status_code == 201, retried.text
    assert REPLAYED not in retried.headers
    assert await stock_of(client, database_url, product) == 4


async def test_concurrent_requests_with_one_key_all_get_the_same_refusal(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "IDEM-9", stock=1)

    responses = await asyncio.gather(
        *(place(client, shop.alice, (product, 2), key="k") for _ in range(10))
    )

    assert {response.status_code for response in responses} == {409}
    assert len({str(without_request_id(r.json())) for r in responses}) == 1
    assert await orders_of(database_url, shop.alice.id) == 0
    assert await stock_of(client, database_url, product) == 1


async def test_invalid_idempotency_keys_are_refused(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "IDEM-10", stock=10)

    for key in ("", "x" * 256):
        response = await client.post(
            ORDERS,
            json=order_body((product, 1)),
            headers={**shop.alice.headers, "Idempotency-Key": key},
        )
        assert_problem(response, 422, "validation_error")
    # Visible ASCII and the spaces between: not a tab inside, nor a Latin-1 byte.
    alice = [(name.encode(), value.encode()) for name, value in shop.alice.headers.items()]
    for raw in (b"a\tb", b"caf\xe9"):
        response = await client.post(
            ORDERS, json=order_body((product, 1)), headers=[*alice, (b"Idempotency-Key", raw)]
        )
        assert_problem(response, 422, "invalid_idempotency_key")
    longest = await place(client, shop.alice, (product, 1), key="x" * 255)
    assert longest.status_code == 201, longest.text
    assert await stock_of(client, database_url, product) == 9
    spaced = await place(client, shop.alice, (product, 1), key="key 1")  # spaces between
    assert spaced.status_code == 201, spaced.text
    assert await stock_of(client, database_url, product) == 8


# --- paying ----------------------------------------------------------------------------------


async def test_a_payment_replay_returns_the_first_answer_and_charges_once(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "PAY-1", stock=10)
    order_id = (await placed(client, shop.alice, (product, 2)))["id"]

    first = await pay(client, shop.alice, order_id, key="pay-1")
    replay = await pay(client, shop.alice, order_id, key="pay-1")
    spaced = await pay(client, shop.alice, order_id, "4242 4242 4242 4242", key="pay-1")

    assert first.status_code == 200, first.text
    assert REPLAYED not in first.headers
    for response in (replay, spaced):
        assert response.status_code == 200, response.text
        assert response.headers[REPLAYED] == "true"
        assert response.content == first.content
    assert (await event_counts(database_url))[("OrderPaid", order_id)] == 1
    # Another card (last four digits) under the same key is another request.
    assert_problem(
        await pay(client, shop.alice, order_id, DECLINED_CARD, key="pay-1"),
        422,
        "idempotency_key_reused",
    )
    # Without the key, a second payment is a plain illegal transition.
    refused = await pay(client, shop.alice, order_id)
    assert_problem(refused, 409, "invalid_order_transition")
    assert (await event_counts(database_url))[("OrderPaid", order_id)] == 1


async def test_concurrent_payments_with_one_key_charge_once(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "PAY-2", stock=10)
    order_id = (await placed(client, shop.alice, (product, 1)))["id"]

    responses = await asyncio.gather(
        *(pay(client, shop.alice, order_id, key="pay-once") for _ in range(20))
    )

    assert {response.status_code for response in responses} == {200}, [r.text for r in responses]
    assert len({response.content for response in responses}) == 1
    assert sum(r.headers.get(REPLAYED) == "true" for r in responses) == 19
    assert (await event_counts(database_url))[("OrderPaid", order_id)] == 1


async def test_a_declined_payment_does_not_spend_its_key(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "PAY-3", stock=10)
    order_id = (await placed(client, shop.alice, (product, 1)))["id"]

    declined = await pay(client, shop.alice, order_id, INSUFFICIENT_FUNDS_CARD, key="k")
    again = await pay(client, shop.alice, order_id, INSUFFICIENT_FUNDS_CARD, key="k")

    for response in (declined, again):
        body = assert_problem(response, 402, "payment_declined")
        assert body["reason"] == "insufficient_funds"
        assert REPLAYED not in response.headers
    approved = await pay(client, shop.alice, order_id, key="k")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "paid"


async def test_payment_keys_are_separate_from_order_keys_and_per_customer(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "PAY-4", stock=10)
    mine = await place(client, shop.alice, (product, 1), key="same")
    theirs = (await placed(client, shop.bob, (product, 1)))["id"]

    paid_mine = await pay(client, shop.alice, mine.json()["id"], key="same")
    paid_theirs = await pay(client, shop.bob, theirs, key="same")

    for response in (paid_mine, paid_theirs):
        assert response.status_code == 200, response.text
        assert REPLAYED not in response.headers
    # Another customer paying alice's order under a key of their own learns nothing.
    probe = await pay(client, shop.bob, mine.json()["id"], key="probe")
    assert_problem(probe, 404, "order_not_found")
    # Bob's key already names his own payment: reusing it for another order is refused.
    reused = await pay(client, shop.bob, mine.json()["id"], key="same")
    assert_problem(reused, 422, "idempotency_key_reused")


# --- expiry ------------------------------------------------------------------------------------


class MovableClock:
    """The app's Clock, moved by the test: time passes without waiting for it."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def test_keys_expire_after_the_retention_period(
    make_client: ClientFactory, settings: Settings, database_url: str
) -> None:
    retention = 60
    short = dataclasses.replace(
        settings, idempotency=IdempotencySettings(retention_seconds=retention)
    )
    clock = MovableClock()
    moved = Provider(scope=Scope.APP)

    def the_clock() -> MovableClock:
        return clock

    moved.provide(the_clock, provides=Clock, override=True)
    client = await make_client(short, providers=(moved,))
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "EXP-1", stock=10)

    first = await place(client, shop.alice, (product, 1), key="short-lived")
    replay = await place(client, shop.alice, (product, 1), key="short-lived")
    assert first.status_code == replay.status_code == 201
    assert replay.headers[REPLAYED] == "true"
    assert await sql_value(database_url, "SELECT count(*) FROM idempotency_keys") == 1

    clock.offset = timedelta(seconds=retention + 1)
    # Expired: the key is forgotten, so even another body under it is a new request.
    fresh = await place(client, shop.alice, (product, 2), key="short-lived")

    assert fresh.status_code == 201, fresh.text
    assert REPLAYED not in fresh.headers
    assert fresh.json()["id"] != first.json()["id"]
    assert await orders_of(database_url, shop.alice.id) == 2
    assert await stock_of(client, database_url, product) == 7
    replay_of_fresh = await place(client, shop.alice, (product, 2), key="short-lived")
    assert replay_of_fresh.headers[REPLAYED] == "true"
    assert replay_of_fresh.json()["id"] == fresh.json()["id"]
