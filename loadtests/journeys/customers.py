"""Customers: log in once, browse, order, pay (or not), read their orders, sometimes cancel.

Each seeded shopper (``seed-demo --shoppers N``) is used by one simulated customer at a time
when there are as many accounts as users; more users share accounts round-robin, which the
platform's per-customer bounds (3 unpaid orders, 50 units) then meet sooner: a 409 from them is
an answer, not a failure.
"""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from typing import Any

from locust import between, task

from loadtests.journeys.common import (
    ACCOUNTS,
    APPROVED_CARD,
    DECLINED_CARD,
    PASSWORD,
    Catalog,
    ShopUser,
    shopper,
)

_next_account = itertools.count()
_account_lock = threading.Lock()
# Refusals the platform is right to give under load: out of stock, unpaid-order bounds.
_ORDER_ANSWERS = frozenset({201, 409})
# A shopper declines about once a minute here, so a run longer than a few minutes spends the
# declined-payment limit (5 an hour by default): a 429 then is the card-testing limit at work.
_PAY_ANSWERS = frozenset({200, 429})
_DECLINE_ANSWERS = frozenset({402, 429})


class Customer(ShopUser):
    weight = 25
    wait_time = between(1.0, 3.0)

    def on_start(self) -> None:
        super().on_start()
        with _account_lock:
            number = next(_next_account) % max(ACCOUNTS, 1) + 1
        self.log_in(shopper(number))
        self.pending: list[str] = []

    @task(4)
    def browse(self) -> None:
        self.call(
            "GET",
            "/api/v1/products",
            params={"in_stock": "true"},
            name="GET /api/v1/products?sort&in_stock",
        )

    @task(3)
    def order_and_pay(self) -> None:
        order = self._place()
        if order is None:
            return
        roll = random.random()  # noqa: S311 - load mix, not security  # nosec B311
        if roll < 0.8:
            paid = self._pay(order, APPROVED_CARD, expect=_PAY_ANSWERS)
            if paid is None or paid.get("status") != "paid":  # refused: give the stock back
                self._cancel(order)
        elif roll < 0.9:  # declined: the order stays pending, so cancel it
            self._pay(order, DECLINED_CARD, expect=_DECLINE_ANSWERS)
            self._cancel(order)
        else:
            self._cancel(order)

    @task(2)
    def my_orders(self) -> None:
        page = self.call("GET", "/api/v1/orders", name="GET /api/v1/orders")
        if page and page["items"]:
            order = random.choice(page["items"])  # noqa: S311 - load mix, not security  # nosec B311
            self.call("GET", f"/api/v1/orders/{order['id']}", name="GET /api/v1/orders/{id}")

    def _place(self) -> str | None:
        lines = [
            {"product_id": product["id"], "quantity": random.randint(1, 2)}  # noqa: S311 - load mix, not security  # nosec B311
            for product in Catalog.in_stock(random.randint(1, 3))  # noqa: S311 - load mix, not security  # nosec B311
        ]
        created = self.call(
            "POST",
            "/api/v1/orders",
            json={"lines": lines},
            headers=self.idempotency_key(),
            expect=_ORDER_ANSWERS,
            name="POST /api/v1/orders",
        )
        return str(created["id"]) if created and "id" in created else None

    def _pay(self, order: str, card: str, *, expect: frozenset[int]) -> dict[str, Any] | None:
        answer: dict[str, Any] | None = self.call(
            "POST",
            f"/api/v1/orders/{order}/pay",
            json={"card_number": card},
            headers=self.idempotency_key(),
            expect=expect,
            name="POST /api/v1/orders/{id}/pay",
        )
        return answer

    def _cancel(self, order: str) -> None:
        self.call(
            "POST",
            f"/api/v1/orders/{order}/cancel",
            json={"reason": "changed my mind"},
            name="POST /api/v1/orders/{id}/cancel",
        )


class NewCustomer(ShopUser):
    """Rare: signing up and logging in each cost an Argon2 hash, by design."""

    fixed_count = 1  # one stream of sign-ups, each two hashes
    wait_time = between(5.0, 15.0)

    @task
    def sign_up_and_log_in(self) -> None:
        username = f"load-{uuid.uuid4().hex[:12]}"
        created = self.call(
            "POST",
            "/api/v1/users",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
            expect=frozenset({201}),
            name="POST /api/v1/users",
        )
        if created is not None:
            self.token = None
            self.log_in(username)
            self.call("GET", "/api/v1/users/me", name="GET /api/v1/users/me")
