from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.catalog.application.ports.product_repository import ProductRepository
from app.catalog.application.staff_product import load_for_staff
from app.shared.application.actor import ActorProvider
from app.shared.application.ports import Clock, TransactionManager
from app.shared.domain.money import Money


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeProductPriceRequest:
    product_id: UUID
    amount: str
    currency: str


class ChangeProductPrice:
    """Staff set a new price; orders already placed keep the price they were placed at."""

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

    async def __call__(self, request: ChangeProductPriceRequest) -> None:
        product = await load_for_staff(self._actors, self._products, request.product_id)
        product.change_price(Money.of(request.amount, request.currency), at=self._clock.now())
        await self._transaction.commit()
