"""Rate limits as a port: use cases and routes name a rule and a key; an adapter counts."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class RateLimitRule(StrEnum):
    LOGIN_PER_ACCOUNT_AND_ADDRESS = "login_per_account_and_address"
    LOGIN_PER_ADDRESS = "login_per_address"
    SIGN_UP_PER_ADDRESS = "sign_up_per_address"
    PLACE_ORDER_PER_USER = "place_order_per_user"
    CHANGE_PASSWORD_PER_USER = "change_password_per_user"  # noqa: S105 - a rule's name  # nosec B105
    WRONG_PASSWORD_PER_USER = "wrong_password_per_user"  # noqa: S105 - wrong current passwords  # nosec B105
    PLACE_ORDER_PER_ADDRESS = "place_order_per_address"
    LIST_PRODUCTS_PER_ADDRESS = "list_products_per_address"  # anonymous callers only
    PAY_ORDER_PER_USER = "pay_order_per_user"
    DECLINED_PAYMENT_PER_USER = "declined_payment_per_user"  # checked before, counted after


class RateLimiter(Protocol):
    async def hit(self, rule: RateLimitRule, key: str) -> None:
        """Count one attempt; raises RateLimitedError (with retry_after) when over the limit.

        Fails open: if the counter store is unreachable the attempt is allowed (and counted as
        such in the metrics), since refusing every log-in during a Redis outage is worse.
        """
        ...

    async def check(self, rule: RateLimitRule, key: str) -> None:
        """Raise RateLimitedError as ``hit`` would once the budget is spent, counting nothing.

        For rules that count an outcome known only afterwards (a declined payment): check
        before acting, ``hit`` once the outcome is known. Fails open like ``hit``.
        """
        ...

    async def hit_address(self, rule: RateLimitRule, address: str, *, scope: str = "") -> None:
        """``hit`` keyed by a client address: an IPv4 address alone, an IPv6 one by its network
        (a /64 unless configured), since one host is usually given a whole /64. ``scope``
        narrows the key (an account: attempts per account and address)."""
        ...
