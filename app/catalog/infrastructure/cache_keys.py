"""Cache namespaces of the catalog, and the invalidation every product write schedules.

- ``catalog:product:<id>``: the single read of one product. Bumped when that product changes,
  so an order for one product leaves every other product's cached read alone.
- ``catalog:products``: list pages and SKU look-ups. Bumped by any product write, stock
  included (a write can move a product between pages or in/out of "in stock"), so list pages
  are recomputed after each order; per-page tracking would miss such moves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from uuid import UUID

from app.shared.infrastructure.cache import VersionedCache
from app.shared.infrastructure.transaction import SqlaTransactionManager

LISTINGS: Final = "catalog:products"
PRODUCT: Final = "catalog:product"  # scoped by product id


def invalidate_after_commit(
    transaction: SqlaTransactionManager, cache: VersionedCache, product_ids: Iterable[UUID]
) -> None:
    """After the commit (never before: a reader could cache the old row under the new
    version), bump the listings and each changed product."""
    namespaces = [(LISTINGS, ""), *((PRODUCT, str(product_id)) for product_id in product_ids)]
    for kind, scope in namespaces:

        async def bump(kind: str = kind, scope: str = scope) -> None:
            await cache.bump(kind, scope)

        # Named by namespace: a product changed twice in one unit of work is bumped once.
        transaction.after_commit(f"{kind}:{scope}", bump)
