from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, cast
from uuid import UUID

from app.ordering.application.errors import PaymentDeclinedError, PaymentGatewayError
from app.ordering.application.permissions import ensure_owner, visible_order
from app.ordering.application.ports.order_repository import OrderRepository
from app.ordering.application.ports.payment_gateway import PaymentGateway, PaymentResult
from app.ordering.application.snapshot import OrderSnapshot, snapshot
from app.ordering.domain.state_machine import OrderAction
from app.ordering.domain.value_objects import OrderId
from app.shared.application.actor import ActorProvider
from app.shared.application.idempotency import IdempotencyStore, Idempotent, claim
from app.shared.application.ports import Clock, TransactionManager
from app.shared.application.rate_limit import RateLimiter, RateLimitRule

OPERATION: Final = "ordering.pay_order"
# What the gateway says is checked before it is shown or stored (OWASP API10): a decline reason
# reaches the client only as a short code, a reference is stored (and mailed, and exported) only
# as a short token.
DECLINE_REASON: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
PAYMENT_REFERENCE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
DECLINED: Final = "declined"


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PayOrderRequest:
    order_id: UUID
    card_number: str
    idempotency_key: str | None = None


PayOrderResponse = Idempotent[OrderSnapshot]


class PayOrder:
    """The customer pays their own pending order by card. A declined card raises
    PaymentDeclinedError (402) with the gateway's reason and leaves the order pending. With an
    Idempotency-Key, a retry of a successful payment gets the first response and is not charged.

    Payment attempts are rate limited per customer, and so are declined payments (429): once a
    customer's declines are spent, no attempt reaches the gateway until the oldest leaves the
    window, so an account cannot be used to test which stolen card numbers are live."""

    def __init__(
        self,
        actors: ActorProvider,
        orders: OrderRepository,
        payments: PaymentGateway,
        idempotency: IdempotencyStore,
        limiter: RateLimiter,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._actors = actors
        self._orders = orders
        self._payments = payments
        self._idempotency = idempotency
        self._limiter = limiter
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: PayOrderRequest) -> PayOrderResponse:
        actor = await self._actors.current()
        key, stored = await claim(
            self._idempotency,
            owner=actor.user_id,
            operation=OPERATION,
            key=request.idempotency_key,
            # Never the card number: the fingerprint is stored, and an unsalted hash of a card
            # number is trivially reversed. The last four digits tell retries from new requests.
            request={"order_id": str(request.order_id), "card_last4": request.card_number[-4:]},
        )
        if stored is not None:
            return Idempotent(cast("OrderSnapshot", stored), replayed=True)
        # Counted after the replay check (a replay charges nothing) and before any row lock.
        customer = str(actor.user_id)
        await self._limiter.hit(RateLimitRule.PAY_ORDER_PER_USER, customer)

        order_id = OrderId(request.order_id)
        order = visible_order(actor, await self._orders.get(order_id, for_update=True), order_id)
        ensure_owner(actor, order)
        # Refuse before charging: a paid, cancelled or expired order must never take money.
        order.ensure_can(OrderAction.PAY)
        # Under the order's row lock: attempts on one order see each other's declines.
        await self._limiter.check(RateLimitRule.DECLINED_PAYMENT_PER_USER, customer)
        result = await self._payments.charge(order.id_, order.total, request.card_number)
        if not result.approved:
            await self._limiter.hit(RateLimitRule.DECLINED_PAYMENT_PER_USER, customer)
            # Raising rolls the unit of work back, the key's claim included: a declined attempt
            # took no money, so retrying with the same key (e.g. after topping up) is allowed.
            raise PaymentDeclinedError("The payment was declined.", reason=_reason(result))
        order.pay(_reference(result), at=self._clock.now())
        response = snapshot(order)
        if key is not None:
            await self._idempotency.complete(key, response)
        await self._transaction.commit()
        return Idempotent(response)


def _reason(result: PaymentResult) -> str:
    reason = result.decline_reason or ""
    return reason if DECLINE_REASON.fullmatch(reason) else DECLINED


def _reference(result: PaymentResult) -> str:
    reference = result.reference or ""
    if not PAYMENT_REFERENCE.fullmatch(reference):
        # Raising rolls back as for a decline; the gateway's text is neither shown nor logged.
        raise PaymentGatewayError("The payment service gave an answer we cannot record.")
    return reference
