from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from app.catalog.application.errors import InvalidPriceRangeError
from app.catalog.application.ports.product_reader import (
    ProductFilter,
    ProductReader,
    ProductSort,
    ProductView,
)
from app.catalog.domain.value_objects import ProductStatus
from app.shared.application.actor import ActorProvider, require_role
from app.shared.application.pagination import Page
from app.shared.domain.role import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class ListProductsRequest:
    filter_: ProductFilter = field(default_factory=ProductFilter)
    sort: ProductSort = ProductSort.NAME
    limit: int = 20
    cursor: str | None = None


class ListProducts:
    """Anyone browses active products; staff may also list archived ones (or every status)."""

    MAX_LIMIT = 100

    def __init__(self, reader: ProductReader, actors: ActorProvider) -> None:
        self._reader = reader
        self._actors = actors

    async def __call__(self, request: ListProductsRequest) -> Page[ProductView]:
        filter_ = request.filter_
        if filter_.status is not ProductStatus.ACTIVE:
            actor = await self._actors.current()
            require_role(actor, Role.STAFF)
        if (
            filter_.min_price is not None
            and filter_.max_price is not None
            and filter_.min_price > filter_.max_price
        ):
            raise InvalidPriceRangeError("min_price is above max_price.")
        return await self._reader.list(
            filter_=_normalised(filter_),
            sort=request.sort,
            limit=max(1, min(request.limit, self.MAX_LIMIT)),
            cursor=request.cursor,
        )


_CENT = Decimal("0.01")


def _normalised(filter_: ProductFilter) -> ProductFilter:
    """One form per meaning: surrounding blanks do not change a search, nor does a bound finer
    than a cent (prices are whole cents: ``>= 0.001`` is ``>= 0.01``), nor a currency's case."""
    text = filter_.text.strip() if filter_.text is not None else None
    return replace(
        filter_,
        text=text or None,
        min_price=(
            filter_.min_price.quantize(_CENT, rounding=ROUND_CEILING)
            if filter_.min_price is not None
            else None
        ),
        max_price=(
            filter_.max_price.quantize(_CENT, rounding=ROUND_FLOOR)
            if filter_.max_price is not None
            else None
        ),
        currency=filter_.currency.upper() if filter_.currency is not None else None,
    )
