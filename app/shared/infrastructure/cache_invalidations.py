"""Each process's near cache, kept true by Redis pub/sub.

Every cache bump publishes its namespace (on ``invalidations_channel``, sent by MULTI with the
version's increment). A process's listener holds one subscription and drops its near copies of each
namespace it hears of. Pub/sub delivers at most once and only to whoever is subscribed at the
time, so the near cache must not outlive its subscription:

- the listener pings every ``ping_every`` seconds; each message or reply trusts the near cache
  for ``trust_for`` seconds more, so a connection that silently stopped delivering turns it
  off within that time (``NearCache.heard``), and the listener then drops that connection for
  a new one;
- a subscription confirmation (the first, or redis-py's own resubscription after it
  reconnected) drops every copy first: messages sent while it was away are lost;
- any error drops every copy and turns the near cache off until a new subscription is
  confirmed; the listener tries again after ``retry_after`` seconds.

Redis queues the message for every subscriber as it runs the EXEC and sends it in the same
pass as the EXEC's reply, and a bump returns before the write's response is sent: a client that
reads after its write's response finds the message already sent to each process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from redis.asyncio import Redis
from structlog.stdlib import get_logger

from app.shared.infrastructure.cache import NearCache, invalidations_channel

_log = get_logger(__name__)


class InvalidationListener:
    def __init__(
        self,
        redis: Redis,
        near: NearCache,
        *,
        timeout: float,
        ping_every: float = 0.5,
        trust_for: float = 1.5,
        retry_after: float = 1.0,
    ) -> None:
        self._redis = redis
        self._channel = invalidations_channel(redis)
        self._near = near
        self._timeout = timeout
        self._ping_every = ping_every
        self._trust_for = trust_for
        self._retry_after = retry_after
        self._task: asyncio.Task[None] | None = None
        self._lost = False
        self._heard_at = 0.0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="cache-invalidations"
            )

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except Exception as error:  # noqa: BLE001 - any failure: off until subscribed again
                self._near.distrust()
                if not self._lost:  # once an outage, not once an attempt
                    _log.warning("cache_invalidations_lost", error=repr(error))
                self._lost = True
                await asyncio.sleep(self._retry_after)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        try:
            async with asyncio.timeout(self._timeout):
                await pubsub.subscribe(self._channel)
            self._heard_at = time.monotonic()
            while True:
                message = await pubsub.get_message(timeout=self._ping_every)
                if message is not None:
                    self._on(message)
                    continue
                if time.monotonic() - self._heard_at > self._trust_for:
                    # A connection that takes pings and answers nothing (a peer gone without a
                    # word, a partition) never fails by itself: give it up for a new one.
                    raise TimeoutError(f"no word from Redis for {self._trust_for:g} s")
                async with asyncio.timeout(self._timeout):
                    await pubsub.ping()  # the reply comes back as a message
        finally:
            self._near.distrust()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._timeout):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _on(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "subscribe":
            self._near.distrust()
            _log.info("cache_invalidations_listening", channel=self._channel, after_loss=self._lost)
            self._lost = False
        elif kind == "message":
            self._near.drop(message["data"])
        self._heard_at = time.monotonic()
        self._near.heard(self._trust_for)
