"""Background processing: the inbox of processed events, and a commit-order position for
the outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 05:07:45.269588
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processed_events",
        sa.Column("handler", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("handler", "event_id", name=op.f("pk_processed_events")),
    )
    op.create_index(
        "ix_processed_events_processed_at", "processed_events", ["processed_at"], unique=False
    )
    op.add_column(
        "outbox_events",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
    )
    op.drop_index(
        op.f("ix_outbox_events_unpublished"),
        table_name="outbox_events",
        postgresql_where="(published_at IS NULL)",
    )
    op.create_index(
        "ix_outbox_events_unpublished_position",
        "outbox_events",
        ["position"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_unique_constraint(op.f("uq_outbox_events_position"), "outbox_events", ["position"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_outbox_events_position"), "outbox_events", type_="unique")
    op.drop_index(
        "ix_outbox_events_unpublished_position",
        table_name="outbox_events",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(
        op.f("ix_outbox_events_unpublished"),
        "outbox_events",
        ["recorded_at"],
        unique=False,
        postgresql_where="(published_at IS NULL)",
    )
    op.drop_column("outbox_events", "position")
    op.drop_index("ix_processed_events_processed_at", table_name="processed_events")
    op.drop_table("processed_events")
