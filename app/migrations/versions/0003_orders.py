"""Ordering: orders and their lines.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 04:34:47.812012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending_payment",
                "paid",
                "shipped",
                "delivered",
                "cancelled",
                "expired",
                name="order_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("total_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_reference", sa.String(length=64), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancellation_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint("total_amount >= 0", name=op.f("ck_orders_total_amount_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index("ix_orders_created_at_id", "orders", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_orders_customer_id_created_at_id",
        "orders",
        ["customer_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_orders_status_created_at_id", "orders", ["status", "created_at", "id"], unique=False
    )
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.UUID(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("unit_price_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("unit_price_currency", sa.String(length=3), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "quantity BETWEEN 1 AND 1000", name=op.f("ck_order_lines_quantity_in_range")
        ),
        sa.CheckConstraint(
            "unit_price_amount >= 0", name=op.f("ck_order_lines_unit_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "line_no", name=op.f("pk_order_lines")),
        sa.UniqueConstraint(
            "order_id", "product_id", name=op.f("uq_order_lines_order_id_product_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("order_lines")
    op.drop_index("ix_orders_status_created_at_id", table_name="orders")
    op.drop_index("ix_orders_customer_id_created_at_id", table_name="orders")
    op.drop_index("ix_orders_created_at_id", table_name="orders")
    op.drop_table("orders")
