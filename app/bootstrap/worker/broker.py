from __future__ import annotations

import functools
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.exceptions
from kombu.transport import redis as kombu_redis

from app.bootstrap.settings import Settings


def broker_url(settings: Settings) -> str:
    """APP_CELERY_BROKER_URL, or the APP_REDIS_URL server with the broker's own database index
    (queues never share a database with the cache or the sessions)."""
    if settings.celery.broker_url:
        return settings.celery.broker_url
    return with_database(settings.redis.url, settings.celery.broker_db)


def with_database(redis_url: str, database: int) -> str:
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        # kombu spells a unix socket "redis+socket://" and the database "virtual_host".
        query = {key: value for key, value in parse_qsl(parts.query) if key != "db"}
        query["virtual_host"] = str(database)
        return f"redis+socket://{parts.path}?{urlencode(query)}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def guard_detached_redis_channels() -> None:
    """Workaround for a kombu 5.7 / celery 5.7 bug that killed the worker when its broker's
    Redis restarted (docs/13-testing.md, "Broker stop"; tests/integration/
    test_worker_broker_restart.py replays it). Idempotent; create_celery() installs it.

    When the consumer loses the broker, celery calls ``connection.collect()`` and then
    ``connection.close()``. For Redis, ``collect()`` closes the channels and swallows connection
    errors, then always detaches the transport (``transport.client = None``). A channel whose
    close failed half-way (draining the in-flight BRPOP on the dead socket) is still open, still
    holding a delivered, unacknowledged message (acks_late: the task is running). The second
    close, or that task's acknowledgement, then builds a new Redis pool from
    ``transport.client.hostname`` and raises ``AttributeError``, which no connection-error
    handler catches: "Unrecoverable error", and the worker process exits.

    With the guard, a channel whose transport is detached raises the Redis ConnectionError it
    would raise for an unreachable broker, and kombu's and celery's own handling applies: the
    close gives up on restoring the message and the consumer reconnects; a late acknowledgement
    is logged ("Couldn't ack"). The message stays in the broker's unacked hash, which kombu
    requeues after the visibility timeout; the handler's inbox makes that second run send
    nothing. Nothing else changes: a channel with a live transport behaves exactly as before.
    """
    channel_class: Any = kombu_redis.Channel  # kombu's annotations are partial
    connparams = channel_class._connparams  # noqa: SLF001 - the method being guarded
    if getattr(connparams, "detached_guard", False):
        return

    @functools.wraps(connparams)
    def guarded(channel: Any, asynchronous: bool = False) -> Any:  # noqa: ANN401, FBT001, FBT002 - kombu's signature
        transport = channel.connection
        if transport is None or transport.client is None:
            msg = "the broker connection was closed (lost broker: kombu transport detached)"
            raise redis.exceptions.ConnectionError(msg)
        return connparams(channel, asynchronous=asynchronous)

    guarded.detached_guard = True  # type: ignore[attr-defined]
    channel_class._connparams = guarded  # noqa: SLF001
