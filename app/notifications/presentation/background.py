"""The background side of notifications: the e-mails sent on other contexts' events."""

from __future__ import annotations

from typing import Final

from app.notifications.application.commands.send_cancellation_notice import (
    HANDLER as CANCELLATION_NOTICE,
)
from app.notifications.application.commands.send_order_confirmation import (
    HANDLER as ORDER_CONFIRMATION,
)
from app.notifications.application.commands.send_payment_receipt import (
    HANDLER as PAYMENT_RECEIPT,
)
from app.notifications.application.commands.send_sign_up_notice import (
    HANDLER as SIGN_UP_NOTICE,
)
from app.notifications.presentation.tasks import register_notification_tasks
from app.shared.presentation.background import BackgroundSide

QUEUE: Final = "notifications"
HANDLERS: Final = (ORDER_CONFIRMATION, PAYMENT_RECEIPT, CANCELLATION_NOTICE, SIGN_UP_NOTICE)

side: Final = BackgroundSide(
    context="notifications",
    register=register_notification_tasks,
    event_handlers={
        "OrderPlaced": (ORDER_CONFIRMATION,),
        "OrderPaid": (PAYMENT_RECEIPT,),
        "OrderCancelled": (CANCELLATION_NOTICE,),
        "OrderExpired": (CANCELLATION_NOTICE,),
        "SignUpWithTakenEmail": (SIGN_UP_NOTICE,),
    },
    task_queues=dict.fromkeys(
        (ORDER_CONFIRMATION, PAYMENT_RECEIPT, CANCELLATION_NOTICE, SIGN_UP_NOTICE), QUEUE
    ),
)
