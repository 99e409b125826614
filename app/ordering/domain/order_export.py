"""The OrderExport aggregate: a CSV of orders that the worker writes in chunks.

The export remembers where it stopped (the last order written, by placement time and id), so a
worker that dies or hands over between chunks loses nothing: the next run resumes from there.
Its own row is the only thing two parties change at once (the worker writing, someone
cancelling), and both lock it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final, NewType
from uuid import UUID

from app.ordering.domain.errors import ExportFinishedError
from app.ordering.domain.events import OrderExportContinued, OrderExportRequested
from app.shared.domain.events import AggregateRoot

ExportId = NewType("ExportId", UUID)

# Why an export failed; the API shows these codes.
TOO_LARGE: Final = "too_large"
INTERNAL_ERROR: Final = "internal_error"


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        return self in _FINISHED


_FINISHED: Final = frozenset({ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED})


def progress_percent(status: ExportStatus, rows_written: int, rows_total: int | None) -> float:
    """0 to 100 with one decimal; 100 only once the export completed (every row may be written
    while the last step, which completes it, is still to run)."""
    if status is ExportStatus.COMPLETED:
        return 100.0
    if not rows_total:
        return 0.0
    return min(99.9, round(100.0 * rows_written / rows_total, 1))


def has_expired(expires_at: datetime | None, *, at: datetime) -> bool:
    """A finished export's file may be downloaded until its expiry instant, not from it on; an
    unfinished export (no expiry yet) never expires."""
    return expires_at is not None and at >= expires_at


def is_downloadable(status: ExportStatus, expires_at: datetime | None, *, at: datetime) -> bool:
    return status is ExportStatus.COMPLETED and not has_expired(expires_at, at=at)


@dataclass(frozen=True, slots=True)
class ExportPosition:
    """The last order written: the next chunk starts after it (keyset order)."""

    placed_at: datetime
    order_id: UUID


class ChunkRefusedError(Exception):
    """The chunk would take the export past its size cap (not a DomainError: the export fails,
    the request that caused it does not)."""


@dataclass(eq=False, kw_only=True)
class OrderExport(AggregateRoot):
    id_: ExportId
    requested_by: UUID
    first_day: date
    last_day: date
    status: ExportStatus
    requested_at: datetime
    rows_total: int | None = None  # counted when the worker starts
    rows_written: int = 0
    size_bytes: int = 0
    chunk_count: int = 0
    resume_placed_at: datetime | None = None
    resume_order_id: UUID | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # Finished exports (and their files) are purged after this instant.
    expires_at: datetime | None = None
    failure_reason: str | None = None
    version: int = 0

    @classmethod
    def request(
        cls,
        *,
        export_id: ExportId,
        requested_by: UUID,
        first_day: date,
        last_day: date,
        at: datetime,
    ) -> OrderExport:
        export = cls(
            id_=export_id,
            requested_by=requested_by,
            first_day=first_day,
            last_day=last_day,
            status=ExportStatus.QUEUED,
            requested_at=at,
        )
        export.record(
            OrderExportRequested(
                aggregate_id=export_id,
                occurred_at=at,
                requested_by=requested_by,
                first_day=first_day.isoformat(),
                last_day=last_day.isoformat(),
            )
        )
        return export

    @property
    def position(self) -> ExportPosition | None:
        if self.resume_placed_at is None or self.resume_order_id is None:
            return None
        return ExportPosition(self.resume_placed_at, self.resume_order_id)

    @property
    def percent(self) -> float:
        return progress_percent(self.status, self.rows_written, self.rows_total)

    def start(self, rows_total: int, *, at: datetime) -> None:
        if self.status is ExportStatus.QUEUED:
            self.status = ExportStatus.RUNNING
            self.rows_total = rows_total
            self.started_at = at

    def append_chunk(
        self, *, rows: int, size: int, last: ExportPosition | None, max_bytes: int
    ) -> int:
        """Account for the next chunk and return its sequence number; ChunkRefusedError when
        it would take the file past max_bytes."""
        if self.status is not ExportStatus.RUNNING:
            raise ExportFinishedError(
                "Only a running export takes chunks.", current_status=self.status.value
            )
        if self.size_bytes + size > max_bytes:
            raise ChunkRefusedError
        sequence = self.chunk_count
        self.chunk_count += 1
        self.rows_written += rows
        self.size_bytes += size
        if last is not None:
            self.resume_placed_at, self.resume_order_id = last.placed_at, last.order_id
        return sequence

    def hand_over(self, *, at: datetime) -> None:
        """Ask for a fresh task to carry on (OrderExportContinued); nothing to do once the export
        is finished."""
        if self.status is ExportStatus.RUNNING:
            self.record(
                OrderExportContinued(
                    aggregate_id=self.id_, occurred_at=at, rows_written=self.rows_written
                )
            )

    def complete(self, *, at: datetime, keep_for: timedelta) -> None:
        self._finish(ExportStatus.COMPLETED, at=at, keep_for=keep_for)

    def fail(self, reason: str, *, at: datetime, keep_for: timedelta) -> None:
        self._finish(ExportStatus.FAILED, at=at, keep_for=keep_for)
        self.failure_reason = reason

    def cancel(self, *, at: datetime, keep_for: timedelta) -> bool:
        """Stop a queued or running export; False when it was cancelled already (idempotent).
        ExportFinishedError for one that completed or failed."""
        if self.status is ExportStatus.CANCELLED:
            return False
        self._finish(ExportStatus.CANCELLED, at=at, keep_for=keep_for)
        return True

    def _finish(self, status: ExportStatus, *, at: datetime, keep_for: timedelta) -> None:
        if self.status.is_finished:
            raise ExportFinishedError(
                f"The export is {self.status.value} already.", current_status=self.status.value
            )
        self.status = status
        self.finished_at = at
        self.expires_at = at + keep_for
