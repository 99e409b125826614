from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, TypedDict
from uuid import UUID

from app.ordering.domain.value_objects import OrderId, OrderStatus
from app.shared.application.pagination import Page


class OrderLineView(TypedDict):
    line_no: int
    product_id: str
    sku: str
    name: str
    unit_price: str
    quantity: int
    line_total: str


class OrderView(TypedDict):
    """Read model of one order with its lines. Amounts are decimal strings in the currency's
    scale ("12.50", JPY "1500")."""

    id: str
    customer_id: str
    status: str
    total_amount: str
    currency: str
    lines: list[OrderLineView]
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    payment_reference: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    cancellation_reason: str | None


class OrderSummaryView(TypedDict):
    id: str
    customer_id: str
    status: str
    total_amount: str
    currency: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilter:
    customer_id: UUID | None = None
    status: OrderStatus | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive


class SalesRow(TypedDict):
    day: date  # the UTC calendar day the orders were placed
    status: str
    currency: str
    order_count: int
    revenue: str  # sum of the orders' totals, in the currency's scale


class OrderReader(Protocol):
    """Query-side gateway: projections straight from storage, never entities."""

    async def get(self, order_id: OrderId) -> OrderView | None: ...

    async def search(
        self, *, filter_: OrderFilter, limit: int, cursor: str | None
    ) -> Page[OrderSummaryView]:
        """Newest first, keyset pagination by (created_at, id); raises InvalidCursorError for a
        cursor this reader did not issue."""
        ...

    async def overdue(self, *, placed_before: datetime, limit: int) -> list[OrderId]:
        """Ids of orders still awaiting payment that were placed before the given instant."""
        ...

    async def sales(self, *, first_day: date, last_day: date) -> list[SalesRow]:
        """Orders placed on UTC days first_day..last_day (inclusive), grouped by day, status and
        currency; ordered by day, status, currency."""
        ...
