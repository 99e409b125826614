"""The background side of notifications: the e-mails sent on other contexts' events."""

from __future__ import annotations

from typing import Final

from app.notifications.application.notices import (
    CANCELLATION_NOTICE,
    NOTICES,
    ORDER_CONFIRMATION,
    PAYMENT_RECEIPT,
    SIGN_UP_NOTICE,
)
from app.notifications.presentation.tasks import register_notification_tasks
from app.shared.presentation.background import BackgroundSide

QUEUE: Final = "notifications"
HANDLERS: Final = tuple(notice.handler for notice in NOTICES)

side: Final = BackgroundSide(
    context="notifications",
    register=register_notification_tasks,
    event_handlers={
        "OrderPlaced": (ORDER_CONFIRMATION.handler,),
        "OrderPaid": (PAYMENT_RECEIPT.handler,),
        "OrderCancelled": (CANCELLATION_NOTICE.handler,),
        "OrderExpired": (CANCELLATION_NOTICE.handler,),
        "SignUpWithTakenEmail": (SIGN_UP_NOTICE.handler,),
    },
    task_queues=dict.fromkeys(HANDLERS, QUEUE),
)
