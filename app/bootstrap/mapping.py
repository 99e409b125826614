from __future__ import annotations

from app.catalog.infrastructure.mapping import map_catalog
from app.identity.infrastructure.mapping import map_identity
from app.operations.infrastructure import tables as operations_tables  # noqa: F401 - metadata
from app.ordering.infrastructure.mapping import map_ordering
from app.shared.infrastructure import idempotency, inbox, outbox  # noqa: F401 - tables join the metadata


def map_all() -> None:
    """Imperative ORM mapping of every context; idempotent, run by each entrypoint."""
    map_identity()
    map_catalog()
    map_ordering()
