from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.ordering.domain.value_objects import OrderId
from app.shared.domain.money import Money


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentResult:
    approved: bool
    reference: str | None = None  # the gateway's id of an approved charge
    decline_reason: str | None = None  # a stable machine-readable reason, e.g. "card_declined"


class PaymentGateway(Protocol):
    async def charge(self, order_id: OrderId, amount: Money, card_number: str) -> PaymentResult:
        """Charge the card once per order: real gateways take ``order_id`` as their own
        idempotency key, so a retried charge after a lost response is not taken twice.

        The customer sees a decline's reason: report the codes meant for the merchant (a lost or
        stolen card, suspected fraud) as "card_declined", since they help a card tester most."""
        ...
