"""The Order aggregate: lines captured at order time, a total, and a table-driven lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from app.ordering.domain.errors import (
    DuplicateOrderLineError,
    InvalidCancellationReasonError,
    InvalidOrderLineError,
    InvalidPaymentReferenceError,
    OrderNotOverdueError,
)
from app.ordering.domain.events import (
    OrderCancelled,
    OrderDelivered,
    OrderExpired,
    OrderPaid,
    OrderPlaced,
    OrderShipped,
    PlacedLine,
)
from app.ordering.domain.state_machine import OrderAction, can_transition, next_status
from app.ordering.domain.value_objects import (
    OrderId,
    OrderStatus,
    ensure_line_count,
    ensure_quantity,
)
from app.shared.domain.events import AggregateRoot
from app.shared.domain.money import Money

MAX_REASON_LENGTH: Final = 500
MAX_REFERENCE_LENGTH: Final = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class PricedItem:
    """A product as it was when its stock was reserved: the order keeps these facts."""

    product_id: UUID
    sku: str
    name: str
    unit_price: Money
    quantity: int


@dataclass(eq=False, kw_only=True)
class OrderLine:
    """One product of an order, numbered from 1; its price never follows the catalog later."""

    line_no: int
    product_id: UUID
    sku: str
    name: str
    unit_price: Money
    quantity: int

    def __post_init__(self) -> None:
        ensure_quantity(self.quantity, product_id=self.product_id)
        if self.unit_price.amount < 0:
            raise InvalidOrderLineError(
                "A unit price cannot be negative.", product_id=str(self.product_id)
            )
        if not self.sku or not self.name:
            raise InvalidOrderLineError(
                "A line names its product (sku and name).", product_id=str(self.product_id)
            )

    @property
    def total(self) -> Money:
        return self.unit_price.times(self.quantity)


@dataclass(eq=False, kw_only=True)
class Order(AggregateRoot):
    id_: OrderId
    customer_id: UUID
    lines: list[OrderLine]
    total: Money
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None = None
    payment_reference: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = None
    # Optimistic locking: the mapper sets and bumps it (version_id_col); 0 means "never stored".
    version: int = 0

    @classmethod
    def place(
        cls,
        *,
        order_id: OrderId,
        customer_id: UUID,
        items: Sequence[PricedItem],
        at: datetime,
    ) -> Order:
        """A new order awaiting payment. Lines keep the given order; all share one currency."""
        ensure_line_count(len(items))
        if len({item.product_id for item in items}) != len(items):
            raise DuplicateOrderLineError("An order has one line per product.")
        lines = [
            OrderLine(
                line_no=number,
                product_id=item.product_id,
                sku=item.sku,
                name=item.name,
                unit_price=item.unit_price,
                quantity=item.quantity,
            )
            for number, item in enumerate(items, start=1)
        ]
        total = Money.zero(lines[0].unit_price.currency)
        for line in lines:
            total += line.total  # raises CurrencyMismatchError for a second currency
        order = cls(
            id_=order_id,
            customer_id=customer_id,
            lines=lines,
            total=total,
            status=OrderStatus.PENDING_PAYMENT,
            created_at=at,
            updated_at=at,
        )
        order.record(
            OrderPlaced(
                aggregate_id=order_id,
                occurred_at=at,
                customer_id=customer_id,
                lines=tuple(
                    PlacedLine(
                        product_id=str(line.product_id),
                        sku=line.sku,
                        quantity=line.quantity,
                        unit_price=str(line.unit_price.amount),
                    )
                    for line in lines
                ),
                total_amount=str(total.amount),
                currency=total.currency,
            )
        )
        return order

    def can(self, action: OrderAction) -> bool:
        return can_transition(self.status, action)

    def ensure_can(self, action: OrderAction) -> None:
        """Raise InvalidOrderTransitionError now, before any side effect (e.g. a charge)."""
        next_status(self.status, action)

    def is_overdue(self, *, at: datetime, payment_window: timedelta) -> bool:
        return self.status is OrderStatus.PENDING_PAYMENT and at >= self.created_at + payment_window

    def pay(self, payment_reference: str, *, at: datetime) -> None:
        reference = payment_reference.strip()
        if not 0 < len(reference) <= MAX_REFERENCE_LENGTH:
            raise InvalidPaymentReferenceError(
                f"A payment reference has 1 to {MAX_REFERENCE_LENGTH} characters."
            )
        self._move(OrderAction.PAY, at)
        self.paid_at = at
        self.payment_reference = reference
        self.record(
            OrderPaid(
                aggregate_id=self.id_,
                occurred_at=at,
                customer_id=self.customer_id,
                payment_reference=reference,
                amount=str(self.total.amount),
                currency=self.total.currency,
            )
        )

    def cancel(self, reason: str | None, *, at: datetime) -> None:
        """Pending orders are simply dropped; a paid one is refunded by whoever handles the
        event (refund_due). Either way the caller gives the stock back."""
        reason = (reason or "").strip() or None
        if reason is not None and len(reason) > MAX_REASON_LENGTH:
            raise InvalidCancellationReasonError(
                f"A cancellation reason has at most {MAX_REASON_LENGTH} characters."
            )
        previous = self._move(OrderAction.CANCEL, at)
        refund_due = previous is OrderStatus.PAID
        self.cancelled_at = at
        self.cancellation_reason = reason
        self.record(
            OrderCancelled(
                aggregate_id=self.id_,
                occurred_at=at,
                customer_id=self.customer_id,
                reason=reason,
                previous_status=previous.value,
                refund_due=refund_due,
                refund_amount=str(self.total.amount) if refund_due else None,
                currency=self.total.currency,
            )
        )

    def expire(self, *, at: datetime, payment_window: timedelta) -> None:
        """The system ends a pending order whose payment window has passed."""
        self.ensure_can(OrderAction.EXPIRE)
        if not self.is_overdue(at=at, payment_window=payment_window):
            raise OrderNotOverdueError(
                "This order is still within its payment window.",
                expires_at=(self.created_at + payment_window).isoformat(),
            )
        self._move(OrderAction.EXPIRE, at)
        self.record(
            OrderExpired(aggregate_id=self.id_, occurred_at=at, customer_id=self.customer_id)
        )

    def ship(self, *, at: datetime) -> None:
        self._move(OrderAction.SHIP, at)
        self.shipped_at = at
        self.record(
            OrderShipped(aggregate_id=self.id_, occurred_at=at, customer_id=self.customer_id)
        )

    def deliver(self, *, at: datetime) -> None:
        self._move(OrderAction.DELIVER, at)
        self.delivered_at = at
        self.record(
            OrderDelivered(aggregate_id=self.id_, occurred_at=at, customer_id=self.customer_id)
        )

    def _move(self, action: OrderAction, at: datetime) -> OrderStatus:
        previous = self.status
        self.status = next_status(previous, action)
        self.updated_at = at
        return previous

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Order) and other.id_ == self.id_

    def __hash__(self) -> int:
        return hash(self.id_)
