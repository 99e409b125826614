from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.export_permissions import export_not_found, may_see_export
from app.ordering.application.ports.order_exports import OrderExportReader, OrderExportView
from app.ordering.domain.order_export import ExportId
from app.shared.application.actor import ActorProvider


@dataclass(frozen=True, slots=True, kw_only=True)
class GetOrderExportRequest:
    export_id: UUID


class GetOrderExport:
    """An export's status and progress: for whoever started it, and for admins."""

    def __init__(self, actors: ActorProvider, reader: OrderExportReader) -> None:
        self._actors = actors
        self._reader = reader

    async def __call__(self, request: GetOrderExportRequest) -> OrderExportView:
        actor = await self._actors.current()
        view = await self._reader.get(ExportId(request.export_id))
        if view is None or not may_see_export(actor, UUID(view["requested_by"])):
            raise export_not_found(request.export_id)
        return view
