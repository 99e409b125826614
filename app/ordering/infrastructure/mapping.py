from __future__ import annotations

from sqlalchemy.orm import composite, relationship

from app.ordering.domain.order import Order, OrderLine
from app.ordering.domain.order_export import OrderExport
from app.ordering.infrastructure.tables import (
    order_exports_table,
    order_lines_table,
    orders_table,
)
from app.shared.domain.money import Money
from app.shared.infrastructure.database import mapper_registry


def map_ordering() -> None:
    """Map the ordering aggregate; safe to call more than once (app start-up, Alembic, tests)."""
    if getattr(Order, "__mapper__", None) is not None:
        return
    mapper_registry.map_imperatively(
        OrderExport,
        order_exports_table,
        properties={"id_": order_exports_table.c.id},
        version_id_col=order_exports_table.c.version,
    )
    lines = order_lines_table.c
    mapper_registry.map_imperatively(
        OrderLine,
        order_lines_table,
        properties={
            "unit_price": composite(Money, lines.unit_price_amount, lines.unit_price_currency)
        },
    )
    orders = orders_table.c
    mapper_registry.map_imperatively(
        Order,
        orders_table,
        properties={
            "id_": orders.id,
            "total": composite(Money, orders.total_amount, orders.currency),
            # Lines live and die with their order, and are always needed with it: load them in
            # one extra query per batch of orders (selectin), never lazily (async sessions).
            "lines": relationship(
                OrderLine,
                order_by=lines.line_no,
                cascade="all, delete-orphan",
                lazy="selectin",
            ),
        },
        # Optimistic locking: UPDATE ... WHERE version = :loaded; a lost race is a
        # StaleDataError, which the unit of work turns into ConcurrentModificationError.
        version_id_col=orders.version,
    )
