"""Catalog's side of the stock contract: reserve and release in the caller's transaction.

Each reservation is one conditional UPDATE (stock_on_hand >= quantity, status active): the row
lock serialises concurrent orders for a product and the condition makes oversell impossible.
Products are updated in id order, so two orders sharing products never wait on each other in a
cycle (no deadlocks).
"""

from __future__ import annotations

from collections import defaultdict
from typing import NoReturn

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.domain.value_objects import ProductStatus
from app.catalog.infrastructure.cache_keys import invalidate_after_commit
from app.catalog.infrastructure.tables import products_table
from app.shared.application.stock import (
    OutOfStockError,
    ProductUnavailableError,
    ReservedStock,
    StockRequest,
)
from app.shared.domain.money import Money
from app.shared.infrastructure.cache import VersionedCache
from app.shared.infrastructure.transaction import SqlaTransactionManager

_c = products_table.c


def _merged(requests: list[StockRequest]) -> list[StockRequest]:
    quantities: dict[object, int] = defaultdict(int)
    for request in requests:
        quantities[request.product_id] += request.quantity
    return [
        StockRequest(product_id=product_id, quantity=quantity)  # type: ignore[arg-type]
        for product_id, quantity in sorted(quantities.items(), key=lambda item: str(item[0]))
    ]


class SqlaStockReservations:
    def __init__(
        self, session: AsyncSession, transaction: SqlaTransactionManager, cache: VersionedCache
    ) -> None:
        self._session = session
        self._transaction = transaction
        self._cache = cache

    async def reserve(self, requests: list[StockRequest]) -> list[ReservedStock]:
        reserved: dict[object, ReservedStock] = {}
        for request in _merged(requests):
            row = (
                await self._session.execute(
                    update(products_table)
                    .where(
                        _c.id == request.product_id,
                        _c.status == ProductStatus.ACTIVE,
                        _c.stock_on_hand >= request.quantity,
                    )
                    .values(
                        stock_on_hand=_c.stock_on_hand - request.quantity,
                        version=_c.version + 1,
                    )
                    .returning(_c.sku, _c.name, _c.price_amount, _c.price_currency)
                )
            ).first()
            if row is None:
                await self._explain_refusal(request)
            reserved[request.product_id] = ReservedStock(
                product_id=request.product_id,
                sku=row.sku,
                name=row.name,
                unit_price=Money(row.price_amount, row.price_currency),
                quantity=request.quantity,
            )
        invalidate_after_commit(self._transaction, self._cache, [r.product_id for r in requests])
        return [reserved[request.product_id] for request in _merged(requests)]

    async def release(self, requests: list[StockRequest]) -> None:
        for request in _merged(requests):
            await self._session.execute(
                update(products_table)
                .where(_c.id == request.product_id)
                .values(
                    stock_on_hand=_c.stock_on_hand + request.quantity,
                    version=_c.version + 1,
                )
            )
        invalidate_after_commit(self._transaction, self._cache, [r.product_id for r in requests])

    async def _explain_refusal(self, request: StockRequest) -> NoReturn:
        row = (
            await self._session.execute(
                select(_c.status, _c.stock_on_hand).where(_c.id == request.product_id)
            )
        ).first()
        if row is None or row.status is not ProductStatus.ACTIVE:
            raise ProductUnavailableError(
                "This product cannot be ordered.", product_id=str(request.product_id)
            )
        raise OutOfStockError(
            "Not enough stock for this product.",
            product_id=str(request.product_id),
            requested=request.quantity,
            available=row.stock_on_hand,
        )
