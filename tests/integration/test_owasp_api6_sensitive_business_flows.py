"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows: ordering and paying are the
flows worth automating against the shop (hoarding stock, charging twice, testing stolen cards).

Already proven elsewhere: test_orders_hoarding.py (a customer holds at most 3 unpaid orders, 50
units, 10 of one product: 409 too_many_pending_orders, too_many_pending_units, 422
too_many_units_of_product; orders per address across accounts: 429), test_orders_place.py
(orders per customer: 429), test_orders_idempotency.py (one order and one charge per
Idempotency-Key, even for 20 concurrent requests; keys per customer; a declined payment does not
spend its key), test_orders_concurrency.py (no oversell), test_beat_jobs.py (unpaid orders expire
and give their stock back), test_rate_limits.py (sign-up per address bounds how many accounts
one address opens).

New here: an order is charged once whatever the keys, and the open gap: card testing.
"""

from __future__ import annotations

import httpx
import pytest

from tests.integration.order_support import (
    APPROVED_CARD,
    new_product,
    open_shop,
    pay,
    placed,
    scalar,
)
from tests.integration.support import assert_problem

pytestmark = pytest.mark.owasp("API6")


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
    assert await scalar(database_url, sql, order) == reference
    paid_events = (
        "SELECT count(*) FROM outbox_events WHERE event_type = 'OrderPaid'"
        " AND aggregate_id::text = $1"
    )
    assert await scalar(database_url, paid_events, order) == 1


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


@pytest.mark.xfail(
    strict=True,
    reason="Card testing: payment attempts are not limited. A customer may try any number of "
    "card numbers on one pending order, and the 402 reason (card_declined, insufficient_funds, "
    "invalid_card_number) tells a tester which stolen cards are live. A per-customer limit on "
    "payment attempts (a RateLimitRule, a setting, PayOrder, the docs) is left to its own change.",
)
async def test_payment_attempts_are_limited_per_customer(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url, customers=1)
    product = await new_product(client, shop, "API6-2", stock=5)
    order = (await placed(client, shop.alice, (product, 1)))["id"]
    cards = [card for card in TESTED_CARDS if _luhn_valid(card)][:40]
    assert len(cards) == 40

    statuses = [(await pay(client, shop.alice, order, card)).status_code for card in cards]

    assert statuses[0] == 402
    assert 429 in statuses, "40 different cards were tried on one order without a limit"
