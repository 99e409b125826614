from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

from app.ordering.application.errors import InvalidDateRangeError
from app.ordering.application.permissions import FULFILS_ORDERS
from app.ordering.application.ports.order_reader import OrderFilter, OrderReader, OrderSummaryView
from app.ordering.domain.value_objects import OrderStatus
from app.shared.application.actor import ActorProvider, require_role
from app.shared.application.pagination import Page

MAX_LIMIT: Final = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchOrdersRequest:
    status: OrderStatus | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive
    customer_id: UUID | None = None
    limit: int = 20
    cursor: str | None = None


class SearchOrders:
    """Staff and above search every customer's orders by status, creation time range
    [created_from, created_to) and customer, newest first (keyset pagination). Times without an
    offset are taken as UTC."""

    def __init__(self, actors: ActorProvider, reader: OrderReader) -> None:
        self._actors = actors
        self._reader = reader

    async def __call__(self, request: SearchOrdersRequest) -> Page[OrderSummaryView]:
        require_role(await self._actors.current(), FULFILS_ORDERS)
        created_from = _utc(request.created_from)
        created_to = _utc(request.created_to)
        if created_from is not None and created_to is not None and created_from >= created_to:
            raise InvalidDateRangeError(
                "created_from must be earlier than created_to.",
                created_from=created_from.isoformat(),
                created_to=created_to.isoformat(),
            )
        return await self._reader.search(
            filter_=OrderFilter(
                customer_id=request.customer_id,
                status=request.status,
                created_from=created_from,
                created_to=created_to,
            ),
            limit=max(1, min(request.limit, MAX_LIMIT)),
            cursor=request.cursor,
        )


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00: before the first representable instant
        raise InvalidDateRangeError(
            "The time is outside the supported calendar.", value=moment.isoformat()
        ) from None
