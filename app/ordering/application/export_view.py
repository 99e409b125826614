from __future__ import annotations

from app.ordering.application.ports.order_exports import OrderExportView
from app.ordering.domain.order_export import OrderExport


def export_view(export: OrderExport) -> OrderExportView:
    """What a command returns about the export it changed (same shape as the status query)."""
    return OrderExportView(
        id=str(export.id_),
        requested_by=str(export.requested_by),
        status=export.status.value,
        first_day=export.first_day,
        last_day=export.last_day,
        rows_total=export.rows_total,
        rows_written=export.rows_written,
        percent=export.percent,
        size_bytes=export.size_bytes,
        requested_at=export.requested_at,
        started_at=export.started_at,
        finished_at=export.finished_at,
        expires_at=export.expires_at,
        failure_reason=export.failure_reason,
    )
