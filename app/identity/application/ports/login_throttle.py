"""Backing off password guessing against one account, without locking its owner out."""

from __future__ import annotations

from typing import Protocol

from app.identity.domain.value_objects import UserId


class LoginThrottle(Protocol):
    """Counts log-in attempts at one account: per account and address (a rate limit), and
    failures per account, wherever they come from.

    After a number of free failures each further attempt must wait longer (1 s, 2 s, 4 s, up to
    a cap), so a guesser spread over many addresses gets a handful of tries a minute at most.
    A network the account logged in from recently is exempt: the owner is never locked out by
    someone else's failures. Fails open when the store is unreachable, like the rate limiter.
    """

    async def check(self, user_id: UserId, address: str) -> None:
        """Raises RateLimitedError (with retry_after) when this address has tried this account
        too often, or while the account backs off (never for a network the account logged in
        from recently)."""
        ...

    async def failed(self, user_id: UserId) -> None: ...

    async def succeeded(self, user_id: UserId, address: str) -> None:
        """Clears the failures and remembers the address's network as the owner's."""
        ...
