"""Wiring of the notifications context."""

from __future__ import annotations

from dishka import Provider, Scope, provide, provide_all

from app.bootstrap.settings import Settings
from app.notifications.application.commands.send_customer_notice import SendCustomerNotice
from app.notifications.application.ports.email import EmailSender, EmailTemplates
from app.notifications.infrastructure.jinja_templates import JinjaEmailTemplates
from app.notifications.infrastructure.smtp_email_sender import SmtpEmailSender


class NotificationsProviderSet(Provider):
    templates = provide(JinjaEmailTemplates, provides=EmailTemplates, scope=Scope.APP)

    @provide(scope=Scope.APP)
    def sender(self, settings: Settings) -> EmailSender:
        smtp = settings.smtp
        return SmtpEmailSender(
            host=smtp.host,
            port=smtp.port,
            sender=smtp.sender,
            timeout=smtp.timeout,
            start_tls=smtp.start_tls,
            username=smtp.username,
            password=smtp.password.get_secret_value() if smtp.password else None,
        )

    interactors = provide_all(SendCustomerNotice, scope=Scope.REQUEST)
