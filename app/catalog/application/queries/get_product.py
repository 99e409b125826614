from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.catalog.application.ports.product_reader import ProductReader, ProductView
from app.catalog.domain.errors import ProductNotFoundError
from app.catalog.domain.value_objects import ProductId, ProductStatus
from app.shared.application.actor import ActorProvider
from app.shared.domain.role import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class GetProductRequest:
    product_id: UUID | None = None
    sku: str | None = None


class GetProduct:
    """Anyone reads an active product by id or SKU; archived ones are visible to staff only."""

    def __init__(self, reader: ProductReader, actors: ActorProvider) -> None:
        self._reader = reader
        self._actors = actors

    async def __call__(self, request: GetProductRequest) -> ProductView:
        if request.product_id is not None:
            view = await self._reader.get(ProductId(request.product_id))
        else:
            view = await self._reader.get_by_sku((request.sku or "").strip().upper())
        if view is None or (view["status"] != ProductStatus.ACTIVE and not await self._is_staff()):
            raise ProductNotFoundError("No such product.")
        return view

    async def _is_staff(self) -> bool:
        actor = await self._actors.optional()
        return actor is not None and actor.has_role(Role.STAFF)
