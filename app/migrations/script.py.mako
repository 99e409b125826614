"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    # Safe under load (docs/07-database.md#changing-the-schema-without-downtime; make lint runs
    # squawk over this revision's SQL): an index on an existing table is created or dropped
    # CONCURRENTLY inside op.get_context().autocommit_block(), in a revision of its own; a new
    # column is nullable or has a constant default; a constraint is added NOT VALID and validated
    # in a later revision; a rename or type change goes through expand and contract.
    # This revision runs under the environment's lock_timeout (5 s, retried) and statement_timeout
    # (5 min). To give it others, call first:
    #   from app.migrations.timeouts import set_timeouts
    #   set_timeouts(lock_timeout_ms=..., statement_timeout_ms=...)
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
