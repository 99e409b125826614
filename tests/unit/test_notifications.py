"""EmailMessage, SendCustomerNotice against autospecced ports, each notice's task reading its
event, the real Jinja templates, and the SMTP sender's error mapping (aiosmtplib.send faked)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage as MimeMessage
from typing import Any
from unittest.mock import Mock, create_autospec
from uuid import UUID

import aiosmtplib
import pytest
from jinja2 import UndefinedError

from app.notifications.application.commands.send_customer_notice import (
    SendCustomerNotice,
    SendCustomerNoticeRequest,
)
from app.notifications.application.errors import TemporaryEmailFailureError
from app.notifications.application.notices import (
    CANCELLATION_NOTICE,
    NOTICES,
    ORDER_CONFIRMATION,
    PAYMENT_RECEIPT,
    SIGN_UP_NOTICE,
    Notice,
)
from app.notifications.application.ports.email import EmailSender, EmailTemplates
from app.notifications.domain.email import EmailMessage, InvalidEmailMessageError
from app.notifications.infrastructure.jinja_templates import JinjaEmailTemplates
from app.notifications.infrastructure.smtp_email_sender import SmtpEmailSender
from app.notifications.presentation.tasks import NOTICE_TASKS, notice_request
from app.shared.application.directory import Contact, UserDirectory
from app.shared.application.inbox import EventInbox
from app.shared.application.ports import TransactionManager

EVENT_ID = UUID("11111111-1111-1111-1111-111111111111")
ORDER_ID = UUID("22222222-2222-2222-2222-222222222222")
CUSTOMER_ID = UUID("33333333-3333-3333-3333-333333333333")
HANDLER = "notifications.test"
CONTACT = Contact(email="alice@example.com", name="Alice")


def make_message(**overrides: Any) -> EmailMessage:
    fields: dict[str, Any] = {
        "to": "alice@example.com",
        "subject": "Hello",
        "text": "text body",
        "html": "<p>html body</p>",
    }
    return EmailMessage(**{**fields, **overrides})


# --- EmailMessage ------------------------------------------------------------------------------


def test_email_message_keeps_its_fields_and_has_no_reference_by_default() -> None:
    message = make_message()

    assert message.to == "alice@example.com"
    assert message.subject == "Hello"
    assert message.reference is None


def test_any_address_and_subject_line_without_a_separator_is_kept() -> None:
    # Only separators and line breaks are refused: every other character is text.
    message = make_message(to="Xavier.XX@example.com", subject="XX-large: your order (X-1)")

    assert (message.to, message.subject) == ("Xavier.XX@example.com", "XX-large: your order (X-1)")


@pytest.mark.parametrize(
    "to",
    ["", "alice.example.com", "alice@example.com\r\nBcc: eve@example.com", "a@x.com\nb@y.com"],
)
def test_email_message_rejects_anything_but_one_address(to: str) -> None:
    with pytest.raises(InvalidEmailMessageError):
        make_message(to=to)


def test_email_message_rejects_a_comma_separated_list_of_recipients() -> None:
    with pytest.raises(InvalidEmailMessageError):
        make_message(to="alice@example.com, eve@example.com")


@pytest.mark.parametrize(
    "subject", ["", "Hello\nBcc: eve@example.com", "Hello\r\nX-Injected: 1", "line\r"]
)
def test_email_message_rejects_anything_but_one_non_empty_subject_line(subject: str) -> None:
    with pytest.raises(InvalidEmailMessageError):
        make_message(subject=subject)


def test_invalid_email_message_error_has_a_stable_code() -> None:
    assert InvalidEmailMessageError.code == "invalid_email_message"


# --- SendCustomerNotice ------------------------------------------------------------------------


@dataclass
class Ports:
    """Every port of SendCustomerNotice, autospecced, plus a log of calls in order."""

    inbox: Any = field(default_factory=lambda: create_autospec(EventInbox, instance=True))
    directory: Any = field(default_factory=lambda: create_autospec(UserDirectory, instance=True))
    templates: Any = field(default_factory=lambda: create_autospec(EmailTemplates, instance=True))
    sender: Any = field(default_factory=lambda: create_autospec(EmailSender, instance=True))
    transaction: Any = field(
        default_factory=lambda: create_autospec(TransactionManager, instance=True)
    )
    calls: Mock = field(default_factory=Mock)

    def __post_init__(self) -> None:
        self.inbox.first_delivery.return_value = True
        self.directory.contact.return_value = CONTACT
        self.templates.render.return_value = make_message()
        for name in ("inbox", "directory", "templates", "sender", "transaction"):
            self.calls.attach_mock(getattr(self, name), name)

    @property
    def use_case(self) -> SendCustomerNotice:
        return SendCustomerNotice(
            self.inbox, self.directory, self.templates, self.sender, self.transaction
        )

    def order(self) -> list[str]:
        return [name for name, _, _ in self.calls.mock_calls if "." in name]


@pytest.fixture
def ports() -> Ports:
    return Ports()


async def notify(ports: Ports, **overrides: Any) -> bool:
    arguments: dict[str, Any] = {
        "notice": Notice(HANDLER, "payment_receipt"),
        "event_id": EVENT_ID,
        "customer_id": CUSTOMER_ID,
        "context": {"order_id": str(ORDER_ID), "amount": "10.00"},
    }
    return await ports.use_case(SendCustomerNoticeRequest(**{**arguments, **overrides}))


async def test_a_redelivered_event_sends_nothing_and_does_not_commit(ports: Ports) -> None:
    ports.inbox.first_delivery.return_value = False

    sent = await notify(ports)

    assert sent is False
    ports.inbox.first_delivery.assert_awaited_once_with(HANDLER, EVENT_ID)
    ports.directory.contact.assert_not_awaited()
    ports.templates.render.assert_not_called()
    ports.sender.send.assert_not_awaited()
    ports.transaction.commit.assert_not_awaited()


async def test_first_delivery_renders_with_the_customer_name_and_sends_with_a_reference(
    ports: Ports,
) -> None:
    rendered = make_message(subject="Payment received")
    ports.templates.render.return_value = rendered

    sent = await notify(ports)

    assert sent is True
    ports.directory.contact.assert_awaited_once_with(CUSTOMER_ID)
    ports.templates.render.assert_called_once_with(
        "payment_receipt",
        to=CONTACT.email,
        context={"order_id": str(ORDER_ID), "amount": "10.00", "customer_name": "Alice"},
    )
    ports.sender.send.assert_awaited_once()
    message: EmailMessage = ports.sender.send.call_args.args[0]
    assert message.reference == f"{HANDLER}.{EVENT_ID}"
    # Everything else is the rendered message, untouched.
    assert message.to == rendered.to
    assert message.subject == rendered.subject
    assert message.text == rendered.text
    assert message.html == rendered.html
    ports.transaction.commit.assert_awaited_once_with()


async def test_first_delivery_claims_the_inbox_then_sends_then_commits(ports: Ports) -> None:
    await notify(ports)

    assert ports.order() == [
        "inbox.first_delivery",
        "directory.contact",
        "templates.render",
        "sender.send",
        "transaction.commit",
    ]


async def test_the_directory_name_wins_over_a_customer_name_in_the_context(ports: Ports) -> None:
    await notify(ports, context={"order_id": "x", "customer_name": "Mallory"})

    context: Mapping[str, Any] = ports.templates.render.call_args.kwargs["context"]
    assert context["customer_name"] == "Alice"


async def test_notify_does_not_mutate_the_callers_context(ports: Ports) -> None:
    context = {"order_id": "x"}

    await notify(ports, context=context)

    assert context == {"order_id": "x"}


async def test_a_user_missing_from_the_directory_sends_nothing_but_commits(ports: Ports) -> None:
    ports.directory.contact.return_value = None

    sent = await notify(ports)

    assert sent is False
    ports.templates.render.assert_not_called()
    ports.sender.send.assert_not_awaited()
    # The inbox row is committed, so the event is not retried forever.
    ports.transaction.commit.assert_awaited_once_with()
    assert ports.order() == ["inbox.first_delivery", "directory.contact", "transaction.commit"]


@pytest.mark.parametrize(
    "error", [TemporaryEmailFailureError(421, "try later"), ConnectionError("refused")]
)
async def test_a_send_failure_propagates_and_does_not_commit(
    ports: Ports, error: Exception
) -> None:
    ports.sender.send.side_effect = error

    with pytest.raises(type(error)) as raised:
        await notify(ports)

    assert raised.value is error
    ports.transaction.commit.assert_not_awaited()


async def test_a_render_failure_propagates_and_does_not_commit(ports: Ports) -> None:
    ports.templates.render.side_effect = UndefinedError("'amount' is undefined")

    with pytest.raises(UndefinedError):
        await notify(ports)

    ports.sender.send.assert_not_awaited()
    ports.transaction.commit.assert_not_awaited()


# --- The notices and their tasks ---------------------------------------------------------------


def envelope(event_type: str, aggregate_id: UUID, **payload: Any) -> dict[str, Any]:
    """What the outbox relay publishes for an event."""
    return {
        "event_id": str(EVENT_ID),
        "event_type": event_type,
        "aggregate_id": str(aggregate_id),
        "payload": payload,
    }


def request_for(notice: Notice, event: dict[str, Any]) -> SendCustomerNoticeRequest:
    (task,) = [task for task in NOTICE_TASKS if task.notice is notice]
    return notice_request(task, event)


def test_every_notice_has_one_task_its_own_handler_and_template() -> None:
    assert [task.notice for task in NOTICE_TASKS] == list(NOTICES)
    assert len({notice.handler for notice in NOTICES}) == len(NOTICES)
    assert len({notice.template for notice in NOTICES}) == len(NOTICES)
    assert all(notice.handler.startswith("notifications.") for notice in NOTICES)


def test_the_order_confirmation_reads_the_lines_and_total_of_order_placed() -> None:
    lines = [{"sku": "SKU-1", "quantity": 2, "unit_price": "5.00"}]
    event = envelope(
        "OrderPlaced",
        ORDER_ID,
        customer_id=str(CUSTOMER_ID),
        lines=lines,
        total_amount="10.00",
        currency="EUR",
    )

    request = request_for(ORDER_CONFIRMATION, event)

    assert request == SendCustomerNoticeRequest(
        notice=Notice("notifications.order_confirmation", "order_confirmation"),
        event_id=EVENT_ID,
        customer_id=CUSTOMER_ID,
        context={
            "order_id": str(ORDER_ID),
            "lines": lines,
            "total_amount": "10.00",
            "currency": "EUR",
        },
    )


def test_the_payment_receipt_reads_the_amount_and_reference_of_order_paid() -> None:
    event = envelope(
        "OrderPaid",
        ORDER_ID,
        customer_id=str(CUSTOMER_ID),
        amount="10.00",
        currency="EUR",
        payment_reference="pay_123",
    )

    request = request_for(PAYMENT_RECEIPT, event)

    assert request.notice == Notice("notifications.payment_receipt", "payment_receipt")
    assert request.customer_id == CUSTOMER_ID
    assert request.context == {
        "order_id": str(ORDER_ID),
        "amount": "10.00",
        "currency": "EUR",
        "payment_reference": "pay_123",
    }


def test_the_cancellation_notice_of_a_cancelled_order_with_a_refund() -> None:
    event = envelope(
        "OrderCancelled",
        ORDER_ID,
        customer_id=str(CUSTOMER_ID),
        reason="out of stock",
        refund_due=True,
        refund_amount="10.00",
        currency="EUR",
    )

    request = request_for(CANCELLATION_NOTICE, event)

    assert request.notice == Notice("notifications.cancellation_notice", "cancellation_notice")
    assert request.context == {
        "order_id": str(ORDER_ID),
        "expired": False,
        "reason": "out of stock",
        "refund_amount": "10.00",
        "currency": "EUR",
    }


def test_the_cancellation_notice_of_an_unpaid_cancelled_order_names_no_refund() -> None:
    event = envelope(
        "OrderCancelled",
        ORDER_ID,
        customer_id=str(CUSTOMER_ID),
        reason=None,
        refund_due=False,
        refund_amount="10.00",
        currency="EUR",
    )

    assert request_for(CANCELLATION_NOTICE, event).context["refund_amount"] is None


def test_the_cancellation_notice_of_an_expired_order() -> None:
    event = envelope("OrderExpired", ORDER_ID, customer_id=str(CUSTOMER_ID))

    assert request_for(CANCELLATION_NOTICE, event).context == {
        "order_id": str(ORDER_ID),
        "expired": True,
        "reason": None,
        "refund_amount": None,
        "currency": None,
    }


def test_the_sign_up_notice_goes_to_the_owner_of_the_address_with_no_context() -> None:
    owner = UUID("44444444-4444-4444-4444-444444444444")
    event = envelope("SignUpWithTakenEmail", owner)

    request = request_for(SIGN_UP_NOTICE, event)

    assert request.notice == Notice("notifications.sign_up_notice", "sign_up_notice")
    assert request.customer_id == owner
    assert request.event_id == EVENT_ID
    assert request.context == {}


# --- JinjaEmailTemplates (the real templates, packaged with the app) ---------------------------


@pytest.fixture(scope="module")
def templates() -> JinjaEmailTemplates:
    return JinjaEmailTemplates()


def order_confirmation_context(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_name": "Alice",
        "order_id": str(ORDER_ID),
        "lines": [
            {"sku": "SKU-1", "quantity": 2, "unit_price": "5.00"},
            {"sku": "SKU-2", "quantity": 1, "unit_price": "7.50"},
        ],
        "total_amount": "17.50",
        "currency": "EUR",
        **overrides,
    }


def payment_receipt_context(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_name": "Alice",
        "order_id": str(ORDER_ID),
        "amount": "17.50",
        "currency": "EUR",
        "payment_reference": "pay_123",
        **overrides,
    }


def cancellation_context(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_name": "Alice",
        "order_id": str(ORDER_ID),
        "expired": False,
        "reason": None,
        "refund_amount": None,
        "currency": None,
        **overrides,
    }


def test_renders_the_order_confirmation(templates: JinjaEmailTemplates) -> None:
    message = templates.render(
        "order_confirmation", to="alice@example.com", context=order_confirmation_context()
    )

    assert message.to == "alice@example.com"
    assert message.subject == "Order confirmed: 17.50 EUR awaiting payment"
    assert message.reference is None
    for body in (message.text, message.html):
        assert "Alice" in body
        assert str(ORDER_ID) in body
        assert "SKU-1" in body
        assert "SKU-2" in body
        assert "17.50 EUR" in body
    assert "2 x SKU-1" in message.text
    assert message.html.lstrip().startswith("<!doctype html>")
    assert "<td>SKU-1</td>" in message.html


def test_renders_the_payment_receipt(templates: JinjaEmailTemplates) -> None:
    message = templates.render(
        "payment_receipt", to="alice@example.com", context=payment_receipt_context()
    )

    assert message.subject == "Payment received: 17.50 EUR"
    for body in (message.text, message.html):
        assert "Alice" in body
        assert "pay_123" in body
        assert str(ORDER_ID) in body
    assert "<strong>17.50 EUR</strong>" in message.html


def test_renders_a_cancellation_with_its_reason_and_refund(
    templates: JinjaEmailTemplates,
) -> None:
    message = templates.render(
        "cancellation_notice",
        to="alice@example.com",
        context=cancellation_context(reason="out of stock", refund_amount="17.50", currency="EUR"),
    )

    assert message.subject == "Your order was cancelled"
    for body in (message.text, message.html):
        assert "cancelled (out of stock)" in body
        assert "refund of" in body
        assert "17.50 EUR" in body
        assert "expired" not in body


def test_renders_an_expiry_without_a_refund(templates: JinjaEmailTemplates) -> None:
    message = templates.render(
        "cancellation_notice", to="alice@example.com", context=cancellation_context(expired=True)
    )

    assert message.subject == "Your order expired"
    for body in (message.text, message.html):
        assert "expired" in body
        assert "refund" not in body.lower()
        assert "cancelled" not in body


def test_renders_the_sign_up_notice_without_any_order_footer(
    templates: JinjaEmailTemplates,
) -> None:
    message = templates.render(
        "sign_up_notice", to="alice@example.com", context={"customer_name": "alice"}
    )

    assert message.subject == "Someone tried to sign up with your e-mail address"
    for body in (message.text, message.html):
        assert "no new one was opened" in body
        assert "order" not in body.lower()
    assert "belongs to an account" in message.html


def test_the_subject_is_collapsed_to_one_line(templates: JinjaEmailTemplates) -> None:
    message = templates.render(
        "payment_receipt", to="alice@example.com", context=payment_receipt_context()
    )

    assert "\n" not in message.subject
    assert message.subject == message.subject.strip()


def test_html_is_escaped_in_the_html_body_but_not_in_the_text_body(
    templates: JinjaEmailTemplates,
) -> None:
    message = templates.render(
        "cancellation_notice",
        to="alice@example.com",
        context=cancellation_context(customer_name="<b>Bob</b>", reason="<script>x</script>"),
    )

    assert "&lt;b&gt;Bob&lt;/b&gt;" in message.html
    assert "<b>Bob</b>" not in message.html
    assert "&lt;script&gt;x&lt;/script&gt;" in message.html
    assert "<script>" not in message.html
    assert "Hello <b>Bob</b>," in message.text
    assert "(<script>x</script>)" in message.text


@pytest.mark.parametrize(
    ("template", "context"),
    [
        ("order_confirmation", order_confirmation_context()),
        ("payment_receipt", payment_receipt_context()),
        ("cancellation_notice", cancellation_context()),
        ("sign_up_notice", {"customer_name": "alice"}),
    ],
)
def test_a_missing_variable_raises_instead_of_rendering_a_blank(
    templates: JinjaEmailTemplates, template: str, context: dict[str, Any]
) -> None:
    # A copy: the parameter is built once, and a second run in the same process (mutmut's
    # clean run after its stats run) must find the variable there again.
    context = {key: value for key, value in context.items() if key != "customer_name"}

    with pytest.raises(UndefinedError):
        templates.render(template, to="alice@example.com", context=context)


def test_a_missing_subject_variable_raises(templates: JinjaEmailTemplates) -> None:
    context = payment_receipt_context()
    del context["amount"]

    with pytest.raises(UndefinedError, match="amount"):
        templates.render("payment_receipt", to="alice@example.com", context=context)


# --- SmtpEmailSender (aiosmtplib.send faked) ---------------------------------------------------


@dataclass
class FakeSmtp:
    """Stands in for aiosmtplib.send: records what it was given, or raises ``error``."""

    error: Exception | None = None
    sent: list[tuple[MimeMessage, dict[str, Any]]] = field(default_factory=list)

    async def __call__(self, message: MimeMessage, **kwargs: Any) -> tuple[dict[str, Any], str]:
        self.sent.append((message, kwargs))
        if self.error is not None:
            raise self.error
        return {}, "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> FakeSmtp:
    fake = FakeSmtp()
    monkeypatch.setattr(aiosmtplib, "send", fake)
    return fake


def make_sender(sender: str = "Shop <shop@mail.example.com>") -> SmtpEmailSender:
    return SmtpEmailSender(
        host="smtp.example.com",
        port=2525,
        sender=sender,
        timeout=5.0,
        start_tls=True,
        username="user",
        password="secret",
    )


async def test_smtp_sends_a_multipart_message_with_every_connection_setting(
    smtp: FakeSmtp,
) -> None:
    await make_sender().send(make_message(subject="Payment received", reference="h.1"))

    assert len(smtp.sent) == 1
    mime, kwargs = smtp.sent[0]
    assert kwargs == {
        "hostname": "smtp.example.com",
        "port": 2525,
        "timeout": 5.0,
        "start_tls": True,
        "username": "user",
        "password": "secret",
    }
    assert mime["From"] == "Shop <shop@mail.example.com>"
    assert mime["To"] == "alice@example.com"
    assert mime["Subject"] == "Payment received"
    assert mime["Date"]
    assert mime.get_content_type() == "multipart/alternative"
    text = mime.get_body(preferencelist=("plain",))
    html = mime.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == "text body"
    assert html.get_content().strip() == "<p>html body</p>"


async def test_smtp_message_id_is_the_reference_at_the_senders_domain(smtp: FakeSmtp) -> None:
    reference = f"notifications.payment_receipt.{EVENT_ID}"

    await make_sender().send(make_message(reference=reference))
    await make_sender().send(make_message(reference=reference))

    ids = [mime["Message-ID"] for mime, _ in smtp.sent]
    assert ids == [f"<{reference}@mail.example.com>"] * 2  # a resent duplicate keeps its id


async def test_smtp_message_id_falls_back_to_localhost_without_a_sender_address(
    smtp: FakeSmtp,
) -> None:
    await make_sender(sender="").send(make_message(reference="h.1"))

    assert smtp.sent[0][0]["Message-ID"] == "<h.1@localhost>"


async def test_smtp_message_id_falls_back_to_localhost_for_a_sender_without_a_domain(
    smtp: FakeSmtp,
) -> None:
    await make_sender(sender="shop").send(make_message(reference="h.1"))

    assert smtp.sent[0][0]["Message-ID"] == "<h.1@localhost>"


async def test_smtp_message_id_is_unique_without_a_reference(smtp: FakeSmtp) -> None:
    await make_sender().send(make_message())
    await make_sender().send(make_message())

    first, second = (mime["Message-ID"] for mime, _ in smtp.sent)
    assert first != second
    assert first.endswith("@mail.example.com>")


@pytest.mark.parametrize("code", [400, 421, 450, 451, 452, 499])
async def test_smtp_4xx_is_a_temporary_failure(smtp: FakeSmtp, code: int) -> None:
    smtp.error = aiosmtplib.SMTPResponseException(code, "Greylisted, try later")

    with pytest.raises(TemporaryEmailFailureError) as raised:
        await make_sender().send(make_message())

    assert raised.value.code == code
    assert str(raised.value) == f"{code} Greylisted, try later"
    assert raised.value.__cause__ is smtp.error


@pytest.mark.parametrize("code", [500, 550, 553, 554])
async def test_smtp_5xx_is_re_raised_as_is(smtp: FakeSmtp, code: int) -> None:
    error = aiosmtplib.SMTPResponseException(code, "Mailbox unavailable")
    smtp.error = error

    with pytest.raises(aiosmtplib.SMTPResponseException) as raised:
        await make_sender().send(make_message())

    assert raised.value is error
    assert not isinstance(raised.value, TemporaryEmailFailureError)


async def test_smtp_connection_errors_are_not_mapped(smtp: FakeSmtp) -> None:
    smtp.error = aiosmtplib.SMTPConnectError("refused")

    with pytest.raises(aiosmtplib.SMTPConnectError):
        await make_sender().send(make_message())


def test_temporary_email_failure_keeps_its_code() -> None:
    error = TemporaryEmailFailureError(451, "local error")

    assert error.code == 451
    assert str(error) == "451 local error"
