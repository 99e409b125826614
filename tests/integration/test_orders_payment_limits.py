"""Payment attempts per customer (pay_order_per_user) and declined payments per customer
(declined_payment_per_user): 429 problems with Retry-After that leave the order pending and
payable once the window has passed; replays of an Idempotency-Key are not attempts; other
customers keep their own budgets. The attack they stop, card testing, is replayed with the
default limits in test_owasp_api6_sensitive_business_flows.py."""

from __future__ import annotations

import asyncio
import hashlib
import re

import httpx
from redis.asyncio import Redis

from tests.conftest import build_settings
from tests.integration.conftest import ClientFactory
from tests.integration.order_support import (
    APPROVED_CARD,
    DECLINED_CARD,
    INSUFFICIENT_FUNDS_CARD,
    REPLAYED,
    new_product,
    open_shop,
    pay,
    placed,
)
from tests.integration.support import Actor, assert_problem
from tests.support.sql import sql_value

STATUS = "SELECT status FROM orders WHERE id::text = $1"


def assert_rate_limited(response: httpx.Response, limit: int, window: int) -> None:
    body = assert_problem(response, 429, "rate_limited")
    assert "reason" not in body  # nothing about the card
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= window, response.headers
    assert response.headers["RateLimit-Policy"] == f"{limit};w={window}"
    assert re.fullmatch(
        rf"limit={limit}, remaining=0, reset={retry_after}", response.headers["RateLimit"]
    )


async def pass_the_window(redis: Redis, rule: str, actor: Actor, window: int) -> None:
    """What the window's end does: the customer's counter for the rule expires (its TTL is the
    window, set by the limiter), so the test deletes it rather than waiting."""
    digest = hashlib.sha256(actor.id.encode()).hexdigest()[:32]
    keys = [key async for key in redis.scan_iter(f"ratelimit:LIMITER/{rule}/{digest}/*")]
    assert len(keys) == 1, keys
    assert 0 < await redis.ttl(keys[0]) <= window
    await redis.delete(*keys)


async def test_the_fourth_payment_attempt_within_a_minute_is_429_and_replays_do_not_count(
    make_client: ClientFactory,
    client: httpx.AsyncClient,
    database_url: str,
    redis_url: str,
    redis: Redis,
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "PAY-1", stock=20)
    first, second, third = [(await placed(client, shop.alice, (product, 1)))["id"] for _ in "123"]
    limited = await make_client(
        build_settings(database_url, redis_url, rate_limits={"pay_order_per_user": "3/minute"})
    )

    # Five at once with one key: one charge, four replays, one attempt counted.
    together = await asyncio.gather(*(pay(limited, shop.alice, first, key="p-1") for _ in "12345"))
    assert [response.status_code for response in together] == [200] * 5
    assert sum(response.headers.get(REPLAYED) == "true" for response in together) == 4
    for _ in range(3):
        replay = await pay(limited, shop.alice, first, key="p-1")
        assert replay.status_code == 200, replay.text
        assert replay.headers[REPLAYED] == "true"
    # A declined key is not spent, so its retry is charged again: that is a second attempt.
    for _ in range(2):
        assert_problem(
            await pay(limited, shop.alice, second, DECLINED_CARD, key="d-1"),
            402,
            "payment_declined",
        )

    assert_rate_limited(await pay(limited, shop.alice, second, key="p-2"), limit=3, window=60)
    assert_rate_limited(await pay(limited, shop.alice, third), limit=3, window=60)
    assert await sql_value(database_url, STATUS, second) == "pending_payment"
    # A replay still answers at the limit.
    late = await pay(limited, shop.alice, first, key="p-1")
    assert (late.status_code, late.headers.get(REPLAYED)) == (200, "true")
    # Another customer has a budget of their own.
    bobs = (await placed(client, shop.bob, (product, 1)))["id"]
    assert (await pay(limited, shop.bob, bobs)).status_code == 200

    # Once the window has passed, the refused key pays the order that waited.
    await pass_the_window(redis, "pay_order_per_user", shop.alice, window=60)
    again = await pay(limited, shop.alice, second, key="p-2")
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "paid"


async def test_declined_payments_are_limited_per_customer(
    make_client: ClientFactory,
    client: httpx.AsyncClient,
    database_url: str,
    redis_url: str,
    redis: Redis,
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "PAY-2", stock=20)
    first, second = [(await placed(client, shop.alice, (product, 1)))["id"] for _ in "12"]
    limited = await make_client(
        build_settings(database_url, redis_url, rate_limits={"declined_payment_per_user": "3/hour"})
    )

    # Within the limit, a good card after two declines pays as usual.
    for card in (DECLINED_CARD, INSUFFICIENT_FUNDS_CARD):
        assert_problem(await pay(limited, shop.alice, first, card), 402, "payment_declined")
    paid = await pay(limited, shop.alice, first, APPROVED_CARD)
    assert paid.status_code == 200, paid.text
    # The third decline spends the budget: after it, not even a good card reaches the gateway.
    assert_problem(await pay(limited, shop.alice, second, DECLINED_CARD), 402, "payment_declined")
    for card in (APPROVED_CARD, DECLINED_CARD):
        assert_rate_limited(await pay(limited, shop.alice, second, card), limit=3, window=3600)
    assert await sql_value(database_url, STATUS, second) == "pending_payment"
    sql = "SELECT payment_reference IS NULL FROM orders WHERE id::text = $1"
    assert await sql_value(database_url, sql, second) is True
    # Another customer's declines are their own.
    bobs = (await placed(client, shop.bob, (product, 1)))["id"]
    assert_problem(await pay(limited, shop.bob, bobs, DECLINED_CARD), 402, "payment_declined")
    assert (await pay(limited, shop.bob, bobs, APPROVED_CARD)).status_code == 200

    # Once the oldest declines have left the window, the order that waited can be paid.
    await pass_the_window(redis, "declined_payment_per_user", shop.alice, window=3600)
    again = await pay(limited, shop.alice, second, APPROVED_CARD)
    assert again.status_code == 200, again.text
    assert await sql_value(database_url, STATUS, second) == "paid"


async def test_a_refused_payment_is_not_counted_as_a_decline(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "PAY-3", stock=20)
    first, second = [(await placed(client, shop.alice, (product, 1)))["id"] for _ in "12"]
    limited = await make_client(
        build_settings(database_url, redis_url, rate_limits={"declined_payment_per_user": "1/hour"})
    )

    # A paid order is refused (409) before the gateway: no decline is spent.
    assert (await pay(limited, shop.alice, first)).status_code == 200
    for _ in range(3):
        assert_problem(await pay(limited, shop.alice, first), 409, "invalid_order_transition")
    assert_problem(await pay(limited, shop.alice, second, DECLINED_CARD), 402, "payment_declined")
    assert_rate_limited(await pay(limited, shop.alice, second), limit=1, window=3600)
