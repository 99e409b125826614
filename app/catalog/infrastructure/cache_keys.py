"""Cache namespaces of the catalog, and the invalidation every product write schedules."""

from __future__ import annotations

from typing import Final

from app.shared.infrastructure.cache import VersionedCache
from app.shared.infrastructure.transaction import SqlaTransactionManager

# One namespace for all product reads: a write to any product invalidates single reads and list
# pages alike (a renamed or re-priced product moves between pages, so per-page tracking would
# miss cases). Catalog writes are rare next to reads, which keeps the hit rate high.
PRODUCTS: Final = "catalog:products"


def invalidate_after_commit(transaction: SqlaTransactionManager, cache: VersionedCache) -> None:
    async def bump() -> None:
        await cache.bump(PRODUCTS)

    transaction.after_commit(PRODUCTS, bump)
