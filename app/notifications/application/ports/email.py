from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from app.notifications.domain.email import EmailMessage


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail system; raises on any failure (the task retries)."""
        ...


class EmailTemplates(Protocol):
    def render(self, template: str, *, to: str, context: Mapping[str, Any]) -> EmailMessage:
        """Subject, text and HTML bodies from the named template."""
        ...
