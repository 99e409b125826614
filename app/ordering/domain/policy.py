from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderingPolicy:
    """Business terms that operators may tune without touching the rules."""

    # Stock is held for a pending order this long; afterwards the order may be expired.
    payment_window: timedelta = timedelta(minutes=30)
