"""The product reader behind a cache: same answers, fewer queries (see shared cache module)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, Final, cast

from app.catalog.application.ports.product_reader import (
    ProductFilter,
    ProductSort,
    ProductView,
)
from app.catalog.domain.value_objects import ProductId
from app.catalog.infrastructure.cache_keys import LISTINGS, PRODUCT
from app.catalog.infrastructure.sqla_product_reader import SqlaProductReader
from app.shared.application.pagination import Page
from app.shared.infrastructure.cache import VersionedCache

_DATES = ("created_at", "updated_at")
# Page sizes a client UI asks for; other sizes are read from the database.
CACHED_PAGE_SIZES: Final = frozenset({10, 20, 50, 100})


def worth_caching(filter_: ProductFilter, limit: int, cursor: str | None) -> bool:
    """Only listings many visitors ask for: a first page of a usual size, without a text search,
    a price range or a currency. Any other listing is one visitor's query: cached, it would
    rarely be read again, and distinct filters from anonymous clients would fill Redis without
    bound (security review, finding 2). The cached set is small: sort x stock x status x size."""
    return (
        cursor is None
        and filter_.text is None
        and filter_.min_price is None
        and filter_.max_price is None
        and filter_.currency is None
        and limit in CACHED_PAGE_SIZES
    )


def _encode_view(view: ProductView | None) -> Any:  # noqa: ANN401 - JSON
    return view


def _decode_view(data: Any) -> ProductView | None:  # noqa: ANN401 - JSON
    if data is None:
        return None
    dates = {name: datetime.fromisoformat(data[name]) for name in _DATES}
    return cast("ProductView", {**data, **dates})


def _decode_page(data: Any) -> Page[ProductView]:  # noqa: ANN401 - JSON
    return Page(
        items=[view for item in data["items"] if (view := _decode_view(item)) is not None],
        next_cursor=data["next_cursor"],
    )


class CachedProductReader:
    def __init__(self, reader: SqlaProductReader, cache: VersionedCache) -> None:
        self._reader = reader
        self._cache = cache

    async def get(self, product_id: ProductId) -> ProductView | None:
        return await self._cache.get_or_load(
            PRODUCT,
            "view",
            lambda: self._reader.get(product_id),
            encode=_encode_view,
            decode=_decode_view,
            scope=str(product_id),
        )

    async def get_by_sku(self, sku: str) -> ProductView | None:
        # Keyed by a digest: a SKU from the URL is untrusted text.
        digest = hashlib.sha256(sku.encode()).hexdigest()[:32]
        return await self._cache.get_or_load(
            LISTINGS,
            f"sku:{digest}",
            lambda: self._reader.get_by_sku(sku),
            encode=_encode_view,
            decode=_decode_view,
        )

    async def list(
        self, *, filter_: ProductFilter, sort: ProductSort, limit: int, cursor: str | None
    ) -> Page[ProductView]:
        def load() -> Awaitable[Page[ProductView]]:
            return self._reader.list(filter_=filter_, sort=sort, limit=limit, cursor=cursor)

        if not worth_caching(filter_, limit, cursor):
            return await self._cache.uncached(LISTINGS, load)
        # Readable and bounded: every part is an enum, a boolean or one of the page sizes.
        status = filter_.status.value if filter_.status is not None else "any"
        key = f"list:{sort.value}:{status}:{filter_.in_stock}:{limit}"
        return await self._cache.get_or_load(
            LISTINGS, key, load, encode=lambda page: page, decode=_decode_page
        )
