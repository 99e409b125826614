from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.export_permissions import export_not_found, may_see_export
from app.ordering.application.ports.order_exports import ExportFileStore, OrderExportReader
from app.ordering.domain.errors import ExportExpiredError, ExportNotReadyError
from app.ordering.domain.order_export import ExportId, ExportStatus, has_expired
from app.shared.application.actor import ActorProvider
from app.shared.application.ports import Clock


@dataclass(frozen=True, slots=True, kw_only=True)
class DownloadOrderExportRequest:
    export_id: UUID


@dataclass(frozen=True, slots=True)
class DownloadOrderExportResponse:
    filename: str
    size_bytes: int
    content: AsyncIterator[bytes]


class DownloadOrderExport:
    """The CSV of a completed export, streamed chunk by chunk. 409 while it is not complete,
    410 once it expired (its file is purged soon after)."""

    def __init__(
        self,
        actors: ActorProvider,
        reader: OrderExportReader,
        files: ExportFileStore,
        clock: Clock,
    ) -> None:
        self._actors = actors
        self._reader = reader
        self._files = files
        self._clock = clock

    async def __call__(self, request: DownloadOrderExportRequest) -> DownloadOrderExportResponse:
        actor = await self._actors.current()
        export_id = ExportId(request.export_id)
        view = await self._reader.get(export_id)
        if view is None or not may_see_export(actor, UUID(view["requested_by"])):
            raise export_not_found(export_id)
        if view["status"] != ExportStatus.COMPLETED:
            raise ExportNotReadyError(
                "Only a completed export can be downloaded.", current_status=view["status"]
            )
        if has_expired(view["expires_at"], at=self._clock.now()):
            raise ExportExpiredError("The export expired; start a new one.")
        return DownloadOrderExportResponse(
            filename=f"orders-{view['first_day']}-to-{view['last_day']}.csv",
            size_bytes=view["size_bytes"],
            content=self._files.read(export_id),
        )
