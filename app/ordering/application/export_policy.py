from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportPolicy:
    """Operators' limits on order exports (APP_EXPORT_*)."""

    chunk_rows: int = 1000  # orders per chunk: one transaction, one stored piece
    max_bytes: int = 50 * 1024 * 1024  # a larger file fails with "too_large"
    retention: timedelta = timedelta(hours=24)  # finished exports are purged after this
    max_unfinished: int = 3  # queued or running exports per requester
