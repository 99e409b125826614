"""The order aggregate against real PostgreSQL: imperative mapping, optimistic locking, the
outbox, and the reader's projections. Needs the orders migration (0003)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from structlog.testing import CapturingLogger

from app.ordering.application.ports.order_reader import OrderFilter
from app.ordering.domain.order import Order, PricedItem
from app.ordering.domain.value_objects import OrderId, OrderStatus
from app.ordering.infrastructure.mapping import map_ordering
from app.ordering.infrastructure.sqla_order_reader import SqlaOrderReader
from app.ordering.infrastructure.sqla_order_repository import SqlaOrderRepository
from app.shared.application.errors import ConcurrentModificationError
from app.shared.domain.errors import ConflictError
from app.shared.domain.events import DomainEvent
from app.shared.domain.money import Money
from app.shared.infrastructure import transaction as transaction_module
from app.shared.infrastructure.database import ReadConnections, autocommit
from app.shared.infrastructure.outbox import outbox_table
from app.shared.infrastructure.transaction import SqlaTransactionManager

PLACED = datetime(2024, 6, 1, 23, 30, tzinfo=UTC)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    map_ordering()
    engine = create_async_engine(database_url)
    yield async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    await engine.dispose()


def _reads(sessions: async_sessionmaker[AsyncSession]) -> ReadConnections:
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return ReadConnections(autocommit(engine))


def new_order(
    customer: UUID, *, price: str = "12.5", currency: str = "USD", at: datetime = PLACED
) -> Order:
    return Order.place(
        order_id=OrderId(uuid4()),
        customer_id=customer,
        items=[
            PricedItem(
                product_id=uuid4(),
                sku=f"SKU-{n}",
                name=f"Product {n}",
                unit_price=Money.of(price, currency),
                quantity=n,
            )
            for n in (3, 1)
        ],
        at=at,
    )


async def store(sessions: async_sessionmaker[AsyncSession], *orders: Order) -> None:
    async with sessions() as session:
        for order in orders:
            SqlaOrderRepository(session).add(order)
        await SqlaTransactionManager(session, {}).commit()


async def test_a_loaded_order_has_money_values_lines_and_a_version(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    order = new_order(uuid4())
    await store(sessions, order)

    async with sessions() as session:
        loaded = await SqlaOrderRepository(session).get(order.id_)

    assert isinstance(loaded, Order)
    assert loaded.total == Money.of("50.00", "USD")
    assert loaded.status is OrderStatus.PENDING_PAYMENT
    assert loaded.version == 1
    assert [(line.line_no, line.unit_price, line.quantity) for line in loaded.lines] == [
        (1, Money.of("12.50", "USD"), 3),
        (2, Money.of("12.50", "USD"), 1),
    ]


async def test_zero_decimal_currencies_load_in_their_own_scale(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    order = new_order(uuid4(), price="1500", currency="JPY")
    await store(sessions, order)

    async with sessions() as session:
        loaded = await SqlaOrderRepository(session).get(order.id_)
        view = await SqlaOrderReader(_reads(sessions)).get(order.id_)

    assert loaded is not None
    assert str(loaded.total.amount) == "6000"
    assert view is not None
    assert (view["total_amount"], view["lines"][0]["unit_price"]) == ("6000", "1500")


async def test_a_change_bumps_the_version_and_a_stale_writer_loses(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    order = new_order(uuid4())
    await store(sessions, order)

    async with sessions() as first, sessions() as second:
        mine = await SqlaOrderRepository(first).get(order.id_)
        theirs = await SqlaOrderRepository(second).get(order.id_)
        assert mine is not None
        assert theirs is not None
        mine.cancel("changed my mind", at=PLACED)
        await SqlaTransactionManager(first, {}).commit()
        theirs.pay("sandbox_late", at=PLACED)

        with pytest.raises(ConcurrentModificationError):
            await SqlaTransactionManager(second, {}).commit()

    assert mine.version == 2


async def test_events_are_written_to_the_outbox_with_the_change(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    order = new_order(uuid4())
    order.pay("sandbox_ref", at=PLACED + timedelta(minutes=1))
    await store(sessions, order)

    async with sessions() as session:
        rows = (
            await session.execute(
                select(outbox_table.c.event_type, outbox_table.c.payload)
                .where(outbox_table.c.aggregate_id == order.id_)
                .order_by(outbox_table.c.occurred_at)
            )
        ).all()

    assert [row.event_type for row in rows] == ["OrderPlaced", "OrderPaid"]
    assert rows[0].payload["total_amount"] == "50.00"
    assert rows[1].payload["payment_reference"] == "sandbox_ref"


async def test_a_failed_outbox_write_takes_the_change_with_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The events go in the change's own transaction: an outbox that refuses them leaves no
    order behind (committing first, then writing the events, would keep an order with none)."""
    refuse = [
        (
            "CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$"
        ),
        (
            "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox_events FOR EACH ROW"
            " EXECUTE FUNCTION refuse_outbox()"
        ),
    ]
    async with sessions() as session:
        for statement in refuse:
            await session.execute(text(statement))
        await session.commit()
    order = new_order(uuid4())
    try:
        with pytest.raises(DBAPIError, match="outbox refused"):
            await store(sessions, order)
    finally:
        async with sessions() as session:
            await session.execute(text("DROP TRIGGER refuse_outbox ON outbox_events"))
            await session.execute(text("DROP FUNCTION refuse_outbox()"))
            await session.commit()
    async with sessions() as session:
        found = await session.scalar(
            text("SELECT count(*) FROM orders WHERE id = :id"), {"id": order.id_}
        )
    assert found == 0


async def test_observers_are_told_a_commits_events_once_and_a_failing_one_is_logged(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each observer gets the committed events (a metric counts them); one that raises is
    logged with its traceback, the commit stands and the next observer is still told."""
    logged = CapturingLogger()
    monkeypatch.setattr(transaction_module, "_log", logged)
    told: list[list[str]] = []

    def failing(_: Sequence[DomainEvent]) -> None:
        raise RuntimeError("metric broken")

    def recording(events: Sequence[DomainEvent]) -> None:
        told.append([event.event_type() for event in events])

    order = new_order(uuid4())
    order.pay("sandbox_ref", at=PLACED + timedelta(minutes=1))
    async with sessions() as session:
        SqlaOrderRepository(session).add(order)
        await SqlaTransactionManager(session, {}, observers=[failing, recording]).commit()
    async with sessions() as session:
        await SqlaTransactionManager(session, {}, observers=[recording]).commit()  # no events
        assert await SqlaOrderRepository(session).get(order.id_) is not None
    assert told == [["OrderPlaced", "OrderPaid"]]
    assert [(call.args, call.kwargs) for call in logged.calls] == [
        (("committed_events_observer_failed",), {"exc_info": True})
    ]


async def test_after_commit_work_runs_once_by_name_and_a_failing_one_is_logged(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    logged = CapturingLogger()
    monkeypatch.setattr(transaction_module, "_log", logged)
    ran: list[str] = []

    async def bump() -> None:
        ran.append("bump")

    async def broken() -> None:
        raise RuntimeError("redis down")

    async with sessions() as session:
        transaction = SqlaTransactionManager(session, {})
        SqlaOrderRepository(session).add(new_order(uuid4()))
        transaction.after_commit("cache:products", bump)
        transaction.after_commit("cache:products", bump)  # the same work twice: once
        transaction.after_commit("cache:broken", broken)
        await transaction.commit()
        await transaction.commit()  # a later commit runs none of them again
    assert ran == ["bump"]
    assert [(call.args, call.kwargs) for call in logged.calls] == [
        (("after_commit_failed",), {"hook": "cache:broken", "exc_info": True})
    ]


class RefusedAtCommitError(ConflictError):
    code = "refused_at_commit"


async def test_a_violation_found_at_commit_is_translated_there_too_and_an_unnamed_one_stays(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A deferred constraint is checked by COMMIT, not by the flush: the unit of work turns a
    named one into its domain error there as well, and lets a violation that names no
    constraint through as the IntegrityError it is."""
    refuse = [
        (
            "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF current_setting('test.refuse', true) = 'named' THEN"
            "  RAISE EXCEPTION 'refused' USING ERRCODE = 'unique_violation',"
            "   CONSTRAINT = 'uq_refused_at_commit';"
            " END IF;"
            " RAISE EXCEPTION 'refused' USING ERRCODE = 'unique_violation'; END $$"
        ),
        (
            "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON orders"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()"
        ),
    ]
    errors = {"uq_refused_at_commit": lambda: RefusedAtCommitError("Refused at commit.")}
    async with sessions() as session:
        for statement in refuse:
            await session.execute(text(statement))
        await session.commit()
    try:
        for setting, raised in (("named", RefusedAtCommitError), ("", IntegrityError)):
            async with sessions() as session:
                SqlaOrderRepository(session).add(new_order(uuid4()))
                await session.execute(
                    text("SELECT set_config('test.refuse', :setting, true)"), {"setting": setting}
                )
                with pytest.raises(raised):
                    await SqlaTransactionManager(session, errors).commit()
    finally:
        async with sessions() as session:
            await session.execute(text("DROP TRIGGER refuse_at_commit ON orders"))
            await session.execute(text("DROP FUNCTION refuse_at_commit()"))
            await session.commit()
    async with sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM orders")) == 0


async def test_my_orders_page_newest_first_with_an_opaque_cursor(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    alice = uuid4()
    mine = [new_order(alice, at=PLACED + timedelta(minutes=n)) for n in range(5)]
    await store(sessions, *mine, new_order(uuid4()))

    seen: list[str] = []
    cursor: str | None = None
    reader = SqlaOrderReader(_reads(sessions))
    while True:
        page = await reader.search(filter_=OrderFilter(customer_id=alice), limit=2, cursor=cursor)
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [str(order.id_) for order in reversed(mine)]


async def test_sales_are_summed_per_utc_day_status_and_currency(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    paid = new_order(uuid4())
    paid.pay("sandbox_ref", at=PLACED)
    next_day = new_order(uuid4(), at=PLACED + timedelta(hours=1))  # 00:30 UTC on June 2nd
    await store(sessions, paid, new_order(uuid4()), new_order(uuid4()), next_day)

    rows = await SqlaOrderReader(_reads(sessions)).sales(
        first_day=date(2024, 6, 1), last_day=date(2024, 6, 2)
    )

    assert [
        (row["day"], row["status"], row["currency"], row["order_count"], row["revenue"])
        for row in rows
    ] == [
        (date(2024, 6, 1), "paid", "USD", 1, "50.00"),
        (date(2024, 6, 1), "pending_payment", "USD", 2, "100.00"),
        (date(2024, 6, 2), "pending_payment", "USD", 1, "50.00"),
    ]
