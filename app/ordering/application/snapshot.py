"""The order as commands return it: JSON-native values only, because an idempotent command's
response is stored (JSON) and replayed byte for byte."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from app.ordering.domain.order import Order


class OrderLineSnapshot(TypedDict):
    line_no: int
    product_id: str
    sku: str
    name: str
    unit_price: str
    quantity: int
    line_total: str


class OrderSnapshot(TypedDict):
    id: str
    customer_id: str
    status: str
    total_amount: str
    currency: str
    lines: list[OrderLineSnapshot]
    created_at: str
    updated_at: str
    paid_at: str | None
    payment_reference: str | None
    shipped_at: str | None
    delivered_at: str | None
    cancelled_at: str | None
    cancellation_reason: str | None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def snapshot(order: Order) -> OrderSnapshot:
    return OrderSnapshot(
        id=str(order.id_),
        customer_id=str(order.customer_id),
        status=order.status.value,
        total_amount=str(order.total.amount),
        currency=order.total.currency,
        lines=[
            OrderLineSnapshot(
                line_no=line.line_no,
                product_id=str(line.product_id),
                sku=line.sku,
                name=line.name,
                unit_price=str(line.unit_price.amount),
                quantity=line.quantity,
                line_total=str(line.total.amount),
            )
            for line in sorted(order.lines, key=lambda line: line.line_no)
        ],
        created_at=order.created_at.isoformat(),
        updated_at=order.updated_at.isoformat(),
        paid_at=_iso(order.paid_at),
        payment_reference=order.payment_reference,
        shipped_at=_iso(order.shipped_at),
        delivered_at=_iso(order.delivered_at),
        cancelled_at=_iso(order.cancelled_at),
        cancellation_reason=order.cancellation_reason,
    )
