"""OWASP API10:2023 Unsafe Consumption of APIs: what the payment gateway and the SMTP server answer
is checked and bounded before the app acts on it or shows it to anyone.

The payment gateway (the PaymentGateway port; SandboxPaymentGateway is the only adapter so far)
answers with a PaymentResult. PayOrder passes on a decline reason only when it is a short code
(otherwise "declined"), and records an approval only with a reference of 1 to 64 printable
characters: any other answer is a 503 payment_gateway_error that leaves the order unpaid. The
gateway here is a stand-in for a gateway that answers badly, wired in place of the sandbox.

The SMTP server is reached through aiosmtplib with APP_SMTP_TIMEOUT on every step, and its
replies are read at most 8 KiB a line and 32 KiB a reply: a server that says nothing, or too
much, fails the send (the task retries, then dead-letters it) instead of hanging the worker or
filling its memory. A 4xx reply is a temporary failure (retried), a 5xx a final one. The servers
here are real sockets.

Also proving it: tests/unit/test_notifications.py (4xx is TemporaryEmailFailureError, 5xx
re-raised, connection errors left to the task's retry), tests/unit/test_sandbox_payments.py
(the sandbox's answers), test_worker_reliability.py and tests/unit/test_dead_letters.py (a send
that keeps failing is retried and dead-lettered), test_orders_idempotency.py (a payment is
charged once per key).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiosmtplib
import httpx
import pytest
from dishka import Provider, Scope

from app.bootstrap.settings import Settings
from app.notifications.application.errors import TemporaryEmailFailureError
from app.notifications.domain.email import EmailMessage
from app.notifications.infrastructure.smtp_email_sender import SmtpEmailSender
from app.ordering.application.ports.payment_gateway import PaymentGateway, PaymentResult
from app.ordering.domain.value_objects import OrderId
from app.shared.domain.money import Money
from tests.integration.catalog_support import create_product
from tests.integration.conftest import ClientFactory
from tests.integration.order_support import open_shop, placed
from tests.integration.support import assert_problem
from tests.support.sql import sql_value

pytestmark = pytest.mark.owasp("API10")

CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ScriptedGateway:
    """A gateway whose next answer the test sets: the external system, answering badly."""

    answer = PaymentResult(approved=True, reference="ch_1")

    async def charge(self, order_id: OrderId, amount: Money, card_number: str) -> PaymentResult:  # noqa: ARG002
        return ScriptedGateway.answer


async def _shop_with_an_order(
    make_client: ClientFactory, settings: Settings, database_url: str
) -> tuple[httpx.AsyncClient, dict[str, str], str]:
    gateway = Provider(scope=Scope.APP)
    gateway.provide(ScriptedGateway, provides=PaymentGateway, override=True)
    client = await make_client(settings, providers=(gateway,))
    shop = await open_shop(client, database_url, customers=1)
    product = await create_product(client, shop.staff.headers, sku="API10-1", stock_on_hand=9)
    order = await placed(client, shop.alice, (product, 1))
    return client, shop.alice.headers, str(order["id"])


async def _pay(client: httpx.AsyncClient, headers: dict[str, str], order_id: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/orders/{order_id}/pay",
        json={"card_number": "4242424242424242"},
        headers={**headers, "Idempotency-Key": "pay-1"},
    )


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("card_declined", "card_declined"),
        ("<script>alert(1)</script>" * 400, "declined"),
        ("Declined: card 4242 4242 4242 4242 belongs to J. Smith", "declined"),
        ("x" * 65, "declined"),
        (None, "declined"),
        ("", "declined"),
    ],
    ids=["a-code", "markup", "personal-data", "too-long", "none", "empty"],
)
async def test_a_decline_reason_is_passed_on_only_as_a_short_code(
    make_client: ClientFactory,
    settings: Settings,
    database_url: str,
    reason: str | None,
    shown: str,
) -> None:
    client, headers, order_id = await _shop_with_an_order(make_client, settings, database_url)
    ScriptedGateway.answer = PaymentResult(approved=False, decline_reason=reason)

    body = assert_problem(await _pay(client, headers, order_id), 402, "payment_declined")

    assert body["reason"] == shown
    assert CODE.match(body["reason"])


@pytest.mark.parametrize(
    "reference",
    [None, "", "   ", "r" * 65, "ch_1\r\nX-Injected: 1", "ch_\x00", "<b>ch</b>\u202e"],
    ids=["none", "empty", "blank", "too-long", "crlf", "nul", "markup-and-bidi"],
)
async def test_an_approval_without_a_usable_reference_leaves_the_order_unpaid(
    make_client: ClientFactory, settings: Settings, database_url: str, reference: str | None
) -> None:
    client, headers, order_id = await _shop_with_an_order(make_client, settings, database_url)
    ScriptedGateway.answer = PaymentResult(approved=True, reference=reference)

    response = await _pay(client, headers, order_id)

    body = assert_problem(response, 503, "payment_gateway_error")
    assert response.headers["retry-after"]
    assert reference is None or reference.strip() == "" or reference not in response.text
    assert "reason" not in body
    sql = "SELECT status || ':' || coalesce(payment_reference, '-') FROM orders WHERE id::text = $1"
    assert await sql_value(database_url, sql, order_id) == "pending_payment:-"
    # The key was not spent: once the gateway answers properly, the same retry pays.
    ScriptedGateway.answer = PaymentResult(approved=True, reference="ch_2")
    paid = await _pay(client, headers, order_id)
    assert paid.status_code == 200, paid.text
    assert paid.json()["payment_reference"] == "ch_2"


# --- SMTP: real sockets --------------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def smtp_peer(handler: Handler) -> AsyncIterator[int]:
    """A TCP server on a free local port, speaking as ``handler`` says; yields its port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _sender(port: int, timeout: float = 0.5) -> SmtpEmailSender:
    return SmtpEmailSender(
        host="127.0.0.1", port=port, sender="shop@example.com", timeout=timeout, start_tls=False
    )


MESSAGE = EmailMessage(
    to="carl@example.com", subject="Your order", text="Thanks", html="<p>Thanks</p>"
)


async def test_an_smtp_server_that_never_answers_times_out() -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts, then says nothing at all

    async with smtp_peer(silent) as port:
        with pytest.raises(aiosmtplib.SMTPTimeoutError):
            await _sender(port).send(MESSAGE)
    assert held, "the sender never connected"


async def test_an_smtp_reply_longer_than_its_bound_is_refused_not_read_on() -> None:
    written: list[int] = []

    async def chatty(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = b"220-" + b"x" * 4096 + b"\r\n"
        try:
            for _line in range(4096):  # 16 MiB, if anyone read it all
                writer.write(line)
                await writer.drain()
                written.append(len(line))
        except ConnectionError:
            return

    async with smtp_peer(chatty) as port:
        with pytest.raises(aiosmtplib.SMTPResponseException) as raised:
            await _sender(port, timeout=5.0).send(MESSAGE)
    assert raised.value.code == -1  # aiosmtplib's "invalid response": not a 4xx, so not retried
    assert "too long" in raised.value.message.lower()
    assert sum(written) < 16 * 1024 * 1024


@pytest.mark.parametrize(
    ("code", "error"),
    [(451, TemporaryEmailFailureError), (550, aiosmtplib.SMTPResponseException)],
)
async def test_an_smtp_refusal_is_temporary_only_when_the_server_says_so(
    code: int, error: type[Exception]
) -> None:
    async def refusing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 peer ESMTP\r\n")
        while line := await reader.readline():
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb in {b"EHLO", b"HELO"}:
                writer.write(b"250 peer\r\n")
            elif verb == b"MAIL":
                writer.write(f"{code} not now\r\n".encode())
            else:
                writer.write(b"221 bye\r\n")
            await writer.drain()
        writer.close()

    async with smtp_peer(refusing) as port:
        with pytest.raises(error) as raised:
            await _sender(port, timeout=5.0).send(MESSAGE)
    assert getattr(raised.value, "code", None) == code
