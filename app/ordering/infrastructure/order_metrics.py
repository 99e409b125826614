"""Business metrics of ordering: order lifecycle events and money, counted as they are committed.

The unit of work hands every successful commit's events to ``OrderEventMetrics`` (a committed
event observer), so each event is counted once, by the process that committed it: the API for
what customers and staff do, the worker for expiries. A rolled-back transaction counts nothing,
a retried command counts only the commit that succeeded, and a replayed Idempotency-Key commits
nothing. Sum over every process: ``sum by (event) (rate(order_events_total[5m]))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from prometheus_client import Counter

from app.ordering.domain.events import (
    OrderCancelled,
    OrderDelivered,
    OrderExpired,
    OrderPaid,
    OrderPlaced,
    OrderShipped,
)
from app.shared.domain.events import DomainEvent

ORDER_EVENTS = Counter(
    "order_events_total", "Order lifecycle events committed, by event.", ["event"]
)
PAID_AMOUNT = Counter(
    "order_paid_amount_total",
    "Money taken by order payments, in the currency's units (12.50 EUR adds 12.5).",
    ["currency"],
)
REFUNDED_AMOUNT = Counter(
    "order_refunded_amount_total",
    "Money owed back by cancelled paid orders, in the currency's units.",
    ["currency"],
)

_EVENTS: Final = {
    OrderPlaced: "placed",
    OrderPaid: "paid",
    OrderCancelled: "cancelled",
    OrderExpired: "expired",
    OrderShipped: "shipped",
    OrderDelivered: "delivered",
}


class OrderEventMetrics:
    """Counts the order events of a commit; made once per process, every event's series from 0."""

    def __init__(self) -> None:
        self._events = {kind: ORDER_EVENTS.labels(name) for kind, name in _EVENTS.items()}

    def __call__(self, events: Sequence[DomainEvent]) -> None:
        for event in events:
            counter = self._events.get(type(event))
            if counter is None:
                continue
            counter.inc()
            if isinstance(event, OrderPaid):
                PAID_AMOUNT.labels(event.currency).inc(float(Decimal(event.amount)))
            elif isinstance(event, OrderCancelled) and event.refund_due and event.refund_amount:
                REFUNDED_AMOUNT.labels(event.currency).inc(float(Decimal(event.refund_amount)))
