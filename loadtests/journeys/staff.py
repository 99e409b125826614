"""Staff keep the shop going (restock, ship, deliver); admins export orders."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from locust import between, task

from loadtests.journeys.common import Catalog, ShopUser

_TRANSITION_ANSWERS = frozenset({200, 409})  # 409: someone else moved it first


class Staff(ShopUser):
    fixed_count = 2  # a shop has a few staff, however many customers come
    wait_time = between(2.0, 5.0)

    def on_start(self) -> None:
        super().on_start()
        self.log_in("staff")
        # A shift starts by putting the morning's delivery away: every run restocks at least
        # once, so a short run (the test's 12 s) covers the request whatever tasks are drawn.
        self.restock()

    @task(2)
    def restock(self) -> None:
        product = Catalog.any()
        self.call(
            "POST",
            f"/api/v1/products/{product['id']}/stock/restock",
            json={"quantity": 50, "reason": "Delivery"},
            name="POST /api/v1/products/{id}/stock/restock",
            # 409 concurrent_modification: another staff member changed the product meanwhile
            # (optimistic locking); a client reloads and retries, and the answer is the platform's.
            expect=frozenset({200, 409}),
        )

    @task(3)
    def ship_a_paid_order(self) -> None:
        self._advance("paid", "ship")

    @task(2)
    def deliver_a_shipped_order(self) -> None:
        self._advance("shipped", "deliver")

    def _advance(self, status: str, action: str) -> None:
        page = self.call(
            "GET",
            "/api/v1/orders/search",
            params={"status": status, "limit": 10},
            name=f"GET /api/v1/orders/search?status={status}",
        )
        if page and page["items"]:
            order = random.choice(page["items"])  # noqa: S311 - load mix, not security  # nosec B311
            self.call(
                "POST",
                f"/api/v1/orders/{order['id']}/{action}",
                expect=_TRANSITION_ANSWERS,
                name=f"POST /api/v1/orders/{{id}}/{action}",
            )


class Admin(ShopUser):
    """Exports need the worker (make run starts one); without it an export stays queued and the
    journey stops polling after a while, which is not a failure of the API."""

    fixed_count = 1
    wait_time = between(10.0, 30.0)
    poll_seconds = 1.0
    polls = 20

    def on_start(self) -> None:
        super().on_start()
        self.log_in("admin")

    @task
    def export_the_last_week(self) -> None:
        today = datetime.now(UTC).date()
        export = self.call(
            "POST",
            "/api/v1/order-exports",
            json={"first_day": str(today - timedelta(days=7)), "last_day": str(today)},
            expect=frozenset({202, 409}),  # 409: three unfinished exports per person at most
            name="POST /api/v1/order-exports",
        )
        if not export or "id" not in export:
            return
        for _ in range(self.polls):
            time.sleep(self.poll_seconds)  # gevent-patched: yields to the other users
            state = self.call(
                "GET",
                f"/api/v1/order-exports/{export['id']}",
                name="GET /api/v1/order-exports/{id}",
            )
            if state and state["download_url"]:
                self.call(
                    "GET",
                    f"/api/v1/order-exports/{export['id']}/download",
                    name="GET /api/v1/order-exports/{id}/download",
                )
                return
            if state and state["status"] in {"failed", "cancelled"}:
                return
