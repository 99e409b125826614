from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.domain.product import Product
from app.catalog.domain.value_objects import ProductId
from app.catalog.infrastructure.cache_keys import invalidate_after_commit
from app.shared.infrastructure.cache import VersionedCache
from app.shared.infrastructure.transaction import SqlaTransactionManager


class SqlaProductRepository:
    """Loads products for change; every product it hands out invalidates the cache on commit."""

    def __init__(
        self, session: AsyncSession, transaction: SqlaTransactionManager, cache: VersionedCache
    ) -> None:
        self._session = session
        self._transaction = transaction
        self._cache = cache

    def add(self, product: Product) -> None:
        self._session.add(product)
        invalidate_after_commit(self._transaction, self._cache, [product.id_])

    async def get(self, product_id: ProductId) -> Product | None:
        product = await self._session.get(Product, product_id)
        if product is not None:
            invalidate_after_commit(self._transaction, self._cache, [product.id_])
        return product
