"""Order exports in PostgreSQL: the aggregate (mapped), its file in chunks, its status view."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, Final, cast
from uuid import UUID

from sqlalchemy import CursorResult, and_, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ordering.application.ports.order_exports import OrderExportView
from app.ordering.domain.order_export import ExportId, ExportStatus, OrderExport, progress_percent
from app.ordering.infrastructure.tables import order_export_chunks_table, order_exports_table
from app.shared.application.pagination import Page
from app.shared.infrastructure.keyset import Keyset, core_page, datetime_key

_e = order_exports_table.c
_chunks = order_export_chunks_table.c
_NEWEST: Final = Keyset(
    "order-exports:-requested_at", "requested_at", datetime_key, descending=True
)
# The first key of the two-key advisory locks taken here (the second: the requester).
_LOCK_SPACE: Final = 0x6F65  # "oe", order exports


class SqlaOrderExportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, export: OrderExport) -> None:
        self._session.add(export)

    async def get(self, export_id: ExportId, *, for_update: bool = False) -> OrderExport | None:
        # populate_existing: a re-read after the lock must see what the other party committed.
        return await self._session.get(
            OrderExport, export_id, with_for_update=for_update, populate_existing=for_update
        )

    async def count_unfinished(self, requested_by: UUID) -> int:
        # A transaction-scoped advisory lock per requester: two starts at once count in turn.
        await self._session.execute(
            select(func.pg_advisory_xact_lock(_LOCK_SPACE, func.hashtext(str(requested_by))))
        )
        statement = select(func.count()).where(
            _e.requested_by == requested_by,
            _e.status.in_([ExportStatus.QUEUED, ExportStatus.RUNNING]),
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def delete_expired(self, retention: timedelta) -> int:
        # Their files go with them (ON DELETE CASCADE).
        statement = delete(order_exports_table).where(
            or_(
                _e.expires_at <= func.now(),
                and_(_e.expires_at.is_(None), _e.requested_at < func.now() - retention),
            )
        )
        result = cast("CursorResult[Any]", await self._session.execute(statement))
        return int(result.rowcount or 0)


class SqlaExportFileStore:
    """Each chunk is one bytea row (at most a chunk's worth of memory, read or written)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, export_id: ExportId, sequence: int, content: bytes) -> None:
        await self._session.execute(
            insert(order_export_chunks_table).values(
                export_id=export_id, sequence=sequence, content=content
            )
        )

    async def discard(self, export_id: ExportId) -> None:
        await self._session.execute(
            delete(order_export_chunks_table).where(_chunks.export_id == export_id)
        )

    async def read(self, export_id: ExportId) -> AsyncIterator[bytes]:
        sequence = -1
        while True:
            # One row per round trip, by primary key: no cursor held open across the download.
            row = (
                await self._session.execute(
                    select(_chunks.sequence, _chunks.content)
                    .where(_chunks.export_id == export_id, _chunks.sequence > sequence)
                    .order_by(_chunks.sequence)
                    .limit(1)
                )
            ).one_or_none()
            if row is None:
                return
            sequence = row.sequence
            yield row.content


class SqlaOrderExportReader:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, export_id: ExportId) -> OrderExportView | None:
        row = (
            (await self._session.execute(select(order_exports_table).where(_e.id == export_id)))
            .mappings()
            .one_or_none()
        )
        return None if row is None else _view(row)

    async def search(
        self, *, requested_by: UUID | None, limit: int, cursor: str | None
    ) -> Page[OrderExportView]:
        statement = select(order_exports_table)
        if requested_by is not None:
            statement = statement.where(_e.requested_by == requested_by)
        return await core_page(
            self._session.execute, statement, _NEWEST, limit=limit, cursor=cursor, to_item=_view
        )


def _view(row: Any) -> OrderExportView:  # noqa: ANN401 - a SQLAlchemy RowMapping
    status = row["status"]
    return OrderExportView(
        id=str(row["id"]),
        requested_by=str(row["requested_by"]),
        status=status.value,
        first_day=row["first_day"],
        last_day=row["last_day"],
        rows_total=row["rows_total"],
        rows_written=row["rows_written"],
        percent=progress_percent(status, row["rows_written"], row["rows_total"]),
        size_bytes=row["size_bytes"],
        requested_at=row["requested_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        expires_at=row["expires_at"],
        failure_reason=row["failure_reason"],
    )
