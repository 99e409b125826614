from __future__ import annotations

from uuid import UUID

from app.catalog.application.ports.product_repository import ProductRepository
from app.catalog.domain.errors import ProductNotFoundError
from app.catalog.domain.product import Product
from app.catalog.domain.value_objects import ProductId
from app.shared.application.actor import ActorProvider, require_role
from app.shared.domain.role import Role


async def load_for_staff(
    actors: ActorProvider, products: ProductRepository, product_id: UUID
) -> Product:
    """The product a staff member is about to change (authorization first, then existence)."""
    require_role(await actors.current(), Role.STAFF)
    product = await products.get(ProductId(product_id))
    if product is None:
        raise ProductNotFoundError("No such product.", product_id=str(product_id))
    return product
