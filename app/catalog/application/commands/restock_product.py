from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict
from uuid import UUID

from app.catalog.application.ports.product_repository import ProductRepository
from app.catalog.application.staff_product import load_for_staff
from app.catalog.domain.errors import InvalidStockChangeError
from app.catalog.domain.value_objects import StockChangeReason
from app.shared.application.actor import ActorProvider
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class RestockProductRequest:
    product_id: UUID
    quantity: int
    reason: str


class StockLevelResponse(TypedDict):
    stock_on_hand: int


class RestockProduct:
    """Staff receive goods: stock goes up by a positive quantity, with a reason."""

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

    async def __call__(self, request: RestockProductRequest) -> StockLevelResponse:
        if request.quantity <= 0:
            raise InvalidStockChangeError("A restock adds at least one unit.")
        product = await load_for_staff(self._actors, self._products, request.product_id)
        product.adjust_stock(
            request.quantity, reason=StockChangeReason.parse(request.reason), at=self._clock.now()
        )
        await self._transaction.commit()
        return StockLevelResponse(stock_on_hand=product.stock_on_hand)
