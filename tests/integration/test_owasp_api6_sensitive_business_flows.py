"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows: ordering and paying are the
flows worth automating against the shop (hoarding stock, charging twice, testing stolen cards).

Already proven elsewhere: test_orders_hoarding.py (a customer holds at most 3 unpaid orders, 50
units, 10 of one product: 409 too_many_pending_orders, too_many_pending_units,
too_many_units_of_product; orders per address across accounts: 429), test_orders_place.py
(orders per customer: 429), test_orders_idempotency.py (one order and one charge per
Idempotency-Key, even for 20 concurrent requests; keys per customer; a declined payment does not
spend its key), test_orders_concurrency.py (no oversell), test_beat_jobs.py (unpaid orders expire
and give their stock back), test_rate_limits.py (sign-up per address bounds how many accounts
one address opens), test_orders_payment_limits.py (payment attempts and declined payments per
customer: 429, replays not counted, the order payable once the window has passed).

New here: an order is charged once whatever the keys, and card testing meets the default limits.
"""

from __future__ import annotations

import httpx
import pytest
from limits import parse

from app.bootstrap.settings import RateLimitSettings
from tests.conftest import build_settings
from tests.integration.conftest import ClientFactory
from tests.integration.order_support import APPROVED_CARD, new_product, open_shop, pay, placed
from tests.integration.support import assert_problem
from tests.support.sql import sql_value

pytestmark = pytest.mark.owasp("API6")

# What a deployment gets: the payment limits' own defaults, not the generous ones of the others.
DEFAULT_PAYMENT_LIMITS = {
    name: RateLimitSettings.model_fields[name].default
    for name in ("pay_order_per_user", "declined_payment_per_user")
}


async def test_an_order_is_charged_once_whatever_keys_its_payments_carry(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url, customers=1)
    product = await new_product(client, shop, "API6-1", stock=5)
    order = (await placed(client, shop.alice, (product, 1)))["id"]

    first = await pay(client, shop.alice, order, key="first")
    assert first.status_code == 200, first.text
    reference = first.json()["payment_reference"]
    for key in ("second", None):
        again = await pay(client, shop.alice, order, APPROVED_CARD, key=key)
        body = assert_problem(again, 409, "invalid_order_transition")
        assert body["current_status"] == "paid"
    sql = "SELECT payment_reference FROM orders WHERE id::text = $1"
    assert await sql_value(database_url, sql, order) == reference
    paid_events = (
        "SELECT count(*) FROM outbox_events WHERE event_type = 'OrderPaid'"
        " AND aggregate_id::text = $1"
    )
    assert await sql_value(database_url, paid_events, order) == 1


# Luhn-valid numbers the sandbox declines as unknown cards: what a card tester would try.
TESTED_CARDS = [f"4111111111111{n:03d}" for n in range(1000)]


def _luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


async def test_payment_attempts_are_limited_per_customer(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    shop = await open_shop(client, database_url, customers=1)
    product = await new_product(client, shop, "API6-2", stock=5)
    order = (await placed(client, shop.alice, (product, 1)))["id"]
    limited = await make_client(
        build_settings(database_url, redis_url, rate_limits=DEFAULT_PAYMENT_LIMITS)
    )
    declines = parse(DEFAULT_PAYMENT_LIMITS["declined_payment_per_user"])
    cards = [card for card in TESTED_CARDS if _luhn_valid(card)][:40]
    assert len(cards) == 40

    responses = [await pay(limited, shop.alice, order, card) for card in cards]

    statuses = [response.status_code for response in responses]
    assert statuses == [402] * declines.amount + [429] * (40 - declines.amount), statuses
    # The gateway's reasons stay for the few declines allowed; a refusal says nothing of a card.
    assert {response.json()["reason"] for response in responses[: declines.amount]} == {
        "invalid_card_number"
    }
    for response in responses[declines.amount :]:
        body = assert_problem(response, 429, "rate_limited")
        assert "reason" not in body
        assert 0 < int(response.headers["Retry-After"]) <= declines.get_expiry()
    # The first refusal is the declines' limit (the attempts' limit is far looser).
    policy = responses[declines.amount].headers["RateLimit-Policy"]
    assert policy == f"{declines.amount};w={declines.get_expiry()}"
    # A live card is refused like the rest, not charged: testing has nothing left to learn.
    assert_problem(await pay(limited, shop.alice, order, APPROVED_CARD), 429, "rate_limited")
    sql = "SELECT status FROM orders WHERE id::text = $1"
    assert await sql_value(database_url, sql, order) == "pending_payment"
