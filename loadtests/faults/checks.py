"""What must hold after a fault, read from PostgreSQL itself (not through the fault proxy), the
broker and the SMTP server: no order half-written, every event delivered once."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg
import redis
from kombu.connection import Connection

from loadtests.faults.platform import STOCK, Platform

SETTLE_WITHIN = 180.0
# Unacknowledged messages that stayed so, with nothing else left to deliver, for this long are
# taken to be waiting for the visibility timeout (a task's own work takes milliseconds here).
_STUCK = 3.0


async def order_ids(platform: Platform) -> set[str]:
    connection = await asyncpg.connect(platform.direct_dsn, timeout=10)
    try:
        return {str(row["id"]) for row in await connection.fetch("SELECT id FROM orders")}
    finally:
        await connection.close()


@dataclass(frozen=True)
class Consistency:
    orders: int
    without_lines: int
    placed_events_missing: int  # orders without exactly one OrderPlaced row in the outbox
    placed_events_extra: int
    stock_mismatch: int  # products whose stock does not match the orders' lines
    unpublished: int
    idle_in_transaction: int
    connections: int

    @property
    def ok(self) -> bool:
        return not (
            self.without_lines
            or self.placed_events_missing
            or self.placed_events_extra
            or self.stock_mismatch
            or self.unpublished
            or self.idle_in_transaction
        )


async def consistency(platform: Platform, orders: set[str]) -> Consistency:
    ids = list(orders)
    connection = await asyncpg.connect(platform.direct_dsn, timeout=10)
    try:
        without_lines = await connection.fetchval(
            "SELECT count(*) FROM orders o WHERE o.id = ANY($1::uuid[]) AND NOT EXISTS "
            "(SELECT 1 FROM order_lines l WHERE l.order_id = o.id)",
            ids,
        )
        placed = await connection.fetch(
            "SELECT o.id, count(e.id) AS events FROM orders o LEFT JOIN outbox_events e "
            "ON e.aggregate_id = o.id AND e.event_type = 'OrderPlaced' "
            "WHERE o.id = ANY($1::uuid[]) GROUP BY o.id",
            ids,
        )
        # Every unit a product lost since the stock was set went to a line of an order placed
        # since (the load never cancels, and nothing expires within a run).
        stock_mismatch = await connection.fetchval(
            "SELECT count(*) FROM products p WHERE $1 - p.stock_on_hand <> COALESCE(("
            " SELECT sum(l.quantity) FROM order_lines l JOIN orders o ON o.id = l.order_id"
            " WHERE l.product_id = p.id AND NOT o.id = ANY($2::uuid[])"
            " AND o.status NOT IN ('cancelled', 'expired')), 0)",
            STOCK,
            list(platform.seeded_orders),
        )
        unpublished = await connection.fetchval(
            "SELECT count(*) FROM outbox_events WHERE published_at IS NULL"
        )
        states = await connection.fetch(
            "SELECT state, count(*) AS n FROM pg_stat_activity "
            "WHERE application_name = 'fastapi-platform' GROUP BY state"
        )
    finally:
        await connection.close()
    by_state = {row["state"]: int(row["n"]) for row in states}
    return Consistency(
        orders=len(ids),
        without_lines=int(without_lines),
        placed_events_missing=sum(1 for row in placed if row["events"] == 0),
        placed_events_extra=sum(int(row["events"]) - 1 for row in placed if row["events"] > 1),
        stock_mismatch=int(stock_mismatch),
        unpublished=int(unpublished),
        idle_in_transaction=by_state.get("idle in transaction", 0),
        connections=sum(by_state.values()),
    )


def broker_backlog(platform: Platform) -> tuple[int, int]:
    """Messages waiting in the broker's queues, and those delivered and not yet acknowledged."""
    client = redis.Redis(port=platform.broker.port, socket_timeout=2, socket_connect_timeout=2)
    try:
        waiting = sum(
            int(client.llen(key)) for key in client.keys("*") if client.type(key) == b"list"
        )
        return waiting, int(client.hlen("unacked"))
    finally:
        client.close()


def restore_unacknowledged(broker_url: str) -> None:
    """What kombu does to a delivered, unacknowledged message once it is older than the
    visibility timeout (``APP_CELERY_VISIBILITY_TIMEOUT``, 10 minutes), done now with kombu's own
    code: the message goes back to its queue and runs again (the inbox makes a rerun of a task
    that already ran send nothing)."""
    broker = Connection(broker_url, transport_options={"visibility_timeout": 0})  # type: ignore[no-untyped-call]
    with broker:
        broker.default_channel.qos.restore_visible(num=10_000, interval=1)


async def _unpublished(platform: Platform) -> int:
    connection = await asyncpg.connect(platform.direct_dsn, timeout=10)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM outbox_events WHERE published_at IS NULL"
            )
        )
    finally:
        await connection.close()


async def settle(platform: Platform, orders: set[str], *, within: float = SETTLE_WITHIN) -> int:
    """Wait until every order has its confirmation, or nothing is left anywhere to deliver
    (outbox published, broker empty, nothing unacknowledged) twice in a row. Bounded by
    ``within``.

    A message the worker had taken when the broker went away (running, or reserved to run next)
    may stay unacknowledged with nothing else left to move: its acknowledgement was lost with
    the connection, and kombu gives it back to a worker only after the visibility timeout. Once
    that has lasted ``_STUCK`` seconds, the timeout is fast-forwarded (``restore_unacknowledged``)
    rather than waited for; returns how many times."""
    started = time.monotonic()
    quiet = restored = 0
    stuck: tuple[float, int] | None = None  # since when, and how many were unacknowledged
    while time.monotonic() - started < within:
        delivered = all(platform.deliveries.confirmations(order) for order in orders)
        unpublished = await _unpublished(platform)
        waiting, unacknowledged = broker_backlog(platform)
        idle = unpublished == 0 and waiting == 0 and unacknowledged == 0
        quiet = quiet + 1 if idle else 0
        if (delivered and idle) or quiet >= 3:
            break
        if unpublished or waiting or not unacknowledged:
            stuck = None
        elif stuck is None or stuck[1] != unacknowledged:
            stuck = (time.monotonic(), unacknowledged)
        elif time.monotonic() - stuck[0] >= _STUCK:
            restore_unacknowledged(platform.broker.url)
            restored += 1
            stuck = None
        await asyncio.sleep(0.5)
    return restored


@dataclass(frozen=True)
class Deliveries:
    expected: int
    delivered_once: int
    lost: int
    doubled: int
    doubled_other_message_id: int  # a second, different message: never allowed


def deliveries(platform: Platform, orders: set[str]) -> Deliveries:
    counts = [platform.deliveries.confirmations(order) for order in orders]
    return Deliveries(
        expected=len(counts),
        delivered_once=sum(1 for count in counts if count == 1),
        lost=sum(1 for count in counts if count == 0),
        doubled=sum(count - 1 for count in counts if count > 1),
        doubled_other_message_id=sum(
            platform.deliveries.message_ids(order) - 1
            for order in orders
            if platform.deliveries.message_ids(order) > 1
        ),
    )
