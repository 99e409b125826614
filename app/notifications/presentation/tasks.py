"""Celery task adapters of the notifications context: thin drivers of the use cases, exactly as
routers are for HTTP. Each takes the event envelope the outbox relay publishes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import aiosmtplib
from celery import Celery
from dishka import AsyncContainer
from jinja2 import TemplateNotFound

from app.notifications.application.commands.send_cancellation_notice import (
    HANDLER as CANCELLATION_NOTICE,
)
from app.notifications.application.commands.send_cancellation_notice import (
    SendCancellationNotice,
    SendCancellationNoticeRequest,
)
from app.notifications.application.commands.send_order_confirmation import (
    HANDLER as ORDER_CONFIRMATION,
)
from app.notifications.application.commands.send_order_confirmation import (
    SendOrderConfirmation,
    SendOrderConfirmationRequest,
)
from app.notifications.application.commands.send_payment_receipt import (
    HANDLER as PAYMENT_RECEIPT,
)
from app.notifications.application.commands.send_payment_receipt import (
    SendPaymentReceipt,
    SendPaymentReceiptRequest,
)
from app.notifications.application.commands.send_sign_up_notice import (
    HANDLER as SIGN_UP_NOTICE,
)
from app.notifications.application.commands.send_sign_up_notice import (
    SendSignUpNotice,
    SendSignUpNoticeRequest,
)
from app.notifications.application.errors import TemporaryEmailFailureError
from app.shared.presentation.background import WorkerOptions
from app.shared.presentation.tasks import TaskRunner, retrying


def register_notification_tasks(celery: Celery, run: TaskRunner, options: WorkerOptions) -> None:
    # Connection trouble and 4xx replies are retried; a missing template (an OSError for
    # Jinja2) or a 5xx refusal is permanent and becomes a dead letter at once.
    task_options = retrying(
        options.max_retries,
        also=(
            TemporaryEmailFailureError,
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
        ),
        never=(TemplateNotFound,),
    )

    @celery.task(name=ORDER_CONFIRMATION, **task_options)  # type: ignore[untyped-decorator]
    def order_confirmation(event: dict[str, Any]) -> bool:
        payload = event["payload"]
        request = SendOrderConfirmationRequest(
            event_id=UUID(event["event_id"]),
            order_id=UUID(event["aggregate_id"]),
            customer_id=UUID(payload["customer_id"]),
            lines=list(payload["lines"]),
            total_amount=payload["total_amount"],
            currency=payload["currency"],
        )

        async def work(scope: AsyncContainer) -> bool:
            return await (await scope.get(SendOrderConfirmation))(request)

        return run(work)

    @celery.task(name=PAYMENT_RECEIPT, **task_options)  # type: ignore[untyped-decorator]
    def payment_receipt(event: dict[str, Any]) -> bool:
        payload = event["payload"]
        request = SendPaymentReceiptRequest(
            event_id=UUID(event["event_id"]),
            order_id=UUID(event["aggregate_id"]),
            customer_id=UUID(payload["customer_id"]),
            amount=payload["amount"],
            currency=payload["currency"],
            payment_reference=payload["payment_reference"],
        )

        async def work(scope: AsyncContainer) -> bool:
            return await (await scope.get(SendPaymentReceipt))(request)

        return run(work)

    @celery.task(name=CANCELLATION_NOTICE, **task_options)  # type: ignore[untyped-decorator]
    def cancellation_notice(event: dict[str, Any]) -> bool:
        payload = event["payload"]
        request = SendCancellationNoticeRequest(
            event_id=UUID(event["event_id"]),
            order_id=UUID(event["aggregate_id"]),
            customer_id=UUID(payload["customer_id"]),
            expired=event["event_type"] == "OrderExpired",
            reason=payload.get("reason"),
            refund_amount=payload.get("refund_amount") if payload.get("refund_due") else None,
            currency=payload.get("currency"),
        )

        async def work(scope: AsyncContainer) -> bool:
            return await (await scope.get(SendCancellationNotice))(request)

        return run(work)

    @celery.task(name=SIGN_UP_NOTICE, **task_options)  # type: ignore[untyped-decorator]
    def sign_up_notice(event: dict[str, Any]) -> bool:
        request = SendSignUpNoticeRequest(
            event_id=UUID(event["event_id"]), customer_id=UUID(event["aggregate_id"])
        )

        async def work(scope: AsyncContainer) -> bool:
            return await (await scope.get(SendSignUpNotice))(request)

        return run(work)
