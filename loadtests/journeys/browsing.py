"""Anonymous visitors: the bulk of the traffic, and what the cache is for."""

from __future__ import annotations

import random

from locust import between, task

from loadtests.journeys.common import Catalog, ShopUser

_SORTS = ("name", "-name", "price", "-price", "newest")
_TERMS = ("mug", "lamp", "oak", "travel", "linen", "kettle", "slate")


class AnonymousBrowser(ShopUser):
    weight = 60
    wait_time = between(0.5, 2.0)

    @task(6)
    def first_page(self) -> None:
        self.call("GET", "/api/v1/products", name="GET /api/v1/products")

    @task(3)
    def sorted_and_filtered(self) -> None:
        params = {"sort": random.choice(_SORTS), "in_stock": "true", "limit": 20}  # noqa: S311 - load mix, not security  # nosec B311
        page = self.call(
            "GET", "/api/v1/products", params=params, name="GET /api/v1/products?sort&in_stock"
        )
        if page and page["next_cursor"] and random.random() < 0.3:  # noqa: S311 - load mix, not security  # nosec B311
            params["cursor"] = page["next_cursor"]
            self.call("GET", "/api/v1/products", params=params, name="GET /api/v1/products?cursor")

    @task(3)
    def search(self) -> None:
        params = {"q": random.choice(_TERMS)}  # noqa: S311 - load mix, not security  # nosec B311
        self.call("GET", "/api/v1/products", params=params, name="GET /api/v1/products?q")

    @task(1)
    def price_range(self) -> None:
        low = random.randrange(3, 100)  # noqa: S311 - load mix, not security  # nosec B311
        params = {"min_price": low, "max_price": low + 50, "currency": "EUR"}
        self.call("GET", "/api/v1/products", params=params, name="GET /api/v1/products?price")

    @task(4)
    def product_by_id(self) -> None:
        product = Catalog.any()
        self.call("GET", f"/api/v1/products/{product['id']}", name="GET /api/v1/products/{id}")

    @task(2)
    def product_by_sku(self) -> None:
        sku = Catalog.any()["sku"]
        self.call("GET", f"/api/v1/products/by-sku/{sku}", name="GET /api/v1/products/by-sku/{sku}")
