from __future__ import annotations

from app.identity.infrastructure.mapping import map_identity


def map_all() -> None:
    """Imperative ORM mapping of every context; idempotent, run by each entrypoint."""
    map_identity()
