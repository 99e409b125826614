"""The SQLAlchemy unit of work, translating named-constraint violations into domain errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.shared.domain.errors import DomainError

# Constraint name -> factory of the domain error that the constraint enforces.
ConstraintErrors = Mapping[str, Callable[[], DomainError]]


def violated_constraint(error: IntegrityError) -> str | None:
    # asyncpg's exception (with .constraint_name) is the cause of the DBAPI adapter's error.
    cause = getattr(error.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None) or getattr(error.orig, "constraint_name", None)
    return name if isinstance(name, str) else None


class SqlaTransactionManager:
    def __init__(self, session: AsyncSession, constraint_errors: ConstraintErrors) -> None:
        self._session = session
        self._constraint_errors = constraint_errors

    async def flush(self) -> None:
        try:
            await self._session.flush()
        except IntegrityError as error:
            self._raise_domain_error(error)
            raise

    async def commit(self) -> None:
        try:
            await self._session.commit()
        except IntegrityError as error:
            self._raise_domain_error(error)
            raise

    def _raise_domain_error(self, error: IntegrityError) -> None:
        """Raise the domain error a known constraint stands for; unknown ones stay as they are."""
        factory = self._constraint_errors.get(violated_constraint(error) or "")
        if factory is not None:
            raise factory() from error
