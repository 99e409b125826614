from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from uuid import UUID

from app.notifications.application.notify_customer import CustomerNotifier

HANDLER: Final = "notifications.sign_up_notice"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendSignUpNoticeRequest:
    event_id: UUID
    customer_id: UUID


class SendSignUpNotice:
    """On SignUpWithTakenEmail: the address's owner learns that someone tried to open an account
    with it, and what to do if it was them (the sign-up's answer could not say)."""

    def __init__(self, notifier: CustomerNotifier) -> None:
        self._notifier = notifier

    async def __call__(self, request: SendSignUpNoticeRequest) -> bool:
        return await self._notifier.notify(
            handler=HANDLER,
            event_id=request.event_id,
            customer_id=request.customer_id,
            template="sign_up_notice",
            context={},
        )
