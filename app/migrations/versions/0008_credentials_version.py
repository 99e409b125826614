"""users.credentials_version

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:30:00.000000

A constant default makes this a catalog-only change on PostgreSQL 11 and later: no table rewrite,
and the ACCESS EXCLUSIVE lock is held only for that moment.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("credentials_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("users", "credentials_version")
