"""What every journey shares: the run's settings, each simulated user's own client address, a
log-in done once, and the catalog to pick from.

Settings are environment variables (Locust parses its own options after importing the
locustfile, too late for class attributes such as wait times):

- ``LOAD_PASSWORD``: the password of the seeded accounts (``seed-demo``'s, by default);
- ``LOAD_ACCOUNTS``: how many ``shopperNNNN`` accounts ``seed-demo --shoppers N`` created (20).
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import uuid
from typing import Any, Final

from locust import FastHttpUser
from locust.exception import StopUser

PASSWORD: Final = os.environ.get("LOAD_PASSWORD", "demo-password-2024")
ACCOUNTS: Final = int(os.environ.get("LOAD_ACCOUNTS", "20"))
APPROVED_CARD: Final = "4242424242424242"
DECLINED_CARD: Final = "4000000000000002"

_addresses = itertools.count(1)
_address_lock = threading.Lock()


def next_address() -> str:
    """A distinct client address per simulated user (10.0.0.1, 10.0.0.2, ...): the platform
    counts its per-address limits per real client, and this is how many real clients look.
    It believes X-Forwarded-For only from APP_HTTP_TRUSTED_PROXIES (127.0.0.1 by default, so a
    generator on the same machine is believed; elsewhere, list the generator's address)."""
    with _address_lock:
        number = next(_addresses)
    return f"10.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}"


def shopper(number: int) -> str:
    return f"shopper{number:04d}"


class Catalog:
    """Products read once per process from the API itself, as a browsing client would."""

    _lock = threading.Lock()
    products: list[dict[str, Any]] = []  # noqa: RUF012 - shared on purpose

    @classmethod
    def load(cls, user: ShopUser) -> None:
        with cls._lock:
            if cls.products:
                return
            response = user.client.get(
                "/api/v1/products",
                params={"limit": 100},
                headers=user.headers(),
                name="setup: catalog",
            )
            if response.status_code != 200:
                raise StopUser
            cls.products = list(response.json()["items"])

    @classmethod
    def any(cls) -> dict[str, Any]:
        return random.choice(cls.products)  # noqa: S311 - load, not security  # nosec B311

    @classmethod
    def in_stock(cls, count: int) -> list[dict[str, Any]]:
        stocked = [p for p in cls.products if p["in_stock"]] or cls.products
        return random.sample(stocked, min(count, len(stocked)))  # nosec B311  # load mix, not security


class ShopUser(FastHttpUser):
    """A client with an address of its own and, once logged in, a bearer token."""

    abstract = True
    token: str | None = None
    refresh_token: str | None = None

    def on_start(self) -> None:
        self.address = next_address()
        Catalog.load(self)

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"X-Forwarded-For": self.address, **extra}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def log_in(self, login: str, password: str = PASSWORD) -> None:
        """Once per simulated user: the hash is expensive by design, and real clients refresh."""
        with self.client.post(
            "/api/v1/auth/login",
            json={"login": login, "password": password},
            headers=self.headers(),
            name="POST /api/v1/auth/login",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"log-in as {login}: {response.status_code} {response.text}")
                raise StopUser
            tokens = response.json()
            self.token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    def _refresh(self) -> bool:
        """An access token lasts 15 minutes; a soak outlives it."""
        response = self.client.post(
            "/api/v1/auth/refresh",
            json={"refresh_token": self.refresh_token},
            headers=self.headers(),
            name="POST /api/v1/auth/refresh",
        )
        if response.status_code != 200:
            return False
        tokens = response.json()
        self.token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        return True

    def call(
        self,
        method: str,
        path: str,
        *,
        name: str,
        expect: frozenset[int] = frozenset({200}),
        headers: dict[str, str] | None = None,
        **kwargs: Any,  # noqa: ANN401 - passed through to Locust
    ) -> Any:  # noqa: ANN401 - the response's JSON, or None
        """One request under a stable group name; ``expect`` lists the statuses that are the
        platform doing its job (a 409 out of stock is an answer, not a failure)."""
        for attempt in range(2):
            with self.client.request(
                method,
                path,
                name=name,
                headers=self.headers(**(headers or {})),
                catch_response=True,
                **kwargs,
            ) as response:
                if response.status_code == 401 and attempt == 0 and self.token is not None:
                    response.success()  # counted once refreshed, below
                    if self._refresh():
                        continue
                if response.status_code in expect:
                    response.success()
                    content_type = response.headers.get("content-type", "")
                    return response.json() if "json" in content_type else None
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return None
        return None

    @staticmethod
    def idempotency_key() -> dict[str, str]:
        return {"Idempotency-Key": str(uuid.uuid4())}
