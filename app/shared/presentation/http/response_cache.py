"""Whole answers of anonymous reads, sent again from memory without running the route.

A cached read from the near cache still cost most of its time above the cache: FastAPI solving
the route's parameters, the request's DI scope, the interactor, validating and serializing the
model (docs/15-performance.md). ``AnsweredFromMemory`` routes keep each 200 answer (its headers
and body, as the route sent them) in the process's near cache, under the namespace of what it
shows, and send it again as it was. The writes that invalidate that namespace drop it, in this
process at once and in the others by their invalidation listener, and the near cache answers
nothing while that listener is not heard from (docs/12-redis.md), so it is never older than
the entries it was built from.

Only a request without credentials (no Authorization header, no cookie) is answered from memory
or kept: its answer is the one anyone gets. A request with credentials runs the route: its
answer may depend on who asks (staff see archived products), and what credentials mean is the
route's to decide. The middlewares around the route (request id, metrics, access log, security
headers) run for every request, hit or not.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Protocol

from starlette.types import Message, Receive, Scope, Send

from app.shared.presentation.http.routing import InjectedRoute

Answer = tuple[tuple[tuple[bytes, bytes], ...], bytes]
_CREDENTIALS = frozenset({b"authorization", b"cookie"})


class ResponseCache(Protocol):
    def get(self, kind: str, scope: str) -> Answer | None: ...

    def since(self) -> int:
        """A token taken before the route runs: an answer built across a write is not kept."""
        ...

    def put(self, kind: str, scope: str, answer: Answer, *, since: int) -> None: ...


def use_response_cache(state: object, cache: ResponseCache) -> None:
    """Where AnsweredFromMemory finds the app's cache (the app's state: routers are shared by
    every app a process builds, tests build many)."""
    state.response_cache = cache  # type: ignore[attr-defined]


class AnsweredFromMemory(InjectedRoute):
    """A GET route of one resource by id. Subclasses name the cache namespace's kind and the
    path parameter that holds the id (a UUID: its canonical text is the namespace's scope)."""

    cache_kind: ClassVar[str]
    id_param: ClassVar[str]

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache: ResponseCache | None = getattr(scope["app"].state, "response_cache", None)
        key = self._key(scope) if cache is not None else None
        if cache is None or key is None:
            await super().handle(scope, receive, send)
            return
        answer = cache.get(self.cache_kind, key)
        if answer is not None:
            headers, body = answer
            await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
            await send({"type": "http.response.body", "body": body})
            return
        since = cache.since()
        kept = _Keeper(send)
        await super().handle(scope, receive, kept.send)
        if kept.answer is not None:
            cache.put(self.cache_kind, key, kept.answer, since=since)

    def _key(self, scope: Scope) -> str | None:
        if scope["method"] != "GET":
            return None
        for name, _ in scope["headers"]:
            if name in _CREDENTIALS:
                return None
        try:
            written = scope["path_params"][self.id_param].lower()
            canonical = str(uuid.UUID(written))
        except (KeyError, ValueError, TypeError, AttributeError):
            return None  # the route answers it (a 422)
        # Only the usual form: uuid.UUID takes some that the route's validation refuses.
        return canonical if written == canonical else None


class _Keeper:
    """Passes the route's messages on and keeps a 200 answer sent in one body message."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._headers: tuple[tuple[bytes, bytes], ...] | None = None
        self.answer: Answer | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 200:
            self._headers = tuple((bytes(k), bytes(v)) for k, v in message["headers"])
        elif message["type"] == "http.response.body" and self._headers is not None:
            if message.get("more_body", False):
                self._headers = None  # streamed: not kept
            else:
                self.answer = (self._headers, bytes(message.get("body", b"")))
        await self._send(message)
