"""The product reader behind a cache: same answers, fewer queries (see shared cache module)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, cast

from app.catalog.application.ports.product_reader import (
    ProductFilter,
    ProductPage,
    ProductSort,
    ProductView,
)
from app.catalog.domain.value_objects import ProductId
from app.catalog.infrastructure.cache_keys import LISTINGS, PRODUCT
from app.catalog.infrastructure.sqla_product_reader import SqlaProductReader
from app.shared.infrastructure.cache import VersionedCache

_DATES = ("created_at", "updated_at")


def _encode_view(view: ProductView | None) -> Any:  # noqa: ANN401 - JSON
    return view


def _decode_view(data: Any) -> ProductView | None:  # noqa: ANN401 - JSON
    if data is None:
        return None
    dates = {name: datetime.fromisoformat(data[name]) for name in _DATES}
    return cast("ProductView", {**data, **dates})


def _decode_page(data: Any) -> ProductPage:  # noqa: ANN401 - JSON
    return ProductPage(
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
    ) -> ProductPage:
        query = json.dumps(
            [
                filter_.text, str(filter_.min_price), str(filter_.max_price), filter_.currency,
                filter_.in_stock, filter_.status, sort.value, limit, cursor,
            ],
            default=str,
        )  # fmt: skip
        digest = hashlib.sha256(query.encode()).hexdigest()[:32]
        return await self._cache.get_or_load(
            LISTINGS,
            f"list:{digest}",
            lambda: self._reader.list(filter_=filter_, sort=sort, limit=limit, cursor=cursor),
            encode=lambda page: page,
            decode=_decode_page,
        )
