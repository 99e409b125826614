from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.permissions import may_view, not_found
from app.ordering.application.ports.order_reader import OrderReader, OrderView
from app.ordering.domain.value_objects import OrderId
from app.shared.application.actor import ActorProvider


@dataclass(frozen=True, slots=True, kw_only=True)
class GetOrderRequest:
    order_id: UUID


class GetOrder:
    """An order with its lines: for its customer, and for staff and above. Anyone else gets 404."""

    def __init__(self, actors: ActorProvider, reader: OrderReader) -> None:
        self._actors = actors
        self._reader = reader

    async def __call__(self, request: GetOrderRequest) -> OrderView:
        actor = await self._actors.current()
        view = await self._reader.get(OrderId(request.order_id))
        if view is None or not may_view(actor, UUID(view["customer_id"])):
            raise not_found(request.order_id)
        return view
