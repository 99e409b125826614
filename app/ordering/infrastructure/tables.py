"""Ordering tables (imperative mapping: the domain classes stay free of SQLAlchemy).

customer_id and product_id carry no foreign keys on purpose: users belong to identity and
products to catalog, and contexts share no schema. Lines copy what they need (sku, name, price).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    UUID,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from app.ordering.domain.order import MAX_REASON_LENGTH, MAX_REFERENCE_LENGTH
from app.ordering.domain.order_export import ExportStatus
from app.ordering.domain.value_objects import MAX_QUANTITY, MIN_QUANTITY, OrderStatus
from app.shared.infrastructure.database import metadata

# 14 digits, 2 decimals: Money allows up to 9 999 999 999.99 and at most 2 decimal places (JPY
# and KRW have none: Money restores each currency's scale when a row is loaded).
AMOUNT: Final = Numeric(14, 2)

orders_table = Table(
    "orders",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column(
        "status",
        Enum(
            OrderStatus,
            name="order_status",
            native_enum=False,
            create_constraint=True,
            length=24,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
        nullable=False,
    ),
    Column("total_amount", AMOUNT, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    Column("payment_reference", String(MAX_REFERENCE_LENGTH), nullable=True),
    Column("shipped_at", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
    Column("cancellation_reason", String(MAX_REASON_LENGTH), nullable=True),
    CheckConstraint("total_amount >= 0", name="total_amount_not_negative"),
    # Keyset pagination, newest first: a customer's orders, orders by status, all orders.
    Index("ix_orders_customer_id_created_at_id", "customer_id", "created_at", "id"),
    Index("ix_orders_status_created_at_id", "status", "created_at", "id"),
    Index("ix_orders_created_at_id", "created_at", "id"),
    # The daily sales roll-up finds a day's payments and refunds by these.
    Index("ix_orders_paid_at", "paid_at", postgresql_where=text("paid_at IS NOT NULL")),
    Index(
        "ix_orders_cancelled_at", "cancelled_at", postgresql_where=text("cancelled_at IS NOT NULL")
    ),
)

order_lines_table = Table(
    "order_lines",
    metadata,
    Column(
        "order_id",
        UUID(as_uuid=True),
        ForeignKey("orders.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("line_no", Integer, nullable=False),
    Column("product_id", UUID(as_uuid=True), nullable=False),
    # Copied from the catalog as it was; unbounded so that no catalog limit can break an order.
    Column("sku", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("unit_price_amount", AMOUNT, nullable=False),
    Column("unit_price_currency", String(3), nullable=False),
    Column("quantity", Integer, nullable=False),
    PrimaryKeyConstraint("order_id", "line_no"),
    # The aggregate already merges duplicates; the database refuses them too.
    UniqueConstraint("order_id", "product_id"),
    CheckConstraint(
        f"quantity BETWEEN {MIN_QUANTITY} AND {MAX_QUANTITY}", name="quantity_in_range"
    ),
    CheckConstraint("unit_price_amount >= 0", name="unit_price_not_negative"),
)

order_exports_table = Table(
    "order_exports",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("requested_by", UUID(as_uuid=True), nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column(
        "status",
        Enum(
            ExportStatus,
            name="export_status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
        nullable=False,
    ),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("rows_total", Integer, nullable=True),
    Column("rows_written", Integer, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("resume_placed_at", DateTime(timezone=True), nullable=True),
    Column("resume_order_id", UUID(as_uuid=True), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("failure_reason", String(32), nullable=True),
    Column("version", Integer, nullable=False),
    CheckConstraint("first_day <= last_day", name="days_in_order"),
    # Listings, newest first: one requester's exports, everyone's (admins).
    Index("ix_order_exports_requested_by_requested_at_id", "requested_by", "requested_at", "id"),
    Index("ix_order_exports_requested_at_id", "requested_at", "id"),
    # The purge deletes finished exports past their expiry.
    Index("ix_order_exports_expires_at", "expires_at"),
)

# The export files, in the database both the API and the workers reach: no shared volume.
order_export_chunks_table = Table(
    "order_export_chunks",
    metadata,
    Column(
        "export_id",
        UUID(as_uuid=True),
        ForeignKey("order_exports.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("sequence", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    PrimaryKeyConstraint("export_id", "sequence"),
)

# The daily sales summary, rolled up by a beat job: per UTC day and currency, what happened that
# day (orders placed, payments taken, refunds due). Recomputed from the orders, so re-running a
# day is harmless.
daily_sales_table = Table(
    "daily_sales",
    metadata,
    Column("day", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("orders_placed", Integer, nullable=False),
    Column("orders_paid", Integer, nullable=False),
    # Wider than one order's amount: a day's sum of them.
    Column("revenue", Numeric(18, 2), nullable=False),
    Column("refunds", Integer, nullable=False),
    Column("refunded", Numeric(18, 2), nullable=False),
    Column("rolled_up_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("day", "currency"),
)
