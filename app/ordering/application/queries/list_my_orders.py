from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from app.ordering.application.ports.order_reader import OrderFilter, OrderReader, OrderSummaryView
from app.ordering.domain.value_objects import OrderStatus
from app.shared.application.actor import ActorProvider
from app.shared.application.pagination import Page

MAX_LIMIT: Final = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class ListMyOrdersRequest:
    status: OrderStatus | None = None
    limit: int = 20
    cursor: str | None = None


class ListMyOrders:
    """The caller's own orders, newest first, one page at a time (keyset pagination)."""

    def __init__(self, actors: ActorProvider, reader: OrderReader) -> None:
        self._actors = actors
        self._reader = reader

    async def __call__(self, request: ListMyOrdersRequest) -> Page[OrderSummaryView]:
        actor = await self._actors.current()
        return await self._reader.search(
            filter_=OrderFilter(customer_id=actor.user_id, status=request.status),
            limit=max(1, min(request.limit, MAX_LIMIT)),
            cursor=request.cursor,
        )
