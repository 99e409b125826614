"""Ports the identity domain needs from the outside world."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from app.identity.domain.value_objects import PasswordHash, RawPassword, UserId


class PasswordCheck(NamedTuple):
    valid: bool
    # A new hash when the stored one was made with outdated parameters (rehash on log-in).
    upgraded_hash: PasswordHash | None


class PasswordHasher(Protocol):
    async def hash(self, password: RawPassword) -> PasswordHash: ...

    async def verify(self, password: RawPassword, password_hash: PasswordHash) -> PasswordCheck: ...

    async def verify_dummy(self, password: RawPassword) -> None:
        """Spend the time of a real check, so unknown accounts cannot be told apart by timing."""


class UserIdGenerator(Protocol):
    def __call__(self) -> UserId: ...
