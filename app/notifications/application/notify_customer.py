"""The one flow every customer notification follows: once per event, to the current address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from uuid import UUID

from app.notifications.application.ports.email import EmailSender, EmailTemplates
from app.shared.application.directory import UserDirectory
from app.shared.application.inbox import EventInbox
from app.shared.application.ports import TransactionManager


class CustomerNotifier:
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

    async def notify(
        self,
        *,
        handler: str,
        event_id: UUID,
        customer_id: UUID,
        template: str,
        context: Mapping[str, Any],
    ) -> bool:
        """True when the message was sent by this delivery, False for a redelivered event.

        The inbox row and the sending share one transaction: the row is committed only after the
        mail server accepted the message, so a crash before that sends again on redelivery
        (at least once) while a redelivery after it sends nothing (no duplicates).
        """
        if not await self._inbox.first_delivery(handler, event_id):
            return False
        contact = await self._directory.contact(customer_id)
        if contact is not None:
            message = self._templates.render(
                template, to=contact.email, context={**context, "customer_name": contact.name}
            )
            await self._sender.send(replace(message, reference=f"{handler}.{event_id}"))
        await self._transaction.commit()
        return contact is not None
