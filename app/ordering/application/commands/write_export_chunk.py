from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.export_csv import render
from app.ordering.application.export_policy import ExportPolicy
from app.ordering.application.ports.order_exports import (
    ExportableOrders,
    ExportFileStore,
    ExportRange,
    ExportRow,
    OrderExportRepository,
)
from app.ordering.domain.order_export import (
    TOO_LARGE,
    ChunkRefusedError,
    ExportId,
    ExportPosition,
    OrderExport,
)
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteExportChunkRequest:
    export_id: UUID


@dataclass(frozen=True, slots=True)
class WriteExportChunkResponse:
    more: bool  # False: the export is finished (completed, failed, cancelled) or gone


class WriteExportChunk:
    """The worker's step: the next policy.chunk_rows orders as CSV, stored with the export's
    progress in one transaction. Holding the export's row lock for the step means a cancel
    waits for it, and the step after sees the cancel; a crash between steps loses nothing,
    because the export resumes from the position it committed."""

    def __init__(
        self,
        exports: OrderExportRepository,
        orders: ExportableOrders,
        files: ExportFileStore,
        policy: ExportPolicy,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._exports = exports
        self._orders = orders
        self._files = files
        self._policy = policy
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: WriteExportChunkRequest) -> WriteExportChunkResponse:
        export_id = ExportId(request.export_id)
        export = await self._exports.get(export_id, for_update=True)
        if export is None or export.status.is_finished:
            return WriteExportChunkResponse(more=False)
        range_ = ExportRange(
            first_day=export.first_day,
            last_day=export.last_day,
            placed_before=export.requested_at,
        )
        if export.started_at is None:
            export.start(await self._orders.count(range_), at=self._clock.now())
        rows = await self._orders.rows(range_, after=export.position, limit=self._policy.chunk_rows)
        more = len(rows) == self._policy.chunk_rows
        # The first chunk carries the header, so even an empty range gives a valid file.
        if rows or export.chunk_count == 0:
            more = await self._append(export, rows, more=more)
        if not more and not export.status.is_finished:
            export.complete(at=self._clock.now(), keep_for=self._policy.retention)
        await self._transaction.commit()
        return WriteExportChunkResponse(more=more)

    async def _append(self, export: OrderExport, rows: list[ExportRow], *, more: bool) -> bool:
        content = render(rows, header=export.chunk_count == 0)
        last = ExportPosition(rows[-1]["placed_at"], rows[-1]["order_id"]) if rows else None
        try:
            sequence = export.append_chunk(
                rows=len(rows), size=len(content), last=last, max_bytes=self._policy.max_bytes
            )
        except ChunkRefusedError:
            export.fail(TOO_LARGE, at=self._clock.now(), keep_for=self._policy.retention)
            await self._files.discard(export.id_)
            return False
        await self._files.append(export.id_, sequence, content)
        return more
