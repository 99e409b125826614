"""A steady, deterministic load: an open loop that starts request number ``g`` at ``g / rate``
seconds, whatever the answers to earlier requests (a slow server gets more requests in flight,
not fewer requests), up to ``max_in_flight`` at once.

The mix repeats every ten requests: four product reads by id, two product listings, two orders
(one product, one unit, a fresh Idempotency-Key), the customer's own orders, and their profile.
Product ids and customers go round in turn. Every answer is recorded with its start and end.

A request whose kept-alive connection was closed or reset before any answer came back (the
server or the load balancer going away; a server closing an idle connection resets it when a
request has just reached it) is sent again once on another connection: what browsers and
proxies do, and safe here because orders carry an Idempotency-Key. Such retries are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import httpx

MIX: Final = (
    "product", "products", "order", "product", "my-orders",
    "product", "order", "products", "product", "me",
)  # fmt: skip
CATALOG: Final = frozenset({"product", "products"})
SHARD: Final = 32  # connections per client
REQUEST_TIMEOUT: Final = 15.0  # above every server-side bound (pool 5 s, statement 15 s)


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str
    started: float  # time.monotonic()
    ended: float
    status: int  # 0: no HTTP answer
    detail: str = ""  # the problem's code, or the transport error's class
    retry_after: bool = False
    order_id: str | None = None
    retried: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def label(self) -> str:
        return str(self.status) if self.status else self.detail


@dataclass
class Shop:
    """What the load needs: the API's address, customers' headers, products to order."""

    base: str
    customers: list[dict[str, str]]
    product_ids: list[str]


@dataclass
class Load:
    shop: Shop
    rate: float
    max_in_flight: int = 512
    outcomes: list[Outcome] = field(default_factory=list)
    # Keep sending until this moment too (time.monotonic()), when a fault outlasts ``seconds``.
    until: float = 0.0
    _run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    async def run(self, seconds: float) -> list[Outcome]:
        """Send ``rate`` requests a second for ``seconds`` (or until ``until``); returns once
        all are answered."""
        # httpx's pool gets slow with many connections (milliseconds of CPU per request at
        # 256): several clients of SHARD connections each keep the generator cheap.
        shards = max(1, -(-self.max_in_flight // SHARD))
        limits = httpx.Limits(max_connections=SHARD, max_keepalive_connections=SHARD)
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(
                        base_url=self.shop.base, timeout=REQUEST_TIMEOUT, limits=limits
                    )
                )
                for _ in range(shards)
            ]
            slots = [asyncio.Semaphore(SHARD) for _ in clients]
            started = time.monotonic()
            tasks: list[asyncio.Task[None]] = []
            for number in itertools.count():
                due = started + number / self.rate
                if due >= max(started + seconds, self.until):
                    break
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                shard = number % shards
                await slots[shard].acquire()
                tasks.append(asyncio.create_task(self._one(clients[shard], number, slots[shard])))
            await asyncio.gather(*tasks)
        return self.outcomes

    async def _one(self, client: httpx.AsyncClient, number: int, slots: asyncio.Semaphore) -> None:
        try:
            kind = MIX[number % len(MIX)]
            request = self._request(client, kind, number)
            started = time.monotonic()
            retried = False
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT * 3):  # httpx's are per operation
                    try:
                        response = await client.send(request)
                    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                        retried = True
                        response = await client.send(self._request(client, kind, number))
            except (httpx.TransportError, TimeoutError) as error:
                outcome = Outcome(kind, started, time.monotonic(), 0, type(error).__name__)
            else:
                outcome = _outcome(kind, started, response, retried=retried)
            self.outcomes.append(outcome)
        finally:
            slots.release()

    def _request(self, client: httpx.AsyncClient, kind: str, number: int) -> httpx.Request:
        shop = self.shop
        product = shop.product_ids[number % len(shop.product_ids)]
        customer = shop.customers[number % len(shop.customers)]
        if kind == "product":
            return client.build_request("GET", f"/api/v1/products/{product}")
        if kind == "products":
            params = {"limit": "20", "sort": "price", "in_stock": "true"}
            return client.build_request("GET", "/api/v1/products", params=params)
        if kind == "order":
            return client.build_request(
                "POST",
                "/api/v1/orders",
                json={"lines": [{"product_id": product, "quantity": 1}]},
                headers={**customer, "Idempotency-Key": f"faults-{self._run_id}-{number}"},
            )
        if kind == "my-orders":
            return client.build_request(
                "GET", "/api/v1/orders", params={"limit": "5"}, headers=customer
            )
        return client.build_request("GET", "/api/v1/users/me", headers=customer)


def _outcome(kind: str, started: float, response: httpx.Response, *, retried: bool) -> Outcome:
    detail, order_id = "", None
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        detail = str(response.json().get("code", ""))
    elif kind == "order" and response.status_code == 201:
        order_id = str(response.json()["id"])
    return Outcome(
        kind,
        started,
        time.monotonic(),
        response.status_code,
        detail,
        retry_after="retry-after" in response.headers,
        order_id=order_id,
        retried=retried,
    )


# --- Reading the outcomes -------------------------------------------------------------------


def statuses(outcomes: Iterable[Outcome]) -> Counter[str]:
    return Counter(outcome.label for outcome in outcomes)


def percentile(values: list[float], percent: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


def recovery_seconds(outcomes: list[Outcome], restored: float) -> float:
    """From the dependency's return to the sending of the last request that failed (0: none
    sent after it returned failed). Every request sent later succeeded."""
    failed = [outcome.started for outcome in outcomes if not outcome.ok]
    return max(0.0, max(failed, default=restored) - restored)


def succeeded_after(outcomes: list[Outcome], moment: float) -> int:
    return sum(1 for outcome in outcomes if outcome.started >= moment and outcome.ok)
