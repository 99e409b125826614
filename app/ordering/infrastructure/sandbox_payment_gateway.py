"""A sandbox payment gateway: no network, no money. It knows a few test card numbers only.

    4242424242424242  approved (reference "sandbox_<hex>")
    4000000000000002  declined: card_declined
    4000000000009995  declined: insufficient_funds
    anything else     declined: invalid_card_number

Replace it with a real gateway adapter (same PaymentGateway port) before taking real payments.
"""

from __future__ import annotations

import uuid
from typing import Final

from app.ordering.application.ports.payment_gateway import PaymentResult
from app.ordering.domain.value_objects import OrderId
from app.shared.domain.money import Money

APPROVED_CARD: Final = "4242424242424242"
DECLINED_CARDS: Final = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
}
INVALID_CARD: Final = "invalid_card_number"
MIN_DIGITS: Final = 12
MAX_DIGITS: Final = 19


def is_valid_card_number(digits: str) -> bool:
    """12 to 19 ASCII digits passing the Luhn checksum."""
    if not (MIN_DIGITS <= len(digits) <= MAX_DIGITS and digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def normalise_card_number(card_number: str) -> str:
    # People type card numbers in groups: "4242 4242 4242 4242" or "4242-4242-...".
    return card_number.replace(" ", "").replace("-", "")


class SandboxPaymentGateway:
    async def charge(self, order_id: OrderId, amount: Money, card_number: str) -> PaymentResult:  # noqa: ARG002 - a sandbox ignores what a real gateway would send
        digits = normalise_card_number(card_number)
        if not is_valid_card_number(digits):
            return PaymentResult(approved=False, decline_reason=INVALID_CARD)
        if digits == APPROVED_CARD:
            return PaymentResult(approved=True, reference=f"sandbox_{uuid.uuid4().hex}")
        return PaymentResult(
            approved=False, decline_reason=DECLINED_CARDS.get(digits, INVALID_CARD)
        )
