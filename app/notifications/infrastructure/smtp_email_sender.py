"""SMTP with aiosmtplib: async, with a timeout on every step."""

from __future__ import annotations

from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid, parseaddr

import aiosmtplib

from app.notifications.application.errors import TemporaryEmailFailureError
from app.notifications.domain.email import EmailMessage


class SmtpEmailSender:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        timeout: float,
        start_tls: bool,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._timeout = timeout
        self._start_tls = start_tls
        self._username = username
        self._password = password

    async def send(self, message: EmailMessage) -> None:
        mime = MimeMessage()
        mime["From"] = self._sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = formatdate(localtime=False)
        _, at, domain = parseaddr(self._sender)[1].rpartition("@")
        domain = domain if at and domain else "localhost"
        mime["Message-ID"] = (
            f"<{message.reference}@{domain}>" if message.reference else make_msgid(domain=domain)
        )
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        try:
            await aiosmtplib.send(
                mime,
                hostname=self._host,
                port=self._port,
                timeout=self._timeout,
                start_tls=self._start_tls,
                username=self._username,
                password=self._password,
            )
        except aiosmtplib.SMTPResponseException as error:
            # 4xx is the server's "not now" (greylisting, load): worth retrying; 5xx is final.
            if 400 <= error.code < 500:
                raise TemporaryEmailFailureError(error.code, error.message) from error
            raise
