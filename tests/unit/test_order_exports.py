"""Order exports without a database: the aggregate, the CSV format and the use cases on fakes."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from unittest.mock import create_autospec
from uuid import UUID, uuid4

import pytest

from app.ordering.application.commands.cancel_order_export import (
    CancelOrderExport,
    CancelOrderExportRequest,
)
from app.ordering.application.commands.fail_order_export import (
    FailOrderExport,
    FailOrderExportRequest,
)
from app.ordering.application.commands.hand_over_order_export import (
    HandOverOrderExport,
    HandOverOrderExportRequest,
)
from app.ordering.application.commands.purge_order_exports import (
    PurgeOrderExports,
    PurgeOrderExportsRequest,
)
from app.ordering.application.commands.start_order_export import (
    StartOrderExport,
    StartOrderExportRequest,
)
from app.ordering.application.commands.write_export_chunk import (
    WriteExportChunk,
    WriteExportChunkRequest,
    WriteExportChunkResponse,
)
from app.ordering.application.errors import InvalidDateRangeError
from app.ordering.application.export_csv import HEADER, render
from app.ordering.application.export_policy import ExportPolicy
from app.ordering.application.export_view import export_view
from app.ordering.application.ports.order_exports import (
    ExportRange,
    ExportRow,
    OrderExportReader,
    OrderExportView,
)
from app.ordering.application.queries.download_order_export import (
    DownloadOrderExport,
    DownloadOrderExportRequest,
)
from app.ordering.application.queries.get_order_export import (
    GetOrderExport,
    GetOrderExportRequest,
)
from app.ordering.application.queries.list_order_exports import (
    ListOrderExports,
    ListOrderExportsRequest,
)
from app.ordering.domain.errors import (
    ExportExpiredError,
    ExportFinishedError,
    ExportNotFoundError,
    ExportNotReadyError,
    TooManyExportsError,
)
from app.ordering.domain.events import OrderExportContinued, OrderExportRequested
from app.ordering.domain.order_export import (
    INTERNAL_ERROR,
    TOO_LARGE,
    ChunkRefusedError,
    ExportId,
    ExportPosition,
    ExportStatus,
    OrderExport,
    has_expired,
    is_downloadable,
    progress_percent,
)
from app.shared.application.actor import Actor
from app.shared.application.errors import AuthorizationError
from app.shared.application.pagination import Page
from app.shared.domain.role import Role

REQUESTED = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)
STARTED = REQUESTED + timedelta(minutes=1)
FINISHED = REQUESTED + timedelta(minutes=2)
NOW = REQUESTED + timedelta(minutes=10)
FIRST_DAY = date(2024, 6, 1)
LAST_DAY = date(2024, 6, 30)
RETENTION = timedelta(hours=24)
POLICY = ExportPolicy(chunk_rows=2, max_bytes=100_000, retention=RETENTION)
ROWS_PLACED = datetime(2024, 6, 10, 8, 0, tzinfo=UTC)

STAFF = Actor(user_id=uuid4(), role=Role.STAFF)
OTHER_STAFF = Actor(user_id=uuid4(), role=Role.STAFF)
ADMIN = Actor(user_id=uuid4(), role=Role.ADMIN)
SUPER_ADMIN = Actor(user_id=uuid4(), role=Role.SUPER_ADMIN)
CUSTOMER = Actor(user_id=uuid4(), role=Role.CUSTOMER)

FINISHED_STATUSES = [ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED]
UNFINISHED_STATUSES = [ExportStatus.QUEUED, ExportStatus.RUNNING]


def make_export(
    status: ExportStatus = ExportStatus.QUEUED,
    *,
    requested_by: UUID = STAFF.user_id,
    first_day: date = FIRST_DAY,
    last_day: date = LAST_DAY,
) -> OrderExport:
    """An export brought to ``status`` through the aggregate's own transitions, events pulled."""
    export = OrderExport.request(
        export_id=ExportId(uuid4()),
        requested_by=requested_by,
        first_day=first_day,
        last_day=last_day,
        at=REQUESTED,
    )
    export.pull_events()
    if status is ExportStatus.QUEUED:
        return export
    if status is ExportStatus.CANCELLED:
        export.cancel(at=FINISHED, keep_for=RETENTION)
        return export
    export.start(3, at=STARTED)
    if status is ExportStatus.COMPLETED:
        export.append_chunk(rows=3, size=120, last=None, max_bytes=POLICY.max_bytes)
        export.complete(at=FINISHED, keep_for=RETENTION)
    elif status is ExportStatus.FAILED:
        export.fail(INTERNAL_ERROR, at=FINISHED, keep_for=RETENTION)
    return export


def make_row(n: int) -> ExportRow:
    """The n-th order of a range: placed n minutes after ROWS_PLACED, every column filled."""
    placed_at = ROWS_PLACED + timedelta(minutes=n)
    return ExportRow(
        order_id=UUID(int=n + 1),
        placed_at=placed_at,
        customer_id=UUID(int=1000 + n),
        status="delivered",
        currency="EUR",
        total_amount=f"{n + 1}.50",
        line_count=2,
        item_count=3,
        paid_at=placed_at + timedelta(minutes=1),
        payment_reference=f"sandbox_{n}",
        shipped_at=placed_at + timedelta(hours=1),
        delivered_at=placed_at + timedelta(days=1),
        cancelled_at=None,
        cancellation_reason=None,
    )


def make_rows(count: int) -> list[ExportRow]:
    return [make_row(n) for n in range(count)]


def parse(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode(), newline="")))


# --- fakes of the ports -------------------------------------------------------------------------


class FakeActors:
    def __init__(self, actor: Actor) -> None:
        self.actor = actor

    async def current(self) -> Actor:
        return self.actor

    async def optional(self) -> Actor | None:
        return self.actor


class FakeExports:
    """The aggregate's store; remembers which exports were locked."""

    def __init__(self, journal: list[str], exports: Iterable[OrderExport]) -> None:
        self._journal = journal
        self.stored = {export.id_: export for export in exports}
        self.added: list[OrderExport] = []
        self.locked: list[ExportId] = []
        self.expired = 0  # what delete_expired() reports

    def add(self, export: OrderExport) -> None:
        self._journal.append("exports.add")
        self.added.append(export)
        self.stored[export.id_] = export

    async def get(self, export_id: ExportId, *, for_update: bool = False) -> OrderExport | None:
        if for_update:
            self.locked.append(export_id)
        return self.stored.get(export_id)

    async def count_unfinished(self, requested_by: UUID) -> int:
        self._journal.append("exports.count_unfinished")
        return sum(
            1
            for export in self.stored.values()
            if export.requested_by == requested_by and not export.status.is_finished
        )

    async def delete_expired(self, retention: timedelta) -> int:
        self._journal.append(f"exports.delete_expired({retention})")
        return self.expired


class FakeFiles:
    """Chunks by export and sequence; a sequence written twice fails like the primary key."""

    def __init__(self, journal: list[str]) -> None:
        self._journal = journal
        self.chunks: dict[ExportId, dict[int, bytes]] = {}
        self.discarded: list[ExportId] = []

    async def append(self, export_id: ExportId, sequence: int, content: bytes) -> None:
        self._journal.append("files.append")
        chunks = self.chunks.setdefault(export_id, {})
        if sequence in chunks:
            raise AssertionError(f"chunk {sequence} of {export_id} written twice")
        chunks[sequence] = content

    async def discard(self, export_id: ExportId) -> None:
        self._journal.append("files.discard")
        self.discarded.append(export_id)
        self.chunks.pop(export_id, None)

    async def read(self, export_id: ExportId) -> AsyncIterator[bytes]:
        chunks = self.chunks.get(export_id, {})
        for sequence in sorted(chunks):
            yield chunks[sequence]

    def sequences(self, export_id: ExportId) -> list[int]:
        return sorted(self.chunks.get(export_id, {}))

    def content(self, export_id: ExportId) -> bytes:
        chunks = self.chunks.get(export_id, {})
        return b"".join(chunks[sequence] for sequence in sorted(chunks))


class FakeOrders:
    """The orders of the range, in keyset order; remembers what it was asked."""

    def __init__(self, rows: Sequence[ExportRow]) -> None:
        self._rows = sorted(rows, key=lambda row: (row["placed_at"], row["order_id"]))
        self.counted: list[ExportRange] = []
        self.asked: list[tuple[ExportRange, ExportPosition | None, int]] = []

    async def count(self, range_: ExportRange) -> int:
        self.counted.append(range_)
        return len(self._rows)

    async def rows(
        self, range_: ExportRange, *, after: ExportPosition | None, limit: int
    ) -> list[ExportRow]:
        self.asked.append((range_, after, limit))
        return [
            row
            for row in self._rows
            if after is None
            or (row["placed_at"], row["order_id"]) > (after.placed_at, after.order_id)
        ][:limit]


class FakeReader:
    """The status view, read from the same store as the repository (as the SQL reader does)."""

    def __init__(self, exports: FakeExports) -> None:
        self._exports = exports

    async def get(self, export_id: ExportId) -> OrderExportView | None:
        export = self._exports.stored.get(export_id)
        return None if export is None else export_view(export)

    async def search(
        self, *, requested_by: UUID | None, limit: int, cursor: str | None
    ) -> Page[OrderExportView]:
        """Newest first, ``limit`` at most; cursors are the SQL reader's business."""
        assert cursor is None
        exports = sorted(
            (e for e in self._exports.stored.values() if requested_by in (None, e.requested_by)),
            key=lambda e: e.requested_at,
            reverse=True,
        )
        return Page(items=[export_view(e) for e in exports[:limit]], next_cursor=None)


class FakeTransaction:
    def __init__(self, journal: list[str]) -> None:
        self._journal = journal
        self.commits = 0

    async def flush(self) -> None:
        self._journal.append("transaction.flush")

    async def commit(self) -> None:
        self._journal.append("transaction.commit")
        self.commits += 1


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class World:
    """Every port of the export use cases as an in-memory fake, and the use cases on them."""

    def __init__(
        self,
        actor: Actor = STAFF,
        *exports: OrderExport,
        rows: Sequence[ExportRow] = (),
        policy: ExportPolicy = POLICY,
    ) -> None:
        self.journal: list[str] = []
        self.actors = FakeActors(actor)
        self.exports = FakeExports(self.journal, exports)
        self.files = FakeFiles(self.journal)
        self.orders = FakeOrders(rows)
        self.reader = FakeReader(self.exports)
        self.transaction = FakeTransaction(self.journal)
        self.clock = FakeClock(NOW)
        self.policy = policy

    def start(self) -> StartOrderExport:
        return StartOrderExport(
            self.actors, self.exports, self.policy, self.transaction, self.clock
        )

    def cancel(self) -> CancelOrderExport:
        return CancelOrderExport(
            self.actors, self.exports, self.files, self.policy, self.transaction, self.clock
        )

    def write(self) -> WriteExportChunk:
        return WriteExportChunk(
            self.exports, self.orders, self.files, self.policy, self.transaction, self.clock
        )

    def fail(self) -> FailOrderExport:
        return FailOrderExport(self.exports, self.files, self.policy, self.transaction, self.clock)

    def hand_over(self) -> HandOverOrderExport:
        return HandOverOrderExport(self.exports, self.transaction, self.clock)

    def purge(self) -> PurgeOrderExports:
        return PurgeOrderExports(self.exports, self.transaction)

    def get(self) -> GetOrderExport:
        return GetOrderExport(self.actors, self.reader)

    def list_(self) -> ListOrderExports:
        return ListOrderExports(self.actors, self.reader)

    def download(self) -> DownloadOrderExport:
        return DownloadOrderExport(self.actors, self.reader, self.files, self.clock)

    async def write_chunk(self, export: OrderExport) -> WriteExportChunkResponse:
        return await self.write()(WriteExportChunkRequest(export_id=export.id_))

    async def write_all(self, export: OrderExport, *, limit: int = 50) -> int:
        """Write chunks until the use case says there are no more; the number of calls."""
        for calls in range(1, limit + 1):
            if not (await self.write_chunk(export)).more:
                return calls
        raise AssertionError(f"the export still wanted more after {limit} chunks")


# --- the aggregate: requesting and starting -----------------------------------------------------


def test_a_requested_export_is_queued_with_nothing_counted_or_written() -> None:
    export = make_export()

    assert export.status is ExportStatus.QUEUED
    assert export.requested_at == REQUESTED
    assert (export.rows_total, export.rows_written, export.size_bytes, export.chunk_count) == (
        None,
        0,
        0,
        0,
    )
    assert (export.started_at, export.finished_at, export.expires_at) == (None, None, None)
    assert export.failure_reason is None
    assert export.position is None


def test_requesting_an_export_records_order_export_requested() -> None:
    export_id = ExportId(uuid4())

    export = OrderExport.request(
        export_id=export_id,
        requested_by=STAFF.user_id,
        first_day=FIRST_DAY,
        last_day=LAST_DAY,
        at=REQUESTED,
    )

    [event] = export.pull_events()
    assert isinstance(event, OrderExportRequested)
    assert event.aggregate_type == "order_export"
    assert event.aggregate_id == export_id
    assert event.occurred_at == REQUESTED
    assert event.requested_by == STAFF.user_id
    assert (event.first_day, event.last_day) == ("2024-06-01", "2024-06-30")


def test_starting_a_queued_export_runs_it_with_its_row_count() -> None:
    export = make_export()

    export.start(42, at=STARTED)

    assert export.status is ExportStatus.RUNNING
    assert export.rows_total == 42
    assert export.started_at == STARTED


def test_starting_a_running_export_again_changes_nothing() -> None:
    export = make_export(ExportStatus.RUNNING)

    export.start(99, at=NOW)

    assert export.status is ExportStatus.RUNNING
    assert (export.rows_total, export.started_at) == (3, STARTED)


def test_starting_a_cancelled_export_does_not_revive_it() -> None:
    export = make_export(ExportStatus.CANCELLED)

    export.start(5, at=NOW)

    assert export.status is ExportStatus.CANCELLED
    assert (export.rows_total, export.started_at) == (None, None)


# --- the aggregate: chunks ----------------------------------------------------------------------


def test_chunks_get_consecutive_sequence_numbers_from_zero() -> None:
    export = make_export(ExportStatus.RUNNING)

    sequences = [export.append_chunk(rows=1, size=10, last=None, max_bytes=1000) for _ in range(3)]

    assert sequences == [0, 1, 2]
    assert export.chunk_count == 3


def test_a_chunk_adds_its_rows_and_bytes() -> None:
    export = make_export(ExportStatus.RUNNING)

    export.append_chunk(rows=2, size=100, last=None, max_bytes=1000)
    export.append_chunk(rows=1, size=40, last=None, max_bytes=1000)

    assert (export.rows_written, export.size_bytes) == (3, 140)


def test_a_chunk_moves_the_resume_position_to_its_last_order() -> None:
    export = make_export(ExportStatus.RUNNING)
    first = ExportPosition(ROWS_PLACED, UUID(int=1))
    second = ExportPosition(ROWS_PLACED + timedelta(minutes=1), UUID(int=2))

    export.append_chunk(rows=1, size=10, last=first, max_bytes=1000)
    export.append_chunk(rows=1, size=10, last=second, max_bytes=1000)

    assert export.position == second
    assert (export.resume_placed_at, export.resume_order_id) == (second.placed_at, UUID(int=2))


def test_a_chunk_without_orders_keeps_the_resume_position() -> None:
    export = make_export(ExportStatus.RUNNING)
    last = ExportPosition(ROWS_PLACED, UUID(int=7))
    export.append_chunk(rows=1, size=10, last=last, max_bytes=1000)

    export.append_chunk(rows=0, size=5, last=None, max_bytes=1000)

    assert export.position == last


def test_a_chunk_that_fills_the_cap_exactly_is_taken() -> None:
    export = make_export(ExportStatus.RUNNING)
    export.append_chunk(rows=1, size=600, last=None, max_bytes=1000)

    sequence = export.append_chunk(rows=1, size=400, last=None, max_bytes=1000)

    assert sequence == 1
    assert export.size_bytes == 1000


def test_a_chunk_past_the_cap_is_refused_and_counts_for_nothing() -> None:
    export = make_export(ExportStatus.RUNNING)
    kept = ExportPosition(ROWS_PLACED, UUID(int=1))
    export.append_chunk(rows=2, size=600, last=kept, max_bytes=1000)

    with pytest.raises(ChunkRefusedError):
        export.append_chunk(rows=5, size=401, last=ExportPosition(NOW, UUID(int=9)), max_bytes=1000)

    assert (export.chunk_count, export.rows_written, export.size_bytes) == (1, 2, 600)
    assert export.position == kept
    assert export.status is ExportStatus.RUNNING


@pytest.mark.parametrize(
    "status",
    [ExportStatus.QUEUED, ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED],
)
def test_only_a_running_export_takes_chunks(status: ExportStatus) -> None:
    export = make_export(status)
    before = (export.chunk_count, export.rows_written, export.size_bytes)

    with pytest.raises(ExportFinishedError) as caught:
        export.append_chunk(rows=1, size=10, last=None, max_bytes=1000)

    assert caught.value.context == {"current_status": status.value}
    assert (export.chunk_count, export.rows_written, export.size_bytes) == before


# --- the aggregate: finishing -------------------------------------------------------------------


def test_completing_an_export_stamps_its_finish_and_expiry() -> None:
    export = make_export(ExportStatus.RUNNING)

    export.complete(at=NOW, keep_for=RETENTION)

    assert export.status is ExportStatus.COMPLETED
    assert (export.finished_at, export.expires_at) == (NOW, NOW + RETENTION)
    assert export.failure_reason is None


def test_handing_over_a_running_export_records_order_export_continued() -> None:
    export = make_export(ExportStatus.RUNNING)

    export.hand_over(at=NOW)

    [event] = export.pull_events()
    assert isinstance(event, OrderExportContinued)
    assert (event.aggregate_id, event.occurred_at) == (export.id_, NOW)
    assert event.rows_written == export.rows_written


@pytest.mark.parametrize("status", [ExportStatus.QUEUED, *FINISHED_STATUSES])
def test_an_export_that_is_not_running_hands_nothing_over(status: ExportStatus) -> None:
    export = make_export(status)

    export.hand_over(at=NOW)

    assert export.pull_events() == []


def test_failing_an_export_records_its_reason_and_expiry() -> None:
    export = make_export(ExportStatus.RUNNING)

    export.fail(TOO_LARGE, at=NOW, keep_for=RETENTION)

    assert export.status is ExportStatus.FAILED
    assert export.failure_reason == "too_large"
    assert (export.finished_at, export.expires_at) == (NOW, NOW + RETENTION)


@pytest.mark.parametrize("status", UNFINISHED_STATUSES)
def test_cancelling_a_queued_or_running_export_stops_it(status: ExportStatus) -> None:
    export = make_export(status)

    assert export.cancel(at=NOW, keep_for=RETENTION) is True

    assert export.status is ExportStatus.CANCELLED
    assert (export.finished_at, export.expires_at) == (NOW, NOW + RETENTION)


def test_cancelling_twice_answers_false_and_keeps_the_first_cancellation() -> None:
    export = make_export(ExportStatus.RUNNING)
    export.cancel(at=FINISHED, keep_for=RETENTION)

    assert export.cancel(at=NOW, keep_for=timedelta(days=7)) is False

    assert export.status is ExportStatus.CANCELLED
    assert (export.finished_at, export.expires_at) == (FINISHED, FINISHED + RETENTION)


FINISHERS: dict[str, Callable[[OrderExport], object]] = {
    "complete": lambda export: export.complete(at=NOW, keep_for=RETENTION),
    "fail": lambda export: export.fail(TOO_LARGE, at=NOW, keep_for=RETENTION),
    "cancel": lambda export: export.cancel(at=NOW, keep_for=RETENTION),
}


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (ExportStatus.COMPLETED, "complete"),
        (ExportStatus.COMPLETED, "fail"),
        (ExportStatus.COMPLETED, "cancel"),
        (ExportStatus.FAILED, "complete"),
        (ExportStatus.FAILED, "fail"),
        (ExportStatus.FAILED, "cancel"),
        (ExportStatus.CANCELLED, "complete"),
        (ExportStatus.CANCELLED, "fail"),
    ],
)
def test_a_finished_export_cannot_be_finished_again(status: ExportStatus, action: str) -> None:
    export = make_export(status)
    before = (export.status, export.finished_at, export.expires_at, export.failure_reason)

    with pytest.raises(ExportFinishedError) as caught:
        FINISHERS[action](export)

    assert caught.value.context == {"current_status": status.value}
    assert (export.status, export.finished_at, export.expires_at, export.failure_reason) == before


@pytest.mark.parametrize(
    ("status", "finished"),
    [
        (ExportStatus.QUEUED, False),
        (ExportStatus.RUNNING, False),
        (ExportStatus.COMPLETED, True),
        (ExportStatus.FAILED, True),
        (ExportStatus.CANCELLED, True),
    ],
)
def test_completed_failed_and_cancelled_are_the_finished_statuses(
    status: ExportStatus, finished: bool
) -> None:
    assert status.is_finished is finished


@pytest.mark.parametrize(
    ("at", "expired"),
    [
        (FINISHED + RETENTION - timedelta(microseconds=1), False),
        (FINISHED + RETENTION, True),
        (FINISHED + RETENTION + timedelta(days=1), True),
    ],
)
def test_a_finished_export_expires_from_its_expiry_instant_on(at: datetime, expired: bool) -> None:
    export = make_export(ExportStatus.COMPLETED)

    assert has_expired(export.expires_at, at=at) is expired
    assert is_downloadable(export.status, export.expires_at, at=at) is not expired


@pytest.mark.parametrize("status", UNFINISHED_STATUSES)
def test_an_unfinished_export_never_expires(status: ExportStatus) -> None:
    export = make_export(status)
    later = REQUESTED + timedelta(days=3650)

    assert has_expired(export.expires_at, at=later) is False
    assert is_downloadable(export.status, export.expires_at, at=later) is False


# --- the aggregate: progress --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "written", "total", "percent"),
    [
        (ExportStatus.QUEUED, 0, None, 0.0),
        (ExportStatus.RUNNING, 0, 0, 0.0),
        (ExportStatus.RUNNING, 0, 3, 0.0),
        (ExportStatus.RUNNING, 1, 3, 33.3),
        (ExportStatus.RUNNING, 2, 3, 66.7),
        (ExportStatus.RUNNING, 3, 3, 99.9),  # all written, not yet completed
        (ExportStatus.RUNNING, 7, 3, 99.9),
        (ExportStatus.FAILED, 1, 4, 25.0),
        (ExportStatus.CANCELLED, 1, 8, 12.5),
        (ExportStatus.COMPLETED, 0, 0, 100.0),
        (ExportStatus.COMPLETED, 0, None, 100.0),
        (ExportStatus.COMPLETED, 1, 3, 100.0),
    ],
)
def test_progress_is_a_percentage_with_one_decimal_and_full_once_completed(
    status: ExportStatus, written: int, total: int | None, percent: float
) -> None:
    assert progress_percent(status, written, total) == percent


def test_an_exports_percent_follows_its_rows_written() -> None:
    export = make_export()
    export.start(8, at=STARTED)

    export.append_chunk(rows=3, size=10, last=None, max_bytes=1000)

    assert export.percent == 37.5


# --- CSV ----------------------------------------------------------------------------------------


def test_the_header_is_written_only_when_asked() -> None:
    assert render([], header=False) == b""
    assert render([], header=True) == (",".join(HEADER) + "\r\n").encode()


def test_the_header_names_every_column_once_in_order() -> None:
    assert HEADER == (
        "order_id",
        "placed_at",
        "customer_id",
        "status",
        "currency",
        "total_amount",
        "line_count",
        "item_count",
        "paid_at",
        "payment_reference",
        "shipped_at",
        "delivered_at",
        "cancelled_at",
        "cancellation_reason",
    )


def test_the_header_comes_first_and_rows_follow_without_another() -> None:
    rows = make_rows(2)

    parsed = parse(render(rows, header=True))

    assert parsed[0] == list(HEADER)
    assert [line[0] for line in parsed[1:]] == [str(row["order_id"]) for row in rows]


def test_a_row_renders_its_columns_in_header_order() -> None:
    row = make_row(0)
    row["cancelled_at"] = ROWS_PLACED + timedelta(hours=2)
    row["cancellation_reason"] = "changed my mind"

    content = render([row], header=False)

    assert content == (
        b"00000000-0000-0000-0000-000000000001,"
        b"2024-06-10T08:00:00+00:00,"
        b"00000000-0000-0000-0000-0000000003e8,"
        b"delivered,EUR,1.50,2,3,"
        b"2024-06-10T08:01:00+00:00,"
        b"sandbox_0,"
        b"2024-06-10T09:00:00+00:00,"
        b"2024-06-11T08:00:00+00:00,"
        b"2024-06-10T10:00:00+00:00,"
        b"changed my mind\r\n"
    )


def test_every_record_ends_with_crlf() -> None:
    content = render(make_rows(3), header=True)

    assert content.count(b"\r\n") == 4
    assert content.endswith(b"\r\n")
    assert b"\n" not in content.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("left, right", '"left, right"'),
        ('say "hi"', '"say ""hi"""'),
        ("two\nlines", '"two\nlines"'),
        ("two\r\nlines", '"two\r\nlines"'),
    ],
)
def test_commas_quotes_and_newlines_are_quoted_per_rfc_4180(text: str, cell: str) -> None:
    row = make_row(0)
    row["cancellation_reason"] = text

    content = render([row], header=False).decode()

    assert content.endswith("," + cell + "\r\n")
    assert parse(content.encode())[0][-1] == text


def test_plain_text_is_not_quoted() -> None:
    row = make_row(0)
    row["cancellation_reason"] = "out of stock"

    assert render([row], header=False).decode().endswith(",out of stock\r\n")


@pytest.mark.parametrize("column", ["payment_reference", "cancellation_reason"])
@pytest.mark.parametrize(
    "text",
    ["=HYPERLINK(1)", "+1+1", "-2+3", "@SUM(A1)", "\tindent", "\rreturn"],
)
def test_free_text_that_a_spreadsheet_would_evaluate_gets_a_leading_apostrophe(
    column: str, text: str
) -> None:
    row = make_row(0)
    if column == "payment_reference":
        row["payment_reference"] = text
    else:
        row["cancellation_reason"] = text

    [parsed] = parse(render([row], header=False))

    assert parsed[HEADER.index(column)] == "'" + text


@pytest.mark.parametrize("text", ["a=b", "ok-1", "x+y", "mail@example.com", "'quoted"])
def test_free_text_with_formula_characters_after_the_start_is_left_alone(text: str) -> None:
    row = make_row(0)
    row["cancellation_reason"] = text

    [parsed] = parse(render([row], header=False))

    assert parsed[-1] == text


def test_missing_values_are_empty_cells() -> None:
    row = make_row(0)
    row["paid_at"] = None
    row["payment_reference"] = None
    row["shipped_at"] = None
    row["delivered_at"] = None
    row["cancelled_at"] = None
    row["cancellation_reason"] = None

    [parsed] = parse(render([row], header=False))

    assert parsed[HEADER.index("paid_at") :] == [""] * 6


def test_times_are_iso_8601_and_read_back_to_the_same_instant() -> None:
    row = make_row(0)
    row["placed_at"] = datetime(2024, 6, 10, 8, 0, 5, 123456, tzinfo=UTC)

    [parsed] = parse(render([row], header=False))

    assert parsed[1] == "2024-06-10T08:00:05.123456+00:00"
    assert datetime.fromisoformat(parsed[1]) == row["placed_at"]


def test_the_file_is_utf_8() -> None:
    row = make_row(0)
    row["cancellation_reason"] = "Zu spät geliefert ✓"

    content = render([row], header=False)

    assert "Zu spät geliefert ✓".encode() in content


# --- StartOrderExport ---------------------------------------------------------------------------


def start_request(
    first_day: date = FIRST_DAY, last_day: date = LAST_DAY
) -> StartOrderExportRequest:
    return StartOrderExportRequest(first_day=first_day, last_day=last_day)


async def test_staff_start_an_export_that_is_queued_in_their_name() -> None:
    world = World(STAFF)

    view = await world.start()(start_request())

    [export] = world.exports.added
    assert view == export_view(export)
    assert view["status"] == "queued"
    assert view["requested_by"] == str(STAFF.user_id)
    assert (view["first_day"], view["last_day"]) == (FIRST_DAY, LAST_DAY)
    assert view["requested_at"] == NOW
    assert (view["rows_total"], view["rows_written"], view["percent"]) == (None, 0, 0.0)


async def test_starting_an_export_counts_the_unfinished_then_adds_it_and_commits_once() -> None:
    world = World(STAFF)

    await world.start()(start_request())

    assert world.journal == ["exports.count_unfinished", "exports.add", "transaction.commit"]


async def test_a_started_export_carries_its_requested_event_into_the_commit() -> None:
    world = World(STAFF)

    view = await world.start()(start_request())

    [export] = world.exports.added
    [event] = export.pull_events()
    assert isinstance(event, OrderExportRequested)
    assert str(event.aggregate_id) == view["id"]
    assert event.requested_by == STAFF.user_id


async def test_every_export_gets_its_own_id() -> None:
    world = World(STAFF)

    first = await world.start()(start_request())
    second = await world.start()(start_request())

    assert first["id"] != second["id"]


@pytest.mark.parametrize("actor", [STAFF, ADMIN, SUPER_ADMIN])
async def test_staff_and_above_may_start_an_export(actor: Actor) -> None:
    world = World(actor)

    view = await world.start()(start_request())

    assert view["requested_by"] == str(actor.user_id)


async def test_customers_may_not_start_an_export() -> None:
    world = World(CUSTOMER)

    with pytest.raises(AuthorizationError):
        await world.start()(start_request())

    assert world.exports.added == []
    assert world.transaction.commits == 0


async def test_a_customer_is_refused_before_the_range_is_judged() -> None:
    world = World(CUSTOMER)

    with pytest.raises(AuthorizationError):
        await world.start()(start_request(LAST_DAY, FIRST_DAY))


@pytest.mark.parametrize(
    ("first_day", "last_day"),
    [
        (date(2024, 6, 2), date(2024, 6, 1)),  # backwards
        (date(2024, 1, 1), date(2025, 1, 1)),  # 367 days
        (date(2020, 1, 1), date(2024, 12, 31)),  # years
        (date.max - timedelta(days=3), date.max),  # no day after the last one
    ],
)
async def test_a_backwards_or_overlong_range_is_refused_and_nothing_is_queued(
    first_day: date, last_day: date
) -> None:
    world = World(STAFF)

    with pytest.raises(InvalidDateRangeError) as caught:
        await world.start()(start_request(first_day, last_day))

    assert caught.value.context == {
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
    }
    assert world.exports.added == []
    assert world.transaction.commits == 0


@pytest.mark.parametrize(
    ("first_day", "last_day"),
    [
        (date(2024, 6, 1), date(2024, 6, 1)),  # one day
        (date(2024, 1, 1), date(2024, 12, 31)),  # 366 days, a leap year
        (date(2023, 3, 1), date(2024, 2, 29)),  # 366 days across a leap day
    ],
)
async def test_ranges_of_one_to_366_days_are_accepted(first_day: date, last_day: date) -> None:
    world = World(STAFF)

    view = await world.start()(start_request(first_day, last_day))

    assert (view["first_day"], view["last_day"]) == (first_day, last_day)
    assert world.transaction.commits == 1


# --- CancelOrderExport --------------------------------------------------------------------------


def cancel_request(export: OrderExport) -> CancelOrderExportRequest:
    return CancelOrderExportRequest(export_id=export.id_)


@pytest.mark.parametrize("status", UNFINISHED_STATUSES)
async def test_the_requester_cancels_an_unfinished_export(status: ExportStatus) -> None:
    export = make_export(status)
    world = World(STAFF, export)

    view = await world.cancel()(cancel_request(export))

    assert export.status is ExportStatus.CANCELLED
    assert view == export_view(export)
    assert view["status"] == "cancelled"
    assert (view["finished_at"], view["expires_at"]) == (NOW, NOW + RETENTION)


async def test_cancelling_locks_the_export_then_discards_its_file_then_commits() -> None:
    export = make_export(ExportStatus.RUNNING)
    world = World(STAFF, export)
    await world.files.append(export.id_, 0, b"header\r\n")
    world.journal.clear()

    await world.cancel()(cancel_request(export))

    assert world.exports.locked == [export.id_]
    assert world.files.discarded == [export.id_]
    assert world.files.chunks == {}
    assert world.journal == ["files.discard", "transaction.commit"]


async def test_cancelling_keeps_finished_exports_for_the_policys_retention() -> None:
    export = make_export(ExportStatus.RUNNING)
    world = World(STAFF, export, policy=ExportPolicy(retention=timedelta(hours=2)))

    view = await world.cancel()(cancel_request(export))

    assert view["expires_at"] == NOW + timedelta(hours=2)


@pytest.mark.parametrize("actor", [ADMIN, SUPER_ADMIN])
async def test_admins_cancel_anyones_export(actor: Actor) -> None:
    export = make_export(ExportStatus.RUNNING, requested_by=OTHER_STAFF.user_id)
    world = World(actor, export)

    await world.cancel()(cancel_request(export))

    assert export.status is ExportStatus.CANCELLED
    assert world.files.discarded == [export.id_]


@pytest.mark.parametrize("actor", [OTHER_STAFF, CUSTOMER])
async def test_anyone_else_cannot_find_the_export_to_cancel(actor: Actor) -> None:
    export = make_export(ExportStatus.RUNNING, requested_by=STAFF.user_id)
    world = World(actor, export)

    with pytest.raises(ExportNotFoundError) as caught:
        await world.cancel()(cancel_request(export))

    assert caught.value.context == {"export_id": str(export.id_)}
    assert export.status is ExportStatus.RUNNING
    assert world.files.discarded == []
    assert world.transaction.commits == 0


async def test_a_requester_who_lost_the_staff_role_cannot_cancel_their_export() -> None:
    demoted = Actor(user_id=STAFF.user_id, role=Role.CUSTOMER)
    export = make_export(ExportStatus.RUNNING, requested_by=STAFF.user_id)
    world = World(demoted, export)

    with pytest.raises(ExportNotFoundError):
        await world.cancel()(cancel_request(export))

    assert export.status is ExportStatus.RUNNING


async def test_cancelling_a_missing_export_is_not_found() -> None:
    world = World(ADMIN)
    missing = uuid4()

    with pytest.raises(ExportNotFoundError) as caught:
        await world.cancel()(CancelOrderExportRequest(export_id=missing))

    assert caught.value.context == {"export_id": str(missing)}
    assert world.transaction.commits == 0


async def test_cancelling_twice_is_harmless_and_writes_nothing_the_second_time() -> None:
    export = make_export(ExportStatus.RUNNING)
    world = World(STAFF, export)
    await world.cancel()(cancel_request(export))
    world.journal.clear()
    world.clock.at = NOW + timedelta(hours=1)

    view = await world.cancel()(cancel_request(export))

    assert view["status"] == "cancelled"
    assert (view["finished_at"], view["expires_at"]) == (NOW, NOW + RETENTION)
    assert world.journal == []
    assert world.files.discarded == [export.id_]
    assert world.transaction.commits == 1


@pytest.mark.parametrize("status", [ExportStatus.COMPLETED, ExportStatus.FAILED])
async def test_a_completed_or_failed_export_cannot_be_cancelled_and_keeps_its_file(
    status: ExportStatus,
) -> None:
    export = make_export(status)
    world = World(STAFF, export)
    await world.files.append(export.id_, 0, b"header\r\n")

    with pytest.raises(ExportFinishedError) as caught:
        await world.cancel()(cancel_request(export))

    assert caught.value.context == {"current_status": status.value}
    assert export.status is status
    assert world.files.sequences(export.id_) == [0]
    assert world.transaction.commits == 0


# --- WriteExportChunk ---------------------------------------------------------------------------


async def test_the_first_chunk_starts_the_export_with_the_ranges_order_count() -> None:
    export = make_export()
    world = World(STAFF, export, rows=make_rows(5))

    await world.write_chunk(export)

    assert export.status is ExportStatus.RUNNING
    assert (export.rows_total, export.started_at) == (5, NOW)


async def test_orders_are_read_for_the_exports_days_placed_before_it_was_requested() -> None:
    export = make_export(first_day=date(2024, 2, 1), last_day=date(2024, 2, 29))
    world = World(STAFF, export, rows=make_rows(1))

    await world.write_chunk(export)

    expected = ExportRange(
        first_day=date(2024, 2, 1), last_day=date(2024, 2, 29), placed_before=REQUESTED
    )
    assert world.orders.counted == [expected]
    assert [range_ for range_, _, _ in world.orders.asked] == [expected]


async def test_the_orders_are_counted_once_however_many_chunks_follow() -> None:
    export = make_export()
    world = World(STAFF, export, rows=make_rows(5))

    await world.write_all(export)

    assert len(world.orders.counted) == 1
    assert export.rows_total == 5


async def test_a_chunk_locks_the_export() -> None:
    export = make_export()
    world = World(STAFF, export, rows=make_rows(1))

    await world.write_chunk(export)

    assert world.exports.locked == [export.id_]


async def test_the_first_chunk_holds_the_header_and_the_first_chunk_rows_orders() -> None:
    export = make_export()
    rows = make_rows(5)
    world = World(STAFF, export, rows=rows)

    response = await world.write_chunk(export)

    assert response.more is True
    assert world.files.sequences(export.id_) == [0]
    assert world.files.chunks[export.id_][0] == render(rows[:2], header=True)
    assert world.orders.asked[0][1:] == (None, POLICY.chunk_rows)


async def test_a_later_chunk_has_no_header_and_resumes_after_the_last_order_written() -> None:
    export = make_export()
    rows = make_rows(5)
    world = World(STAFF, export, rows=rows)
    await world.write_chunk(export)

    response = await world.write_chunk(export)

    assert response.more is True
    assert world.orders.asked[1][1] == ExportPosition(rows[1]["placed_at"], rows[1]["order_id"])
    assert world.files.chunks[export.id_][1] == render(rows[2:4], header=False)


async def test_each_chunk_records_progress() -> None:
    export = make_export()
    rows = make_rows(5)
    world = World(STAFF, export, rows=rows)

    await world.write_chunk(export)

    assert export.rows_written == 2
    assert export.size_bytes == len(render(rows[:2], header=True))
    assert export.position == ExportPosition(rows[1]["placed_at"], rows[1]["order_id"])
    assert export.percent == 40.0


async def test_each_chunk_is_committed_on_its_own() -> None:
    export = make_export()
    world = World(STAFF, export, rows=make_rows(5))

    calls = await world.write_all(export)

    assert calls == 3
    assert world.transaction.commits == 3
    assert world.journal == ["files.append", "transaction.commit"] * 3


async def test_a_short_chunk_completes_the_export() -> None:
    export = make_export()
    world = World(STAFF, export, rows=make_rows(5))
    await world.write_chunk(export)
    await world.write_chunk(export)
    world.clock.at = NOW + timedelta(minutes=3)

    response = await world.write_chunk(export)

    assert response.more is False
    assert export.status is ExportStatus.COMPLETED
    assert export.finished_at == NOW + timedelta(minutes=3)
    assert export.expires_at == NOW + timedelta(minutes=3) + RETENTION
    assert (export.rows_written, export.chunk_count, export.percent) == (5, 3, 100.0)


async def test_the_whole_file_is_the_header_and_every_order_once_in_order() -> None:
    export = make_export()
    rows = make_rows(5)
    world = World(STAFF, export, rows=rows)

    await world.write_all(export)

    content = world.files.content(export.id_)
    assert content == render(rows, header=True)
    assert export.size_bytes == len(content)
    parsed = parse(content)
    assert parsed[0] == list(HEADER)
    assert [line[0] for line in parsed[1:]] == [str(row["order_id"]) for row in rows]


async def test_a_full_last_chunk_completes_on_the_next_call_without_another_chunk() -> None:
    export = make_export()
    rows = make_rows(4)
    world = World(STAFF, export, rows=rows)
    assert (await world.write_chunk(export)).more is True
    assert (await world.write_chunk(export)).more is True

    response = await world.write_chunk(export)

    assert response.more is False
    assert export.status is ExportStatus.COMPLETED
    assert world.files.sequences(export.id_) == [0, 1]
    assert export.chunk_count == 2
    assert world.files.content(export.id_) == render(rows, header=True)


async def test_an_empty_range_gives_one_header_only_chunk_and_completes() -> None:
    export = make_export()
    world = World(STAFF, export, rows=[])

    response = await world.write_chunk(export)

    assert response.more is False
    assert world.files.sequences(export.id_) == [0]
    assert world.files.content(export.id_) == render([], header=True)
    assert export.status is ExportStatus.COMPLETED
    assert (export.rows_total, export.rows_written, export.chunk_count) == (0, 0, 1)
    assert export.position is None
    assert export.percent == 100.0
    assert world.transaction.commits == 1


async def test_a_chunk_past_the_size_cap_fails_the_export_as_too_large() -> None:
    export = make_export()
    rows = make_rows(5)
    first = render(rows[:2], header=True)
    world = World(STAFF, export, rows=rows, policy=ExportPolicy(chunk_rows=2, max_bytes=len(first)))
    assert (await world.write_chunk(export)).more is True

    response = await world.write_chunk(export)

    assert response.more is False
    assert export.status is ExportStatus.FAILED
    assert export.failure_reason == TOO_LARGE == "too_large"
    assert (export.finished_at, export.expires_at) == (NOW, NOW + RETENTION)
    assert (export.rows_written, export.size_bytes, export.chunk_count) == (2, len(first), 1)


async def test_a_too_large_export_drops_its_written_chunks_and_commits_the_failure() -> None:
    export = make_export()
    rows = make_rows(5)
    first = render(rows[:2], header=True)
    world = World(STAFF, export, rows=rows, policy=ExportPolicy(chunk_rows=2, max_bytes=len(first)))
    await world.write_chunk(export)
    world.journal.clear()

    await world.write_chunk(export)

    assert world.files.chunks == {}
    assert world.journal == ["files.discard", "transaction.commit"]


async def test_a_first_chunk_past_the_size_cap_fails_the_export_without_writing() -> None:
    export = make_export()
    world = World(STAFF, export, rows=make_rows(1), policy=ExportPolicy(max_bytes=10))

    response = await world.write_chunk(export)

    assert response.more is False
    assert export.status is ExportStatus.FAILED
    assert export.failure_reason == TOO_LARGE
    assert "files.append" not in world.journal
    assert world.files.discarded == [export.id_]


@pytest.mark.parametrize("status", FINISHED_STATUSES)
async def test_a_finished_export_takes_no_more_chunks(status: ExportStatus) -> None:
    export = make_export(status)
    before = export_view(export)
    world = World(STAFF, export, rows=make_rows(3))

    response = await world.write_chunk(export)

    assert response.more is False
    assert export_view(export) == before
    assert world.orders.counted == []
    assert world.orders.asked == []
    assert world.journal == []


async def test_a_cancel_between_chunks_stops_the_writer() -> None:
    export = make_export()
    world = World(STAFF, export, rows=make_rows(5))
    await world.write_chunk(export)
    await world.cancel()(cancel_request(export))
    world.journal.clear()

    response = await world.write_chunk(export)

    assert response.more is False
    assert export.status is ExportStatus.CANCELLED
    assert world.journal == []
    assert world.files.chunks == {}


async def test_a_missing_export_takes_no_chunks() -> None:
    world = World(STAFF, rows=make_rows(3))

    response = await world.write()(WriteExportChunkRequest(export_id=uuid4()))

    assert response.more is False
    assert world.orders.asked == []
    assert world.journal == []


# --- PurgeOrderExports --------------------------------------------------------------------------


async def test_the_purge_deletes_the_exports_past_their_time_and_commits_once() -> None:
    world = World(STAFF)
    world.exports.expired = 3

    removed = await world.purge()(PurgeOrderExportsRequest(retention=timedelta(days=7)))

    assert removed == 3
    assert world.journal == ["exports.delete_expired(7 days, 0:00:00)", "transaction.commit"]


# --- FailOrderExport ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", UNFINISHED_STATUSES)
async def test_failing_an_unfinished_export_marks_it_failed_with_an_internal_error(
    status: ExportStatus,
) -> None:
    export = make_export(status)
    world = World(STAFF, export)

    await world.fail()(FailOrderExportRequest(export_id=export.id_))

    assert export.status is ExportStatus.FAILED
    assert export.failure_reason == INTERNAL_ERROR == "internal_error"
    assert (export.finished_at, export.expires_at) == (NOW, NOW + RETENTION)


async def test_failing_an_export_keeps_the_reason_given() -> None:
    export = make_export(ExportStatus.RUNNING)
    world = World(STAFF, export)

    await world.fail()(FailOrderExportRequest(export_id=export.id_, reason="worker_lost"))

    assert export.failure_reason == "worker_lost"


async def test_failing_an_export_locks_it_drops_its_file_and_commits() -> None:
    export = make_export(ExportStatus.RUNNING)
    world = World(STAFF, export)
    await world.files.append(export.id_, 0, b"header\r\n")
    world.journal.clear()

    await world.fail()(FailOrderExportRequest(export_id=export.id_))

    assert world.exports.locked == [export.id_]
    assert world.files.chunks == {}
    assert world.journal == ["files.discard", "transaction.commit"]


@pytest.mark.parametrize("status", FINISHED_STATUSES)
async def test_failing_a_finished_export_changes_nothing(status: ExportStatus) -> None:
    export = make_export(status)
    before = export_view(export)
    world = World(STAFF, export)
    await world.files.append(export.id_, 0, b"header\r\n")
    world.journal.clear()

    await world.fail()(FailOrderExportRequest(export_id=export.id_, reason="late"))

    assert export_view(export) == before
    assert world.files.sequences(export.id_) == [0]
    assert world.journal == []


async def test_failing_a_missing_export_does_nothing() -> None:
    world = World(STAFF)

    await world.fail()(FailOrderExportRequest(export_id=uuid4()))

    assert world.journal == []


# --- HandOverOrderExport ------------------------------------------------------------------------


async def test_handing_over_locks_the_running_export_asks_for_a_fresh_task_and_commits() -> None:
    export = make_export(ExportStatus.RUNNING)
    world = World(STAFF, export)

    await world.hand_over()(HandOverOrderExportRequest(export_id=export.id_))

    assert world.exports.locked == [export.id_]
    [event] = export.pull_events()
    assert isinstance(event, OrderExportContinued)
    assert (event.aggregate_id, event.occurred_at) == (export.id_, NOW)
    assert world.journal == ["transaction.commit"]


async def test_handing_over_a_missing_export_does_nothing() -> None:
    world = World(STAFF)

    await world.hand_over()(HandOverOrderExportRequest(export_id=uuid4()))

    assert world.journal == []


# --- GetOrderExport -----------------------------------------------------------------------------


@pytest.mark.parametrize("actor", [STAFF, ADMIN, SUPER_ADMIN])
async def test_an_export_is_visible_to_its_requester_and_to_admins(actor: Actor) -> None:
    export = make_export(ExportStatus.RUNNING, requested_by=STAFF.user_id)
    world = World(actor, export)

    view = await world.get()(GetOrderExportRequest(export_id=export.id_))

    assert view == export_view(export)


@pytest.mark.parametrize("actor", [OTHER_STAFF, CUSTOMER])
async def test_anyone_else_cannot_find_the_export(actor: Actor) -> None:
    export = make_export(ExportStatus.RUNNING, requested_by=STAFF.user_id)
    world = World(actor, export)

    with pytest.raises(ExportNotFoundError) as caught:
        await world.get()(GetOrderExportRequest(export_id=export.id_))

    assert caught.value.context == {"export_id": str(export.id_)}


async def test_a_requester_who_lost_the_staff_role_no_longer_sees_their_export() -> None:
    export = make_export(requested_by=STAFF.user_id)
    world = World(Actor(user_id=STAFF.user_id, role=Role.CUSTOMER), export)

    with pytest.raises(ExportNotFoundError):
        await world.get()(GetOrderExportRequest(export_id=export.id_))


async def test_reading_a_missing_export_is_not_found() -> None:
    world = World(ADMIN)

    with pytest.raises(ExportNotFoundError):
        await world.get()(GetOrderExportRequest(export_id=uuid4()))


# --- DownloadOrderExport ------------------------------------------------------------------------


async def completed_export(world: World, rows: Sequence[ExportRow]) -> OrderExport:
    export = make_export(requested_by=STAFF.user_id)
    world.exports.stored[export.id_] = export
    world.orders = FakeOrders(rows)
    await world.write_all(export)
    assert export.status is ExportStatus.COMPLETED
    return export


async def download_content(world: World, export: OrderExport) -> bytes:
    response = await world.download()(DownloadOrderExportRequest(export_id=export.id_))
    return b"".join([chunk async for chunk in response.content])


async def test_a_completed_export_downloads_as_the_whole_csv() -> None:
    world = World(STAFF)
    rows = make_rows(5)
    export = await completed_export(world, rows)

    response = await world.download()(DownloadOrderExportRequest(export_id=export.id_))

    assert response.size_bytes == export.size_bytes
    assert b"".join([chunk async for chunk in response.content]) == render(rows, header=True)


async def test_the_download_streams_the_chunks_one_by_one_in_order() -> None:
    world = World(STAFF)
    rows = make_rows(5)
    export = await completed_export(world, rows)

    response = await world.download()(DownloadOrderExportRequest(export_id=export.id_))

    assert [chunk async for chunk in response.content] == [
        render(rows[:2], header=True),
        render(rows[2:4], header=False),
        render(rows[4:], header=False),
    ]


async def test_the_download_is_named_after_the_exports_days() -> None:
    world = World(STAFF)
    export = await completed_export(world, make_rows(1))

    response = await world.download()(DownloadOrderExportRequest(export_id=export.id_))

    assert response.filename == "orders-2024-06-01-to-2024-06-30.csv"


async def test_an_empty_export_downloads_as_the_header_alone() -> None:
    world = World(STAFF)
    export = await completed_export(world, [])

    assert await download_content(world, export) == render([], header=True)


@pytest.mark.parametrize(
    "status", [*UNFINISHED_STATUSES, ExportStatus.FAILED, ExportStatus.CANCELLED]
)
async def test_only_a_completed_export_can_be_downloaded(status: ExportStatus) -> None:
    export = make_export(status)
    world = World(STAFF, export)

    with pytest.raises(ExportNotReadyError) as caught:
        await world.download()(DownloadOrderExportRequest(export_id=export.id_))

    assert caught.value.context == {"current_status": status.value}


async def test_a_completed_export_downloads_until_just_before_it_expires() -> None:
    export = make_export(ExportStatus.COMPLETED)
    world = World(STAFF, export)
    assert export.expires_at is not None
    world.clock.at = export.expires_at - timedelta(microseconds=1)

    response = await world.download()(DownloadOrderExportRequest(export_id=export.id_))

    assert response.size_bytes == export.size_bytes


@pytest.mark.parametrize("late", [timedelta(0), timedelta(days=2)])
async def test_an_expired_export_is_gone(late: timedelta) -> None:
    export = make_export(ExportStatus.COMPLETED)
    world = World(STAFF, export)
    assert export.expires_at is not None
    world.clock.at = export.expires_at + late

    with pytest.raises(ExportExpiredError):
        await world.download()(DownloadOrderExportRequest(export_id=export.id_))


@pytest.mark.parametrize("actor", [ADMIN, SUPER_ADMIN])
async def test_admins_download_anyones_export(actor: Actor) -> None:
    world = World(actor)
    rows = make_rows(3)
    export = await completed_export(world, rows)

    assert await download_content(world, export) == render(rows, header=True)


@pytest.mark.parametrize("actor", [OTHER_STAFF, CUSTOMER])
async def test_anyone_else_cannot_find_the_export_to_download(actor: Actor) -> None:
    export = make_export(ExportStatus.COMPLETED, requested_by=STAFF.user_id)
    world = World(actor, export)

    with pytest.raises(ExportNotFoundError) as caught:
        await world.download()(DownloadOrderExportRequest(export_id=export.id_))

    assert caught.value.context == {"export_id": str(export.id_)}


async def test_someone_else_learns_nothing_about_an_unfinished_export_they_cannot_see() -> None:
    export = make_export(ExportStatus.RUNNING, requested_by=STAFF.user_id)
    world = World(OTHER_STAFF, export)

    with pytest.raises(ExportNotFoundError):
        await world.download()(DownloadOrderExportRequest(export_id=export.id_))


async def test_downloading_a_missing_export_is_not_found() -> None:
    world = World(ADMIN)

    with pytest.raises(ExportNotFoundError):
        await world.download()(DownloadOrderExportRequest(export_id=uuid4()))


# --- listing -------------------------------------------------------------------------------------


async def test_staff_list_only_the_exports_they_started() -> None:
    mine, theirs = make_export(), make_export(requested_by=OTHER_STAFF.user_id)
    world = World(STAFF, mine, theirs)

    page = await world.list_()(ListOrderExportsRequest())

    assert [item["id"] for item in page["items"]] == [str(mine.id_)]


async def test_admins_list_every_export() -> None:
    mine, theirs = make_export(), make_export(requested_by=OTHER_STAFF.user_id)
    world = World(ADMIN, mine, theirs)

    page = await world.list_()(ListOrderExportsRequest(limit=10))

    assert {item["id"] for item in page["items"]} == {str(mine.id_), str(theirs.id_)}


async def test_customers_may_not_list_exports() -> None:
    with pytest.raises(AuthorizationError):
        await World(CUSTOMER, make_export()).list_()(ListOrderExportsRequest())


# --- how many at once ----------------------------------------------------------------------------


async def test_a_requester_with_the_maximum_of_unfinished_exports_cannot_start_another() -> None:
    running = [make_export(status) for status in (ExportStatus.QUEUED, ExportStatus.RUNNING)]
    world = World(STAFF, *running, policy=replace(POLICY, max_unfinished=2))

    with pytest.raises(TooManyExportsError) as raised:
        await world.start()(StartOrderExportRequest(first_day=FIRST_DAY, last_day=LAST_DAY))

    assert raised.value.context == {"max_unfinished": 2}
    assert world.exports.added == []
    assert world.transaction.commits == 0


async def test_finished_exports_and_other_peoples_do_not_count_towards_the_maximum() -> None:
    others = [
        *(make_export(status) for status in FINISHED_STATUSES),
        make_export(ExportStatus.RUNNING, requested_by=OTHER_STAFF.user_id),
        make_export(ExportStatus.QUEUED),
    ]
    world = World(STAFF, *others, policy=replace(POLICY, max_unfinished=2))

    view = await world.start()(StartOrderExportRequest(first_day=FIRST_DAY, last_day=LAST_DAY))

    assert view["status"] == "queued"
    assert world.transaction.commits == 1


# --- what a command returns about an export ------------------------------------------------------


def test_the_view_of_a_failed_export_tells_when_it_ran_and_why_it_stopped() -> None:
    export = make_export(ExportStatus.FAILED)

    assert export_view(export) == {
        "id": str(export.id_),
        "requested_by": str(STAFF.user_id),
        "status": "failed",
        "first_day": FIRST_DAY,
        "last_day": LAST_DAY,
        "rows_total": 3,
        "rows_written": 0,
        "percent": 0.0,
        "size_bytes": 0,
        "requested_at": REQUESTED,
        "started_at": STARTED,
        "finished_at": FINISHED,
        "expires_at": FINISHED + RETENTION,
        "failure_reason": INTERNAL_ERROR,
    }


async def test_a_page_of_exports_passes_the_limit_and_cursor_to_the_reader() -> None:
    world = World(STAFF)
    reader: Any = create_autospec(OrderExportReader, instance=True)
    reader.search.return_value = Page(items=[], next_cursor=None)

    await ListOrderExports(world.actors, reader)(ListOrderExportsRequest(limit=5, cursor="c2"))

    reader.search.assert_awaited_once_with(requested_by=STAFF.user_id, limit=5, cursor="c2")


async def test_an_export_purged_between_the_look_and_the_lock_is_not_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    export = make_export(ExportStatus.RUNNING)
    world = World(STAFF, export)
    look = world.exports.get

    async def purged_once_locked(export_id: ExportId, *, for_update: bool = False) -> Any:
        return None if for_update else await look(export_id)

    monkeypatch.setattr(world.exports, "get", purged_once_locked)

    with pytest.raises(ExportNotFoundError) as caught:
        await world.cancel()(cancel_request(export))

    assert caught.value.context == {"export_id": str(export.id_)}
    assert world.transaction.commits == 0


@pytest.mark.usefixtures("server_in_tokyo")
def test_times_are_written_in_utc_whatever_the_servers_zone() -> None:
    row = make_row(0)
    row["placed_at"] = datetime(2024, 6, 10, 10, 0, tzinfo=timezone(timedelta(hours=2)))

    [parsed] = parse(render([row], header=False))

    assert parsed[1] == "2024-06-10T08:00:00+00:00"
