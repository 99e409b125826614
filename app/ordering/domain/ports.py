"""Ports the ordering domain needs from the outside world."""

from __future__ import annotations

from typing import Protocol

from app.ordering.domain.value_objects import OrderId


class OrderIdGenerator(Protocol):
    def __call__(self) -> OrderId: ...
