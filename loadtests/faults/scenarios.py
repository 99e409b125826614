"""The five faults, each under the same steady load, and what must hold afterwards.

Timeline of a run of ``seconds``: the load starts; after a quarter of the time the fault
begins; it lasts ``outage`` seconds (a quarter of the run, at least 2 s) or, for the rolling
update, as long as the replacement takes; the load goes on to the end. Then the run waits,
bounded, until every event is delivered or nothing is left in flight, and checks the database.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import httpx

from loadtests.faults.checks import (
    SETTLE_WITHIN,
    Consistency,
    Deliveries,
    consistency,
    deliveries,
    order_ids,
    settle,
)
from loadtests.faults.load import (
    CATALOG,
    Load,
    Outcome,
    percentile,
    recovery_seconds,
    statuses,
    succeeded_after,
)
from loadtests.faults.platform import PASSWORD, Platform

SLOW_MS: Final = 200
FAULT_WITHIN: Final = 180.0  # the longest a fault may take to apply and undo (a bound)


@dataclass
class Fault:
    began: float = 0.0
    ended: float = 0.0  # the dependency is back (or the replacement is done)
    notes: list[str] = field(default_factory=list)
    probes: dict[str, int] = field(default_factory=dict)  # what a request got during the fault
    placed: set[str] = field(default_factory=set)  # orders the probes placed


def shed_or_served(outcome: Outcome, _fault: Fault) -> bool:
    """During an outage: an answer, or a 503 that says when to come back."""
    return outcome.ok or (outcome.status == 503 and outcome.retry_after)


def catalog_served(outcome: Outcome, fault: Fault) -> bool:
    """Redis down: catalog reads still answer; anything needing a session may be shed."""
    return outcome.ok if outcome.kind in CATALOG else shed_or_served(outcome, fault)


def served(outcome: Outcome, _fault: Fault) -> bool:
    return outcome.ok


def served_outside_the_drain(outcome: Outcome, fault: Fault) -> bool:
    """A rolling update: every request sent outside the replacement succeeds; those sent
    during it are counted and shown."""
    return outcome.ok or fault.began <= outcome.started <= fault.ended


# --- The faults ---------------------------------------------------------------------------


async def postgres_restart(platform: Platform, outage: float, fault: Fault) -> None:
    fault.began = time.monotonic()
    await asyncio.to_thread(platform.postgres.stop_server)
    await asyncio.sleep(max(0.0, fault.began + outage - time.monotonic()))
    await asyncio.to_thread(platform.postgres.start_server)
    fault.ended = time.monotonic()
    fault.notes.append(
        f"PostgreSQL down {fault.ended - fault.began:.1f} s (pg_ctl stop -m fast, start)"
    )


async def redis_stop(platform: Platform, outage: float, fault: Fault) -> None:
    fault.began = time.monotonic()
    await asyncio.to_thread(platform.redis.stop)
    key = f"faults-probe-{uuid.uuid4().hex[:8]}"
    fault.probes = await _probe_without_redis(platform, key)
    await asyncio.sleep(max(0.0, fault.began + outage - time.monotonic()))
    await asyncio.to_thread(platform.redis.start)
    fault.ended = time.monotonic()
    fault.probes |= await _probe_idempotency_after(platform, key, fault)
    fault.notes.append(
        f"Redis down {fault.ended - fault.began:.1f} s (stopped, started on its port)"
    )


async def _probe_without_redis(platform: Platform, key: str) -> dict[str, int]:
    shop = platform.shop
    customer = shop.customers[0]
    order = {"lines": [{"product_id": shop.product_ids[0], "quantity": 1}]}
    name = f"probe{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=shop.base, timeout=10) as client:
        return {
            "catalog list": (await client.get("/api/v1/products", params={"q": "mug"})).status_code,
            "log-in": (
                await client.post(
                    "/api/v1/auth/login", json={"login": "shopper0001", "password": PASSWORD}
                )
            ).status_code,
            "authenticated request": (
                await client.get("/api/v1/users/me", headers=customer)
            ).status_code,
            "sign-up": (
                await client.post(
                    "/api/v1/users",
                    json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
                )
            ).status_code,
            "order": (
                await client.post(
                    "/api/v1/orders", json=order, headers={**customer, "Idempotency-Key": key}
                )
            ).status_code,
        }


async def _probe_idempotency_after(platform: Platform, key: str, fault: Fault) -> dict[str, int]:
    """The order refused during the outage, sent again with its key once Redis is back: placed
    once; the third send is a replay of the second."""
    shop = platform.shop
    order = {"lines": [{"product_id": shop.product_ids[0], "quantity": 1}]}
    headers = {**shop.customers[0], "Idempotency-Key": key}
    async with httpx.AsyncClient(base_url=shop.base, timeout=10) as client:
        deadline = time.monotonic() + 30
        while True:  # until this gunicorn worker's Redis connection is back
            first = await client.post("/api/v1/orders", json=order, headers=headers)
            if first.status_code != 503 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        again = await client.post("/api/v1/orders", json=order, headers=headers)
    if first.status_code == 201:
        fault.placed.add(str(first.json()["id"]))
    same = again.status_code == first.status_code and again.json().get("id") == first.json().get(
        "id"
    )
    replayed = again.headers.get("Idempotent-Replayed") == "true"
    return {
        "order again after": first.status_code,
        "same key replayed": int(same and replayed),
    }


async def broker_stop(platform: Platform, outage: float, fault: Fault) -> None:
    fault.began = time.monotonic()
    await asyncio.to_thread(platform.broker.stop)
    await asyncio.sleep(max(0.0, fault.began + outage - time.monotonic()))
    await asyncio.to_thread(platform.broker.start)
    fault.ended = time.monotonic()
    fault.notes.append(
        f"broker down {fault.ended - fault.began:.1f} s (stopped, started on its port)"
    )


async def postgres_slow(platform: Platform, outage: float, fault: Fault) -> None:
    fault.began = time.monotonic()
    platform.database.delay(SLOW_MS)
    await asyncio.sleep(outage)
    platform.database.pass_through()
    fault.ended = time.monotonic()
    fault.notes.append(
        f"PostgreSQL {SLOW_MS} ms slower per round trip for {fault.ended - fault.began:.1f} s"
    )


async def rolling_update(platform: Platform, _outage: float, fault: Fault) -> None:
    fault.began = time.monotonic()
    told, drained = await asyncio.to_thread(platform.replace_api)
    code = await asyncio.to_thread(platform.replace_worker)
    fault.ended = time.monotonic()
    fault.probes["old worker exit code"] = -1 if code is None else code
    fault.notes.append(
        f"api: new instance ready, old one SIGTERMed and drained in {drained - told:.1f} s; "
        f"worker: new one ready, old one SIGTERMed, exit {code}"
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    fault: Callable[[Platform, float, Fault], Awaitable[None]]
    allowed: Callable[[Outcome, Fault], bool]
    allowed_text: str
    # The documented at-least-once window (docs/11-async-tasks.md, the inbox): the mail server
    # accepted a confirmation, then the database went away before the inbox row committed, so
    # the retry sends it again, with the same Message-ID. Only a database fault opens it.
    resends_allowed: bool = False


SCENARIOS: Final = {
    scenario.name: scenario
    for scenario in (
        Scenario("postgres-restart", "PostgreSQL restarts", postgres_restart, shed_or_served,
                 "2xx, or 503 with Retry-After", resends_allowed=True),
        Scenario("redis-stop", "Redis stops (sessions, cache, rate limits)", redis_stop,
                 catalog_served, "catalog 2xx; the rest 2xx or 503 with Retry-After"),
        Scenario("broker-stop", "the broker stops", broker_stop, served, "2xx"),
        Scenario("postgres-slow", f"PostgreSQL +{SLOW_MS} ms per round trip", postgres_slow,
                 shed_or_served, "2xx, or 503 with Retry-After", resends_allowed=True),
        Scenario("rolling-update", "SIGTERM to api and worker (rolling update)", rolling_update,
                 served_outside_the_drain, "2xx outside the replacement window"),
    )
}  # fmt: skip


# --- A run and its figures ----------------------------------------------------------------


@dataclass
class Report:
    scenario: Scenario
    rate: float
    seconds: float
    outcomes: list[Outcome]
    fault: Fault
    consistency: Consistency
    deliveries: Deliveries
    acknowledged: set[str]
    settled_in: float
    restored: int  # times the visibility timeout was fast-forwarded (checks.settle)

    @property
    def unexpected(self) -> list[Outcome]:
        return [o for o in self.outcomes if not self.scenario.allowed(o, self.fault)]

    @property
    def recovery(self) -> float:
        return recovery_seconds(self.outcomes, self.fault.ended)

    @property
    def recovered(self) -> bool:
        """Requests sent after the last failed one all succeeded, and there were some."""
        return succeeded_after(self.outcomes, self.fault.ended + self.recovery) > 0

    @property
    def server_errors(self) -> int:
        return sum(
            1 for outcome in self.outcomes if outcome.status >= 500 and outcome.status != 503
        )

    def problems(self) -> list[str]:
        found = []
        if self.unexpected:
            found.append(f"{len(self.unexpected)} answers outside {self.scenario.allowed_text}")
        if not self.consistency.ok:
            found.append(f"database inconsistent: {self.consistency}")
        d = self.deliveries
        resent = d.doubled - d.doubled_other_message_id if self.scenario.resends_allowed else 0
        if d.lost or d.doubled - resent:
            found.append(f"events lost {d.lost}, doubled {d.doubled}")
        if not self.recovered:
            found.append("no successful request after the fault")
        return found

    def lines(self) -> list[str]:
        outcomes, fault = self.outcomes, self.fault
        counts = ", ".join(f"{label} {n:,}" for label, n in sorted(statuses(outcomes).items()))
        during = [o for o in outcomes if fault.began <= o.started <= fault.ended]
        latency = [o.ended - o.started for o in during] or [0.0]
        shed = [o for o in outcomes if o.status == 503]
        c, d = self.consistency, self.deliveries
        lines = [
            f"[faults] {self.scenario.name}: {self.scenario.title}",
            (
                f"  load: {len(outcomes):,} requests in {self.seconds:.0f} s at "
                f"{self.rate:.0f}/s; by status: {counts}"
            ),
            (
                f"  errors: 5xx other than 503: {self.server_errors}; 503: {len(shed):,} "
                f"({sum(o.retry_after for o in shed):,} with Retry-After); outside the rule "
                f"({self.scenario.allowed_text}): {len(self.unexpected)}; re-sent after a "
                f"closed connection: {sum(o.retried for o in outcomes)}"
            ),
            *(f"  fault: {note}" for note in fault.notes),
            (
                f"  during the fault: {len(during):,} requests, latency p50 "
                f"{percentile(latency, 50):.2f} s, p99 {percentile(latency, 99):.2f} s, max "
                f"{max(latency):.2f} s; failed {sum(1 for o in during if not o.ok)}; the last "
                f"failed request was sent {self.recovery:.2f} s after the fault ended"
            ),
            (
                f"  orders: {len(self.acknowledged):,} answered 201, {c.orders:,} in the "
                f"database ({c.orders - len(self.acknowledged)} committed without a 201); "
                f"without lines {c.without_lines}; OrderPlaced rows missing "
                f"{c.placed_events_missing}, extra {c.placed_events_extra}; stock mismatches "
                f"{c.stock_mismatch}"
            ),
            (
                f"  events: {d.expected:,} confirmations expected, {d.delivered_once:,} "
                f"delivered once, lost {d.lost}, doubled {d.doubled} ("
                f"{d.doubled - d.doubled_other_message_id} resent with the same Message-ID; "
                f"settled {self.settled_in:.1f} s after the load; outbox unpublished "
                f"{c.unpublished}; visibility timeout fast-forwarded {self.restored} times)"
            ),
            (
                f"  pool: {c.connections} server connections afterwards, idle in transaction "
                f"{c.idle_in_transaction}"
            ),
        ]
        lines += [f"  during the fault, {name}: {status}" for name, status in fault.probes.items()]
        lines += [
            f"  outside the rule: {o.kind} {o.label} {o.detail}, sent "
            f"{o.started - fault.began:+.2f} s from the fault's start, "
            f"after {o.ended - o.started:.2f} s"
            for o in sorted(self.unexpected, key=lambda o: o.started)[:10]
        ]
        problems = self.problems()
        lines.append("  verdict: " + ("OK" if not problems else "FAILED: " + "; ".join(problems)))
        return lines


async def run(
    platform: Platform,
    name: str,
    *,
    seconds: float,
    rate: float,
    settle_within: float = SETTLE_WITHIN,
) -> Report:
    scenario = SCENARIOS[name]
    fault = Fault()
    if await asyncio.to_thread(platform.revive_worker):  # an earlier fault killed it
        fault.notes.append("the worker had died: restarted before this scenario")
    before = await order_ids(platform)
    load = Load(platform.shop, rate, until=math.inf)  # until the fault is over (below)
    loading = asyncio.create_task(load.run(seconds))
    await asyncio.sleep(seconds / 4)  # the timeline: steady load before the fault
    async with asyncio.timeout(FAULT_WITHIN):
        await scenario.fault(platform, max(2.0, seconds / 4), fault)
    load.until = fault.ended + seconds / 4  # steady load after the fault, however long it took
    outcomes = await loading
    ended = time.monotonic()
    placed = await order_ids(platform) - before
    acknowledged = {o.order_id for o in outcomes if o.order_id is not None} | fault.placed
    missing = acknowledged - placed
    if missing:  # a 201 for an order that is not there: the worst half-write of all
        raise AssertionError(f"{len(missing)} orders answered 201 are not in the database")
    restored = await settle(platform, placed, within=settle_within)
    return Report(
        scenario,
        rate,
        max(o.ended for o in outcomes) - min(o.started for o in outcomes),
        outcomes,
        fault,
        await consistency(platform, placed),
        deliveries(platform, placed),
        acknowledged,
        time.monotonic() - ended,
        restored,
    )
