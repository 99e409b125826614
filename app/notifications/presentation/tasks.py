"""Celery task adapters of the notifications context: one task per notice, each a thin driver of
``SendCustomerNotice``, exactly as routers are for HTTP. A notice's task reads the customer and
its template's context from the event envelope the outbox relay publishes (``NOTICE_TASKS``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import aiosmtplib
from celery import Celery
from dishka import AsyncContainer
from jinja2 import TemplateNotFound

from app.notifications.application.commands.send_customer_notice import (
    SendCustomerNotice,
    SendCustomerNoticeRequest,
)
from app.notifications.application.errors import TemporaryEmailFailureError
from app.notifications.application.notices import (
    CANCELLATION_NOTICE,
    ORDER_CONFIRMATION,
    PAYMENT_RECEIPT,
    SIGN_UP_NOTICE,
    Notice,
)
from app.shared.presentation.background import WorkerOptions
from app.shared.presentation.tasks import TaskRunner, retrying

Envelope = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NoticeTask:
    notice: Notice
    # The customer to write to, and what the template is told, read from the event's envelope.
    read: Callable[[Envelope], tuple[UUID, dict[str, Any]]]


def _order_confirmation(event: Envelope) -> tuple[UUID, dict[str, Any]]:
    payload = event["payload"]
    return UUID(payload["customer_id"]), {
        "order_id": str(UUID(event["aggregate_id"])),
        "lines": list(payload["lines"]),
        "total_amount": payload["total_amount"],
        "currency": payload["currency"],
    }


def _payment_receipt(event: Envelope) -> tuple[UUID, dict[str, Any]]:
    payload = event["payload"]
    return UUID(payload["customer_id"]), {
        "order_id": str(UUID(event["aggregate_id"])),
        "amount": payload["amount"],
        "currency": payload["currency"],
        "payment_reference": payload["payment_reference"],
    }


def _cancellation_notice(event: Envelope) -> tuple[UUID, dict[str, Any]]:
    payload = event["payload"]
    return UUID(payload["customer_id"]), {
        "order_id": str(UUID(event["aggregate_id"])),
        "expired": event["event_type"] == "OrderExpired",  # unpaid in time, not cancelled
        "reason": payload.get("reason"),
        "refund_amount": payload.get("refund_amount") if payload.get("refund_due") else None,
        "currency": payload.get("currency"),
    }


def _sign_up_notice(event: Envelope) -> tuple[UUID, dict[str, Any]]:
    return UUID(event["aggregate_id"]), {}  # the user whose address someone tried


NOTICE_TASKS: Final = (
    NoticeTask(ORDER_CONFIRMATION, _order_confirmation),
    NoticeTask(PAYMENT_RECEIPT, _payment_receipt),
    NoticeTask(CANCELLATION_NOTICE, _cancellation_notice),
    NoticeTask(SIGN_UP_NOTICE, _sign_up_notice),
)


def notice_request(task: NoticeTask, event: Envelope) -> SendCustomerNoticeRequest:
    customer_id, context = task.read(event)
    return SendCustomerNoticeRequest(
        notice=task.notice,
        event_id=UUID(event["event_id"]),
        customer_id=customer_id,
        context=context,
    )


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
    for task in NOTICE_TASKS:
        _define(celery, run, task, task_options)


def _define(celery: Celery, run: TaskRunner, task: NoticeTask, options: dict[str, Any]) -> None:
    @celery.task(name=task.notice.handler, **options)  # type: ignore[untyped-decorator]
    def send_notice(event: dict[str, Any]) -> bool:
        request = notice_request(task, event)

        async def work(scope: AsyncContainer) -> bool:
            return await (await scope.get(SendCustomerNotice))(request)

        return run(work)
