"""order exports

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 06:34:50.658963
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_exports",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("requested_by", sa.UUID(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "completed",
                "failed",
                "cancelled",
                name="export_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("resume_placed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resume_order_id", sa.UUID(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("first_day <= last_day", name=op.f("ck_order_exports_days_in_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_exports")),
    )
    op.create_index("ix_order_exports_expires_at", "order_exports", ["expires_at"], unique=False)
    op.create_index(
        "ix_order_exports_requested_at_id",
        "order_exports",
        ["requested_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_order_exports_requested_by_requested_at_id",
        "order_exports",
        ["requested_by", "requested_at", "id"],
        unique=False,
    )
    op.create_table(
        "order_export_chunks",
        sa.Column("export_id", sa.UUID(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["order_exports.id"],
            name=op.f("fk_order_export_chunks_export_id_order_exports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("export_id", "sequence", name=op.f("pk_order_export_chunks")),
    )


def downgrade() -> None:
    op.drop_table("order_export_chunks")
    op.drop_index("ix_order_exports_requested_by_requested_at_id", table_name="order_exports")
    op.drop_index("ix_order_exports_requested_at_id", table_name="order_exports")
    op.drop_index("ix_order_exports_expires_at", table_name="order_exports")
    op.drop_table("order_exports")
