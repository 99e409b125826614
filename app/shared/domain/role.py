"""Roles and their hierarchy, shared by every context that authorizes actors."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Roles ordered by privilege: each role holds every power of the roles below it."""

    CUSTOMER = "customer"
    STAFF = "staff"
    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def outranks(self, other: Role) -> bool:
        return self.rank > other.rank

    def includes(self, other: Role) -> bool:
        """True when this role holds at least the powers of ``other``."""
        return self.rank >= other.rank

    @property
    def is_assignable(self) -> bool:
        """super_admin is the system role: created by operators through the CLI, never granted."""
        return self is not Role.SUPER_ADMIN


_RANKS = {role: rank for rank, role in enumerate(Role)}
