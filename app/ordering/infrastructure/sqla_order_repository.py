from __future__ import annotations

from typing import Final
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ordering.domain.order import Order
from app.ordering.domain.policy import PendingHoldings
from app.ordering.domain.value_objects import OrderId, OrderStatus
from app.ordering.infrastructure.tables import order_lines_table, orders_table

_o = orders_table.c
_l = order_lines_table.c
# The first key of the two-key advisory locks taken here (the second: the customer).
_LOCK_SPACE: Final = 0x6F70  # "op", orders pending


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

    async def pending_holdings(self, customer_id: UUID) -> PendingHoldings:
        # A transaction-scoped advisory lock per customer: two orders placed at once count in
        # turn (no row exists yet to lock for an order being placed).
        await self._session.execute(
            select(func.pg_advisory_xact_lock(_LOCK_SPACE, func.hashtext(str(customer_id))))
        )
        pending = (
            select(_o.id)
            .where(_o.customer_id == customer_id, _o.status == OrderStatus.PENDING_PAYMENT)
            .subquery()
        )
        units = select(func.coalesce(func.sum(_l.quantity), 0)).where(
            _l.order_id.in_(select(pending.c.id))
        )
        row = (
            await self._session.execute(
                select(
                    select(func.count()).select_from(pending).scalar_subquery(),
                    units.scalar_subquery(),
                )
            )
        ).one()
        return PendingHoldings(orders=int(row[0]), units=int(row[1]))
