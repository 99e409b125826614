"""The sandbox payment gateway: its test cards, card number validation, and no network."""

from __future__ import annotations

import re
from uuid import uuid4

import pytest

from app.ordering.application.ports.payment_gateway import PaymentGateway
from app.ordering.domain.value_objects import OrderId
from app.ordering.infrastructure.sandbox_payment_gateway import (
    SandboxPaymentGateway,
    is_valid_card_number,
)
from app.shared.domain.money import Money

AMOUNT = Money.of("12.50", "USD")


async def charge(card_number: str) -> tuple[bool, str | None, str | None]:
    gateway: PaymentGateway = SandboxPaymentGateway()
    result = await gateway.charge(OrderId(uuid4()), AMOUNT, card_number)
    return result.approved, result.reference, result.decline_reason


@pytest.mark.parametrize("card", ["4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242"])
async def test_the_approved_test_card_is_charged_with_a_sandbox_reference(card: str) -> None:
    approved, reference, reason = await charge(card)

    assert approved is True
    assert reference is not None
    assert re.fullmatch(r"sandbox_[0-9a-f]{32}", reference)
    assert reason is None


async def test_every_approval_gets_its_own_reference() -> None:
    assert (await charge("4242424242424242"))[1] != (await charge("4242424242424242"))[1]


@pytest.mark.parametrize(
    ("card", "reason"),
    [("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds")],
)
async def test_decline_test_cards_are_declined_with_their_reason(card: str, reason: str) -> None:
    assert await charge(card) == (False, None, reason)


@pytest.mark.parametrize(
    "card",
    [
        "4242424242424241",  # Luhn fails
        "4111111111111111",  # a valid number, but not a sandbox test card
        "42424242424",  # 11 digits
        "42424242424242424242",  # 20 digits
        "4242abcd42424242",
        "",
        "\uff14\uff12" * 8,  # fullwidth digits: str.isdigit() says yes, a card network says no
    ],
)
async def test_any_other_number_is_declined_as_invalid(card: str) -> None:
    assert await charge(card) == (False, None, "invalid_card_number")


@pytest.mark.parametrize(
    "digits",
    ["4242424242424242", "4000000000000002", "4000000000009995", "79927398713", "378282246310005"],
)
def test_luhn_accepts_valid_numbers(digits: str) -> None:
    expected = 12 <= len(digits) <= 19
    assert is_valid_card_number(digits) is expected


@pytest.mark.parametrize("digits", ["4242424242424243", "1234567890123", "000000000001"])
def test_luhn_refuses_invalid_numbers(digits: str) -> None:
    assert is_valid_card_number(digits) is False


def test_luhn_accepts_the_length_bounds() -> None:
    assert is_valid_card_number("000000000000")  # 12 digits, checksum 0
    assert is_valid_card_number("0" * 19)
    assert not is_valid_card_number("0" * 11)
    assert not is_valid_card_number("0" * 20)
