"""Error kinds shared by every bounded context.

Each concrete error names a stable machine-readable ``code`` and derives from exactly one kind.
The presentation layer maps kinds (not individual errors) to HTTP statuses in one place, so a new
error needs no change outside the module that raises it.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Base of every error the domain and application layers raise on purpose."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, detail: str, **context: object) -> None:
        super().__init__(detail)
        self.detail = detail
        # Public facts about the error (e.g. the current state), rendered into the problem body.
        self.context = context


class InvalidValueError(DomainError):
    """Input that breaks an invariant of a value object or entity."""

    code = "invalid_value"


class ConflictError(DomainError):
    """The request clashes with current state (duplicates, illegal transitions, stale versions)."""

    code = "conflict"


class NotFoundError(DomainError):
    """The resource does not exist, or the actor may not know that it exists."""

    code = "not_found"


class GoneError(DomainError):
    """The resource existed and is gone for good (e.g. a download past its expiry)."""

    code = "gone"
