"""daily sales

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 06:37:12.920529
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_sales",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("orders_placed", sa.Integer(), nullable=False),
        sa.Column("orders_paid", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("refunds", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("rolled_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "currency", name=op.f("pk_daily_sales")),
    )
    op.create_index(
        "ix_orders_cancelled_at",
        "orders",
        ["cancelled_at"],
        unique=False,
        postgresql_where=sa.text("cancelled_at IS NOT NULL"),
    )
    op.create_index(
        "ix_orders_paid_at",
        "orders",
        ["paid_at"],
        unique=False,
        postgresql_where=sa.text("paid_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_orders_paid_at", table_name="orders", postgresql_where=sa.text("paid_at IS NOT NULL")
    )
    op.drop_index(
        "ix_orders_cancelled_at",
        table_name="orders",
        postgresql_where=sa.text("cancelled_at IS NOT NULL"),
    )
    op.drop_table("daily_sales")
