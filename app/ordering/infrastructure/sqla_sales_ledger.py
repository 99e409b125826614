"""The daily sales roll-up in SQL: one INSERT ... SELECT ... ON CONFLICT per day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, and_, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.ordering.application.day_range import instants
from app.ordering.application.ports.sales_ledger import DailySalesRow
from app.ordering.infrastructure.tables import daily_sales_table, orders_table
from app.shared.domain.money import format_amount

_o = orders_table.c
_d = daily_sales_table.c


class SqlaSalesLedger:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def roll_up(self, day: date) -> int:
        start, end = instants(day, day)

        def within(column: ColumnElement[object]) -> ColumnElement[bool]:
            return and_(column >= start, column < end)

        placed, paid = within(_o.created_at), within(_o.paid_at)
        refunded = and_(within(_o.cancelled_at), _o.paid_at.is_not(None))
        figures = (
            select(
                literal(day).label("day"),
                _o.currency,
                func.count().filter(placed).label("orders_placed"),
                func.count().filter(paid).label("orders_paid"),
                func.coalesce(func.sum(_o.total_amount).filter(paid), 0).label("revenue"),
                func.count().filter(refunded).label("refunds"),
                func.coalesce(func.sum(_o.total_amount).filter(refunded), 0).label("refunded"),
                func.now().label("rolled_up_at"),
            )
            # Each condition has its own index (created_at, paid_at, cancelled_at).
            .where(or_(placed, paid, within(_o.cancelled_at)))
            .group_by(_o.currency)
        )
        statement = insert(daily_sales_table).from_select(
            [column.name for column in daily_sales_table.columns], figures
        )
        statement = statement.on_conflict_do_update(
            index_elements=[_d.day, _d.currency],
            set_={
                name: statement.excluded[name]
                for name in (
                    "orders_placed",
                    "orders_paid",
                    "revenue",
                    "refunds",
                    "refunded",
                    "rolled_up_at",
                )
            },
        )
        result = await self._session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class SqlaDailySalesReader:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def days(self, *, first_day: date, last_day: date) -> list[DailySalesRow]:
        statement = (
            select(daily_sales_table)
            .where(_d.day >= first_day, _d.day <= last_day)
            .order_by(_d.day, _d.currency)
        )
        return [
            DailySalesRow(
                day=row["day"],
                currency=row["currency"],
                orders_placed=row["orders_placed"],
                orders_paid=row["orders_paid"],
                revenue=format_amount(row["revenue"], row["currency"]),
                refunds=row["refunds"],
                refunded=format_amount(row["refunded"], row["currency"]),
                net=format_amount(row["revenue"] - row["refunded"], row["currency"]),
                rolled_up_at=row["rolled_up_at"],
            )
            for row in (await self._session.execute(statement)).mappings()
        ]
