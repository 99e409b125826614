"""Events of the order lifecycle. Payloads hold JSON-friendly values only (the outbox stores them).

Amounts travel as strings ("12.50") with their currency: never floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypedDict
from uuid import UUID

from app.shared.domain.events import DomainEvent


class PlacedLine(TypedDict):
    product_id: str
    sku: str
    quantity: int
    unit_price: str


@dataclass(frozen=True, kw_only=True)
class OrderEvent(DomainEvent):
    aggregate_type: ClassVar[str] = "order"

    customer_id: UUID


@dataclass(frozen=True, kw_only=True)
class OrderPlaced(OrderEvent):
    lines: tuple[PlacedLine, ...]
    total_amount: str
    currency: str


@dataclass(frozen=True, kw_only=True)
class OrderPaid(OrderEvent):
    payment_reference: str
    amount: str
    currency: str


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(OrderEvent):
    reason: str | None
    previous_status: str
    # A paid order was charged: whoever handles this event refunds ``refund_amount``.
    refund_due: bool
    refund_amount: str | None
    currency: str


@dataclass(frozen=True, kw_only=True)
class OrderExpired(OrderEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class OrderShipped(OrderEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class OrderDelivered(OrderEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class OrderExportRequested(DomainEvent):
    """Staff asked for a CSV of the orders placed on first_day..last_day (ISO dates, UTC)."""

    aggregate_type: ClassVar[str] = "order_export"

    requested_by: UUID
    first_day: str
    last_day: str


@dataclass(frozen=True, kw_only=True)
class OrderExportContinued(DomainEvent):
    """A worker used up its slice of an export: the next task carries on from the committed
    position. An event, so the hand-over is as durable as the export itself (outbox)."""

    aggregate_type: ClassVar[str] = "order_export"

    rows_written: int
