"""An e-mail as the notifications context sends it."""

from __future__ import annotations

from dataclasses import dataclass

from app.shared.domain.errors import InvalidValueError


class InvalidEmailMessageError(InvalidValueError):
    code = "invalid_email_message"


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str
    # Stable per (handler, event): a resent duplicate keeps its Message-ID, so mail clients can
    # recognise it.
    reference: str | None = None

    def __post_init__(self) -> None:
        if self.to.count("@") != 1 or any(char in self.to for char in ",; \t\r\n"):
            raise InvalidEmailMessageError("A recipient is one e-mail address.")
        if not self.subject or any(char in self.subject for char in "\r\n"):
            raise InvalidEmailMessageError("A subject is one non-empty line.")
