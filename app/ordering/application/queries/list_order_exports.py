from __future__ import annotations

from dataclasses import dataclass

from app.ordering.application.export_permissions import EXPORTS_ORDERS, SEES_ALL_EXPORTS
from app.ordering.application.ports.order_exports import OrderExportReader, OrderExportView
from app.shared.application.actor import ActorProvider, require_role
from app.shared.application.pagination import Page


@dataclass(frozen=True, slots=True, kw_only=True)
class ListOrderExportsRequest:
    limit: int = 20
    cursor: str | None = None


class ListOrderExports:
    """The exports the caller may see, newest first: staff their own, admins everyone's (the
    same rule as for one export)."""

    def __init__(self, actors: ActorProvider, reader: OrderExportReader) -> None:
        self._actors = actors
        self._reader = reader

    async def __call__(self, request: ListOrderExportsRequest) -> Page[OrderExportView]:
        actor = await self._actors.current()
        require_role(actor, EXPORTS_ORDERS)
        requested_by = None if actor.has_role(SEES_ALL_EXPORTS) else actor.user_id
        return await self._reader.search(
            requested_by=requested_by, limit=request.limit, cursor=request.cursor
        )
