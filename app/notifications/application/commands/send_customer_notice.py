"""Every customer notice follows one flow: once per event, to the customer's current address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from app.notifications.application.notices import Notice
from app.notifications.application.ports.email import EmailSender, EmailTemplates
from app.shared.application.directory import UserDirectory
from app.shared.application.inbox import EventInbox
from app.shared.application.ports import TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class SendCustomerNoticeRequest:
    notice: Notice
    event_id: UUID
    customer_id: UUID
    # What the notice's template is told besides the customer's name (from the directory).
    context: Mapping[str, Any] = field(default_factory=dict)


class SendCustomerNotice:
    """On an event another context published: the notice it calls for, to the customer."""

    def __init__(
        self,
        inbox: EventInbox,
        directory: UserDirectory,
        templates: EmailTemplates,
        sender: EmailSender,
        transaction: TransactionManager,
    ) -> None:
        self._inbox = inbox
        self._directory = directory
        self._templates = templates
        self._sender = sender
        self._transaction = transaction

    async def __call__(self, request: SendCustomerNoticeRequest) -> bool:
        """True when the message was sent by this delivery, False for a redelivered event.

        The inbox row and the sending share one transaction: the row is committed only after the
        mail server accepted the message, so a crash before that sends again on redelivery
        (at least once) while a redelivery after it sends nothing (no duplicates).
        """
        handler = request.notice.handler
        if not await self._inbox.first_delivery(handler, request.event_id):
            return False
        contact = await self._directory.contact(request.customer_id)
        if contact is not None:
            message = self._templates.render(
                request.notice.template,
                to=contact.email,
                context={**request.context, "customer_name": contact.name},
            )
            await self._sender.send(replace(message, reference=f"{handler}.{request.event_id}"))
        await self._transaction.commit()
        return contact is not None
