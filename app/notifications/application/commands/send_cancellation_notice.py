from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from uuid import UUID

from app.notifications.application.notify_customer import CustomerNotifier

HANDLER: Final = "notifications.cancellation_notice"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendCancellationNoticeRequest:
    event_id: UUID
    order_id: UUID
    customer_id: UUID
    expired: bool  # OrderExpired (unpaid in time) rather than OrderCancelled
    reason: str | None = None
    refund_amount: str | None = None
    currency: str | None = None


class SendCancellationNotice:
    """On OrderCancelled or OrderExpired: why the order ended, and any refund due."""

    def __init__(self, notifier: CustomerNotifier) -> None:
        self._notifier = notifier

    async def __call__(self, request: SendCancellationNoticeRequest) -> bool:
        return await self._notifier.notify(
            handler=HANDLER,
            event_id=request.event_id,
            customer_id=request.customer_id,
            template="cancellation_notice",
            context={
                "order_id": str(request.order_id),
                "expired": request.expired,
                "reason": request.reason,
                "refund_amount": request.refund_amount,
                "currency": request.currency,
            },
        )
