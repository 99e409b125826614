from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TypedDict

from app.catalog.application.ports.product_repository import ProductRepository
from app.catalog.domain.product import Product
from app.catalog.domain.value_objects import Description, ProductId, ProductName, Sku
from app.shared.application.actor import ActorProvider, require_role
from app.shared.application.ports import Clock, TransactionManager
from app.shared.domain.money import Money
from app.shared.domain.role import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateProductRequest:
    sku: str
    name: str
    description: str
    price_amount: str
    currency: str
    stock_on_hand: int = 0


class CreateProductResponse(TypedDict):
    id: str


class CreateProduct:
    """Staff add products; SKUs are unique regardless of case."""

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

    async def __call__(self, request: CreateProductRequest) -> CreateProductResponse:
        require_role(await self._actors.current(), Role.STAFF)
        product = Product.create(
            id_=ProductId(uuid.uuid4()),
            sku=Sku.parse(request.sku),
            name=ProductName.parse(request.name),
            description=Description.parse(request.description),
            price=Money.of(request.price_amount, request.currency),
            stock_on_hand=request.stock_on_hand,
            at=self._clock.now(),
        )
        self._products.add(product)
        await self._transaction.commit()
        return CreateProductResponse(id=str(product.id_))
