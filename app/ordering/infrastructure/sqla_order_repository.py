from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.ordering.domain.order import Order
from app.ordering.domain.value_objects import OrderId


class SqlaOrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, order: Order) -> None:
        self._session.add(order)

    async def get(self, order_id: OrderId, *, for_update: bool = False) -> Order | None:
        if not for_update:
            return await self._session.get(Order, order_id)
        # Only the order row is locked; its lines change only through it.
        return await self._session.get(Order, order_id, with_for_update=True)
