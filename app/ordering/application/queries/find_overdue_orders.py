from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.ports.order_reader import OrderReader
from app.ordering.domain.policy import OrderingPolicy
from app.shared.application.ports import Clock


@dataclass(frozen=True, slots=True, kw_only=True)
class FindOverdueOrdersRequest:
    limit: int = 500


class FindOverdueOrders:
    """System query (the scheduler): orders whose payment window has closed, oldest first.

    Each is then expired by ExpireOrder in its own transaction, which re-checks the rule under
    a row lock: a payment that lands in between wins, and the expiry is refused.
    """

    def __init__(self, reader: OrderReader, clock: Clock, policy: OrderingPolicy) -> None:
        self._reader = reader
        self._clock = clock
        self._policy = policy

    async def __call__(self, request: FindOverdueOrdersRequest) -> list[UUID]:
        deadline = self._clock.now() - self._policy.payment_window
        return list(await self._reader.overdue(placed_before=deadline, limit=request.limit))
