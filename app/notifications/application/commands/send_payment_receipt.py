from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from uuid import UUID

from app.notifications.application.notify_customer import CustomerNotifier

HANDLER: Final = "notifications.payment_receipt"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendPaymentReceiptRequest:
    event_id: UUID
    order_id: UUID
    customer_id: UUID
    amount: str
    currency: str
    payment_reference: str


class SendPaymentReceipt:
    """On OrderPaid: a receipt with the amount charged and the payment reference."""

    def __init__(self, notifier: CustomerNotifier) -> None:
        self._notifier = notifier

    async def __call__(self, request: SendPaymentReceiptRequest) -> bool:
        return await self._notifier.notify(
            handler=HANDLER,
            event_id=request.event_id,
            customer_id=request.customer_id,
            template="payment_receipt",
            context={
                "order_id": str(request.order_id),
                "amount": request.amount,
                "currency": request.currency,
                "payment_reference": request.payment_reference,
            },
        )
