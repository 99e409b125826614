from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.catalog.application.ports.product_repository import ProductRepository
from app.catalog.application.staff_product import load_for_staff
from app.catalog.domain.value_objects import Description, ProductName
from app.shared.application.actor import ActorProvider
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class EditProductDetailsRequest:
    product_id: UUID
    name: str
    description: str


class EditProductDetails:
    """Staff rename and re-describe products (the SKU never changes)."""

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

    async def __call__(self, request: EditProductDetailsRequest) -> None:
        product = await load_for_staff(self._actors, self._products, request.product_id)
        product.edit_details(
            name=ProductName.parse(request.name),
            description=Description.parse(request.description),
            at=self._clock.now(),
        )
        await self._transaction.commit()
