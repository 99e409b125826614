from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
