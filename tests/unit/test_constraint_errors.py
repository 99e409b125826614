"""Every constraint the unit of work translates exists under that name in the schema."""

from __future__ import annotations

from app.bootstrap.mapping import map_all
from app.catalog.infrastructure.constraints import CATALOG_CONSTRAINT_ERRORS
from app.identity.infrastructure.constraints import IDENTITY_CONSTRAINT_ERRORS
from app.shared.domain.errors import ConflictError
from app.shared.infrastructure.database import metadata


def _constraint_names() -> set[str]:
    names: set[str] = set()
    for table in metadata.tables.values():
        names |= {str(constraint.name) for constraint in table.constraints}
        names |= {str(index.name) for index in table.indexes}
    return names


TRANSLATED = {**IDENTITY_CONSTRAINT_ERRORS, **CATALOG_CONSTRAINT_ERRORS}


def test_translated_constraints_are_named_in_the_metadata() -> None:
    map_all()
    assert set(TRANSLATED) <= _constraint_names()


def test_unique_violations_become_conflicts() -> None:
    for factory in TRANSLATED.values():
        assert isinstance(factory(), ConflictError)
