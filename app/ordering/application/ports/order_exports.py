"""Ports of order exports: the aggregate's store, the file store and the orders to export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol, TypedDict
from uuid import UUID

from app.ordering.domain.order_export import ExportId, ExportPosition, OrderExport
from app.shared.application.pagination import Page


class OrderExportRepository(Protocol):
    def add(self, export: OrderExport) -> None: ...

    async def get(self, export_id: ExportId, *, for_update: bool = False) -> OrderExport | None:
        """``for_update`` locks the export's row: the worker writing a chunk and someone
        cancelling take turns."""
        ...

    async def count_unfinished(self, requested_by: UUID) -> int:
        """Queued and running exports of one requester. Concurrent calls for the same requester
        take turns until the caller's transaction ends, so a count and the insert that follows
        it cannot race another request's."""
        ...

    async def delete_expired(self, retention: timedelta) -> int:
        """Delete the exports whose time is up, with their files: a finished export once it
        expired, and one that never finished (its worker gave up without a word) once
        ``retention`` has passed since it was requested. Returns how many."""
        ...


class ExportFileStore(Protocol):
    """Where export files live: reachable by the API and every worker, without a shared volume
    (the adapter keeps them in PostgreSQL). Writes join the caller's unit of work."""

    async def append(self, export_id: ExportId, sequence: int, content: bytes) -> None: ...

    async def discard(self, export_id: ExportId) -> None: ...

    def read(self, export_id: ExportId) -> AsyncIterator[bytes]:
        """The chunks in order, one at a time (memory stays bounded by one chunk)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportRange:
    first_day: date
    last_day: date
    # Orders placed from this instant on are left out: a running export is a fixed set.
    placed_before: datetime


class ExportRow(TypedDict):
    order_id: UUID
    placed_at: datetime
    customer_id: UUID
    status: str
    currency: str
    total_amount: str
    line_count: int
    item_count: int
    paid_at: datetime | None
    payment_reference: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    cancellation_reason: str | None


class ExportableOrders(Protocol):
    async def count(self, range_: ExportRange) -> int: ...

    async def rows(
        self, range_: ExportRange, *, after: ExportPosition | None, limit: int
    ) -> list[ExportRow]:
        """Oldest first by (placed_at, order_id), strictly after ``after``."""
        ...


class OrderExportView(TypedDict):
    id: str
    requested_by: str
    status: str
    first_day: date
    last_day: date
    rows_total: int | None
    rows_written: int
    percent: float
    size_bytes: int
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    failure_reason: str | None


class OrderExportReader(Protocol):
    async def get(self, export_id: ExportId) -> OrderExportView | None: ...

    async def search(
        self, *, requested_by: UUID | None, limit: int, cursor: str | None
    ) -> Page[OrderExportView]:
        """Newest first, keyset pagination by (requested_at, id); only ``requested_by``'s
        exports unless it is None. InvalidCursorError for a cursor this reader did not issue."""
        ...
