"""The customer notices: which template each sends, under which handler name.

The handler name is both the Celery task's name and the inbox's key: a notice goes out once per
event. The event a notice answers, and what its template is told, are read by the task adapter
(``app/notifications/presentation/tasks.py``); the flow is the same for all
(``SendCustomerNotice``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Notice:
    handler: str
    template: str


# On OrderPlaced: the order's lines, total and how to pay.
ORDER_CONFIRMATION: Final = Notice("notifications.order_confirmation", "order_confirmation")
# On OrderPaid: the amount charged and the payment reference.
PAYMENT_RECEIPT: Final = Notice("notifications.payment_receipt", "payment_receipt")
# On OrderCancelled or OrderExpired: why the order ended, and any refund due.
CANCELLATION_NOTICE: Final = Notice("notifications.cancellation_notice", "cancellation_notice")
# On SignUpWithTakenEmail: the address's owner learns that someone tried to open an account with
# it, and what to do if it was them (the sign-up's answer could not say).
SIGN_UP_NOTICE: Final = Notice("notifications.sign_up_notice", "sign_up_notice")

NOTICES: Final = (ORDER_CONFIRMATION, PAYMENT_RECEIPT, CANCELLATION_NOTICE, SIGN_UP_NOTICE)
