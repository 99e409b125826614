from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from app.notifications.application.notify_customer import CustomerNotifier

HANDLER: Final = "notifications.order_confirmation"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendOrderConfirmationRequest:
    event_id: UUID
    order_id: UUID
    customer_id: UUID
    lines: list[dict[str, Any]]
    total_amount: str
    currency: str


class SendOrderConfirmation:
    """On OrderPlaced: the customer gets the order's lines, total and how to pay."""

    def __init__(self, notifier: CustomerNotifier) -> None:
        self._notifier = notifier

    async def __call__(self, request: SendOrderConfirmationRequest) -> bool:
        return await self._notifier.notify(
            handler=HANDLER,
            event_id=request.event_id,
            customer_id=request.customer_id,
            template="order_confirmation",
            context={
                "order_id": str(request.order_id),
                "lines": request.lines,
                "total_amount": request.total_amount,
                "currency": request.currency,
            },
        )
