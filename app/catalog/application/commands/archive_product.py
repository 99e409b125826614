from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.catalog.application.ports.product_repository import ProductRepository
from app.catalog.application.staff_product import load_for_staff
from app.shared.application.actor import ActorProvider
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveProductRequest:
    product_id: UUID


class ArchiveProduct:
    """Staff withdraw a product from sale; it can no longer be ordered."""

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

    async def __call__(self, request: ArchiveProductRequest) -> None:
        product = await load_for_staff(self._actors, self._products, request.product_id)
        product.archive(at=self._clock.now())
        await self._transaction.commit()
