from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.catalog.application.commands.restock_product import StockLevelResponse
from app.catalog.application.ports.product_repository import ProductRepository
from app.catalog.application.staff_product import load_for_staff
from app.catalog.domain.value_objects import StockChangeReason
from app.shared.application.actor import ActorProvider
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class AdjustProductStockRequest:
    product_id: UUID
    delta: int
    reason: str


class AdjustProductStock:
    """Staff correct stock either way (counts, damage, returns); it never goes below zero."""

    def __init__(
        self,
        actors: ActorProvider,
        products: ProductRepository,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._actors = actors
        self._products = products
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: AdjustProductStockRequest) -> StockLevelResponse:
        product = await load_for_staff(self._actors, self._products, request.product_id)
        product.adjust_stock(
            request.delta, reason=StockChangeReason.parse(request.reason), at=self._clock.now()
        )
        await self._transaction.commit()
        return StockLevelResponse(stock_on_hand=product.stock_on_hand)
