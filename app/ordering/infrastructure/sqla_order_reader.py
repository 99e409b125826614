"""Query gateway for orders: Core selects straight into read models, keyset pagination."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Date, cast, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.ordering.application.day_range import instants
from app.ordering.application.ports.order_exports import ExportRange, ExportRow
from app.ordering.application.ports.order_reader import (
    OrderFilter,
    OrderLineView,
    OrderSummaryView,
    OrderView,
    SalesRow,
)
from app.ordering.domain.order_export import ExportPosition
from app.ordering.domain.value_objects import OrderId, OrderStatus
from app.ordering.infrastructure.tables import order_lines_table, orders_table
from app.shared.application.pagination import Page
from app.shared.domain.money import format_amount
from app.shared.infrastructure.database import ReadConnections
from app.shared.infrastructure.keyset import Keyset, core_page, datetime_key
from app.shared.infrastructure.keyset import after as _after

_o = orders_table.c
_l = order_lines_table.c
_SUMMARY_COLUMNS = (
    _o.id,
    _o.customer_id,
    _o.status,
    _o.total_amount,
    _o.currency,
    _o.created_at,
    _o.updated_at,
)
_DETAIL_COLUMNS = (
    *_SUMMARY_COLUMNS,
    _o.paid_at,
    _o.payment_reference,
    _o.shipped_at,
    _o.delivered_at,
    _o.cancelled_at,
    _o.cancellation_reason,
)
_NEWEST: Final = Keyset("orders:-created_at", "created_at", datetime_key, descending=True)


class SqlaOrderReader:
    def __init__(self, reads: ReadConnections) -> None:
        self._reads = reads

    async def get(self, order_id: OrderId) -> OrderView | None:
        row = (
            (await self._reads.execute(select(*_DETAIL_COLUMNS).where(_o.id == order_id)))
            .mappings()
            .one_or_none()
        )
        if row is None:
            return None
        lines = (
            (
                await self._reads.execute(
                    select(order_lines_table).where(_l.order_id == order_id).order_by(_l.line_no)
                )
            )
            .mappings()
            .all()
        )
        return OrderView(
            **_summary(row),
            lines=[_line(line) for line in lines],
            paid_at=row["paid_at"],
            payment_reference=row["payment_reference"],
            shipped_at=row["shipped_at"],
            delivered_at=row["delivered_at"],
            cancelled_at=row["cancelled_at"],
            cancellation_reason=row["cancellation_reason"],
        )

    async def search(
        self, *, filter_: OrderFilter, limit: int, cursor: str | None
    ) -> Page[OrderSummaryView]:
        conditions: list[ColumnElement[bool]] = []
        if filter_.customer_id is not None:
            conditions.append(_o.customer_id == filter_.customer_id)
        if filter_.status is not None:
            conditions.append(_o.status == filter_.status)
        if filter_.created_from is not None:
            conditions.append(_o.created_at >= filter_.created_from)
        if filter_.created_to is not None:
            conditions.append(_o.created_at < filter_.created_to)
        statement = select(*_SUMMARY_COLUMNS).where(*conditions)
        return await core_page(
            self._reads.execute, statement, _NEWEST, limit=limit, cursor=cursor, to_item=_summary
        )

    async def overdue(self, *, placed_before: datetime, limit: int) -> list[OrderId]:
        statement = (
            select(_o.id)
            .where(_o.status == OrderStatus.PENDING_PAYMENT, _o.created_at < placed_before)
            .order_by(_o.created_at)
            .limit(limit)
        )
        return [OrderId(order_id) for order_id in (await self._reads.execute(statement)).scalars()]

    async def sales(self, *, first_day: date, last_day: date) -> list[SalesRow]:
        # Bounds as instants, so the (created_at) index serves the range; days are UTC days.
        start, end = instants(first_day, last_day)
        day = cast(func.date_trunc("day", func.timezone("UTC", _o.created_at)), Date).label("day")
        statement = (
            select(
                day,
                _o.status,
                _o.currency,
                func.count().label("order_count"),
                func.sum(_o.total_amount).label("revenue"),
            )
            .where(_o.created_at >= start, _o.created_at < end)
            .group_by(day, _o.status, _o.currency)
            .order_by(day, _o.status, _o.currency)
        )
        rows = (await self._reads.execute(statement)).mappings().all()
        return [
            SalesRow(
                day=row["day"],
                status=row["status"].value,
                currency=row["currency"],
                order_count=row["order_count"],
                revenue=format_amount(row["revenue"], row["currency"]),
            )
            for row in rows
        ]


def _summary(row: Any) -> OrderSummaryView:  # noqa: ANN401 - a SQLAlchemy RowMapping
    return OrderSummaryView(
        id=str(row["id"]),
        customer_id=str(row["customer_id"]),
        status=row["status"].value,
        total_amount=format_amount(row["total_amount"], row["currency"]),
        currency=row["currency"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _line(row: Any) -> OrderLineView:  # noqa: ANN401 - a SQLAlchemy RowMapping
    currency = row["unit_price_currency"]
    return OrderLineView(
        line_no=row["line_no"],
        product_id=str(row["product_id"]),
        sku=row["sku"],
        name=row["name"],
        unit_price=format_amount(row["unit_price_amount"], currency),
        quantity=row["quantity"],
        line_total=format_amount(row["unit_price_amount"] * row["quantity"], currency),
    )


class SqlaExportableOrders:
    """Orders for the CSV export, oldest first, with their line and item counts."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def count(self, range_: ExportRange) -> int:
        statement = select(func.count()).select_from(orders_table).where(*_in_range(range_))
        return int((await self._session.execute(statement)).scalar_one())

    async def rows(
        self, range_: ExportRange, *, after: ExportPosition | None, limit: int
    ) -> list[ExportRow]:
        lines = (
            select(
                func.count().label("line_count"),
                func.coalesce(func.sum(_l.quantity), 0).label("item_count"),
            )
            .where(_l.order_id == _o.id)
            .lateral("lines")
        )
        conditions = _in_range(range_)
        if after is not None:
            position = (after.placed_at, after.order_id)
            conditions.append(_after(_o.created_at, _o.id, position, descending=False))
        statement = (
            select(*_DETAIL_COLUMNS, lines.c.line_count, lines.c.item_count)
            .join_from(orders_table, lines, true())
            .where(*conditions)
            .order_by(_o.created_at, _o.id)
            .limit(limit)
        )
        return [
            ExportRow(
                order_id=row["id"],
                placed_at=row["created_at"],
                customer_id=row["customer_id"],
                status=row["status"].value,
                currency=row["currency"],
                total_amount=format_amount(row["total_amount"], row["currency"]),
                line_count=row["line_count"],
                item_count=row["item_count"],
                paid_at=row["paid_at"],
                payment_reference=row["payment_reference"],
                shipped_at=row["shipped_at"],
                delivered_at=row["delivered_at"],
                cancelled_at=row["cancelled_at"],
                cancellation_reason=row["cancellation_reason"],
            )
            for row in (await self._session.execute(statement)).mappings()
        ]


def _in_range(range_: ExportRange) -> list[ColumnElement[bool]]:
    start, end = instants(range_.first_day, range_.last_day)
    return [
        _o.created_at >= start,
        _o.created_at < min(end, range_.placed_before),
    ]
