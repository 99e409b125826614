"""The result of an idempotent command: the response, and whether it is a replay.

The presentation layer answers a replay with the original status and body plus an
``Idempotent-Replayed: true`` header; the response itself stays exactly what was stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

from app.shared.application.idempotency import IdempotencyKey, IdempotencyStore

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Idempotent(Generic[R]):
    response: R
    replayed: bool = False


async def claim(
    store: IdempotencyStore,
    *,
    owner: UUID,
    operation: str,
    key: str | None,
    request: Mapping[str, Any],
) -> tuple[IdempotencyKey | None, dict[str, Any] | None]:
    """Hold the key (if the client sent one): (key, stored response of an earlier request)."""
    if key is None:
        return None, None
    claimed = IdempotencyKey.for_request(owner=owner, operation=operation, key=key, request=request)
    return claimed, await store.claim(claimed)
