"""Idempotent commands: a client-chosen key makes a retried request safe.

The first request with a key does the work and stores its response in the same unit of work; a
replay (same key, same request) gets that response without a second effect; a concurrent request
with the key waits for the first to finish; the same key with a different request is refused.

A command returns ``Idempotent[R]``: the response, and whether it is a replay. The presentation
layer answers a replay with the original status and body plus an ``Idempotent-Replayed: true``
header; the response itself stays exactly what was stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from app.shared.domain.errors import InvalidValueError

R = TypeVar("R")


class IdempotencyKeyReusedError(InvalidValueError):
    code = "idempotency_key_reused"


class InvalidIdempotencyKeyError(InvalidValueError):
    code = "invalid_idempotency_key"


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    owner: UUID  # keys are per caller: two users may pick the same key
    operation: str  # e.g. "ordering.place_order"
    key: str
    fingerprint: str  # of the request: the same key with another request is refused

    MAX_LENGTH = 255

    @classmethod
    def for_request(
        cls, *, owner: UUID, operation: str, key: str, request: Mapping[str, Any]
    ) -> IdempotencyKey:
        """A key is 1 to 255 visible ASCII characters and the spaces between them: what an HTTP
        header carries safely (a server may refuse control characters, reads other bytes as
        Latin-1, and drops white space around a value)."""
        if (
            not 1 <= len(key) <= cls.MAX_LENGTH
            or not all(" " <= char <= "~" for char in key)
            or " " in (key[0], key[-1])
        ):
            raise InvalidIdempotencyKeyError(
                f"An Idempotency-Key has 1 to {cls.MAX_LENGTH} visible ASCII characters, with "
                "spaces between them if any."
            )
        canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(f"{operation}\n{canonical}".encode()).hexdigest()
        return cls(owner=owner, operation=operation, key=key, fingerprint=digest)


class IdempotencyStore(Protocol):
    async def claim(self, key: IdempotencyKey) -> dict[str, Any] | None:
        """Hold the key in this unit of work.

        Returns the stored response when an earlier request with this key completed (a replay),
        None when this request is the first. Waits while another request holds the key. Raises
        IdempotencyKeyReusedError when the key was used for a different request.
        """
        ...

    async def complete(self, key: IdempotencyKey, response: Mapping[str, Any]) -> None:
        """Store the response; it becomes visible when the unit of work commits."""
        ...


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
