"""Settings from the environment: one model per concern, each with its own ``APP_*`` prefix.

Nothing is read at import time: ``load_settings()`` is called by each entrypoint. A bad or
missing variable stops start-up with a message naming the variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "development-only-secret-change-me-0123456789"  # noqa: S105 - refused in production  # nosec B105
MIN_SECRET_LENGTH = 32

Environment = Literal["development", "test", "staging", "production"]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class _Section(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)


def _password_into_url(data: Any) -> Any:  # noqa: ANN401 - pydantic's raw input
    """A separate ``password`` (from a Secret key of its own, as Kubernetes operators and the
    Helm chart hand it over) goes into the URL, percent-encoded, so any character is safe."""
    if not isinstance(data, dict) or not data.get("password") or not data.get("url"):
        return data
    password = data["password"]
    if isinstance(password, SecretStr):
        password = password.get_secret_value()
    parts = urlsplit(str(data["url"]))
    if not parts.hostname:
        msg = "a separate password needs a URL with a host (user@host:port/...)"
        raise ValueError(msg)
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:{quote(str(password), safe='')}@{host}"
    return {**data, "url": urlunsplit(parts._replace(netloc=netloc))}


class AppSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="APP_")

    env: Environment = "production"
    name: str = "fastapi-platform"
    version: str = "0.1.0"
    # The source revision of the build (the image's REVISION build argument).
    revision: str = "unknown"
    readiness_timeout: PositiveFloat = 2.0


class DatabaseSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="APP_DB_")

    url: str = Field(description="SQLAlchemy URL, e.g. postgresql+asyncpg://user:pw@host/db")
    # Overrides the URL's password (APP_DB_PASSWORD, e.g. from its own Secret key).
    password: SecretStr | None = None
    pool_size: PositiveInt = 10
    max_overflow: Annotated[int, Field(ge=0)] = 10
    pool_timeout: PositiveFloat = 5.0
    # Once callers have been waiting for a connection for over a second without a break (a slow
    # or overloaded database, not a burst), a newcomer waits this long at most, then 503: the
    # backlog stays short and clears as soon as the database is fast again. 0 turns it off.
    pool_busy_timeout: Annotated[float, Field(ge=0)] = 0.5
    pool_recycle: PositiveInt = 1800
    connect_timeout: PositiveFloat = 5.0
    statement_timeout_ms: PositiveInt = 15_000
    # A round trip before every checkout to test the connection. Off: after a server restart the
    # first query of each process fails (503 with Retry-After) and the pool reconnects at once.
    pool_pre_ping: bool = False
    echo: bool = False
    # APP_DB_URL points at a transaction-mode pooler (PgBouncer): no named prepared statements and
    # no session settings sent at connect time; the pooler sets them (docs/07-database.md).
    transaction_pooling: bool = False

    @model_validator(mode="before")
    @classmethod
    def _password_in_url(cls, data: Any) -> Any:  # noqa: ANN401 - pydantic's raw input
        return _password_into_url(data)

    @field_validator("url")
    @classmethod
    def _asyncpg_url(cls, url: str) -> str:
        # Accept the usual postgres:// forms and pin the async driver.
        for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url.removeprefix(prefix)
        msg = "must be a PostgreSQL URL (postgresql://...)"
        raise ValueError(msg)


class MigrationSettings(_Section):
    """Limits of every schema migration (app/migrations/env.py), so one never queues traffic
    behind it: a revision may set its own (``set_timeouts`` in app/migrations/timeouts.py)."""

    model_config = SettingsConfigDict(env_prefix="APP_DB_MIGRATION_")

    # A DDL statement waiting for its lock blocks every query that comes after it on that
    # table: give up soon, retry, and fail with the blocker named rather than queue traffic.
    lock_timeout_ms: PositiveInt = 5_000
    statement_timeout_ms: PositiveInt = 300_000
    lock_retries: Annotated[int, Field(ge=0)] = 3
    # Before retry n: retry_delay_seconds * 2**(n-1), at most 30 s.
    retry_delay_seconds: PositiveFloat = 2.0


class RedisSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="APP_REDIS_")

    url: str = Field(description="redis://host:port/db or unix:///path/redis.sock?db=0")
    # Overrides the URL's password (APP_REDIS_PASSWORD); the broker's derived URL carries it too.
    password: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _password_in_url(cls, data: Any) -> Any:  # noqa: ANN401 - pydantic's raw input
        return _password_into_url(data)

    socket_timeout: PositiveFloat = 2.0
    connect_timeout: PositiveFloat = 2.0
    retries: Annotated[int, Field(ge=0)] = 2
    max_connections: PositiveInt = 100


class AuthSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="APP_AUTH_")

    jwt_secret: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    jwt_issuer: str = "fastapi-platform"
    jwt_audience: str = "fastapi-platform"
    access_ttl_seconds: PositiveInt = 900
    # A session ends after this long without a refresh, and in any case after its maximum age.
    refresh_ttl_seconds: PositiveInt = 14 * 24 * 3600
    session_max_age_seconds: PositiveInt = 30 * 24 * 3600
    cookie_secure: bool = True
    cookie_samesite: Literal["lax", "strict"] = "lax"
    # Argon2id: OWASP's minimum is m=19 MiB, t=2, p=1; the defaults here are stronger.
    argon2_time_cost: PositiveInt = 2
    argon2_memory_kib: Annotated[int, Field(ge=8)] = 32_768
    argon2_parallelism: PositiveInt = 1
    hash_threads: PositiveInt = 2
    # The hashing threads' niceness (Linux): above 0 they yield the cores to the event loop, so a
    # log-in storm does not stall other requests. 0: the loop's own priority.
    hash_nice: Annotated[int, Field(ge=0, le=19)] = 10
    # Failed log-ins per account (from anywhere) before each further attempt waits 1 s, 2 s,
    # 4 s... up to the cap; networks the account logged in from recently are exempt.
    login_free_failures: PositiveInt = 10
    login_backoff_max_seconds: PositiveInt = 60
    login_failure_window_seconds: PositiveInt = 900
    hash_queue: Annotated[int, Field(ge=0)] = 64


class CacheSettings(_Section):
    """Cache-aside for catalog reads (see docs/12-redis.md)."""

    model_config = SettingsConfigDict(env_prefix="APP_CACHE_")

    ttl_seconds: PositiveInt = 300
    operation_timeout: PositiveFloat = 0.5
    breaker_seconds: PositiveFloat = 5.0
    # A near cache in each process: entries answered from memory for up to this long, without
    # Redis. Every write's invalidation reaches each process by pub/sub and drops its copies,
    # and the copies are answered only while that subscription is heard from. 0: off, every
    # read asks Redis.
    local_seconds: Annotated[float, Field(ge=0, le=60)] = 5.0
    local_entries: Annotated[int, Field(ge=1, le=100_000)] = 1024
    # A Redis of its own for the cache, which may evict (allkeys-lru at its maxmemory) while
    # sessions, rate limits and the broker stay on APP_REDIS_URL, which must not. Unset: that one.
    redis_url: str | None = None
    redis_password: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _password_in_url(cls, data: Any) -> Any:  # noqa: ANN401 - pydantic's raw input
        if isinstance(data, dict) and data.get("redis_url") and data.get("redis_password"):
            url = _password_into_url({"url": data["redis_url"], "password": data["redis_password"]})
            return {**data, "redis_url": url["url"]}
        return data


class IdempotencySettings(_Section):
    model_config = SettingsConfigDict(env_prefix="APP_IDEMPOTENCY_")

    retention_seconds: PositiveInt = 24 * 3600


class OrderingSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="APP_ORDERING_")

    # How long stock stays reserved for an unpaid order before the expiry job releases it.
    payment_window_seconds: PositiveInt = 1800
    # What one customer (not staff) may hold unpaid, and order of one product at once.
    max_pending_orders: PositiveInt = 3
    max_pending_units: PositiveInt = 50
    max_units_per_product: Annotated[int, Field(gt=0, le=1000)] = 10


class ExportSettings(_Section):
    """CSV exports of orders (see docs/11-async-tasks.md)."""

    model_config = SettingsConfigDict(env_prefix="APP_EXPORT_")

    chunk_rows: Annotated[int, Field(ge=10, le=100_000)] = 1000
    max_bytes: PositiveInt = 50 * 1024 * 1024
    retention_seconds: PositiveInt = 24 * 3600
    # A task writes chunks for this long, then hands the export to a fresh task: well inside
    # the soft time limit, and no export holds a worker for long.
    slice_seconds: PositiveFloat = 20.0
    # A pause between chunks leaves the database to interactive traffic.
    chunk_pause_ms: Annotated[int, Field(ge=0, le=10_000)] = 0
    max_unfinished: PositiveInt = 3  # queued or running exports per requester


class CelerySettings(_Section):
    """Background processing (see docs/11-async-tasks.md)."""

    model_config = SettingsConfigDict(env_prefix="APP_CELERY_")

    # Default: the APP_REDIS_URL server, its own database index (never the cache's).
    broker_url: str | None = None
    broker_db: Annotated[int, Field(ge=0, le=15)] = 1
    concurrency: PositiveInt = 2
    # An unacknowledged message is handed out again after this. Longer than a task may run
    # (time_limit) plus the longest retry delay (retrying(): 300 s), since a worker holds a
    # retried task unacknowledged until it is due; no longer, since a task a worker had reserved
    # when its broker connection broke waits this long to run (chapter 11).
    visibility_timeout: PositiveInt = 600
    soft_time_limit: PositiveInt = 60
    time_limit: PositiveInt = 90
    max_retries: Annotated[int, Field(ge=0)] = 10
    publish_timeout: PositiveFloat = 2.0
    # The API relays each commit's events at once; the sweep catches anything missed.
    fast_path: bool = True
    outbox_sweep_seconds: PositiveFloat = 5.0
    expire_orders_seconds: PositiveFloat = 60.0
    sales_rollup_seconds: PositiveFloat = 900.0
    purge_seconds: PositiveFloat = 3600.0
    retention_days: PositiveInt = 7
    beat_schedule_file: str = "/tmp/celerybeat-schedule"  # noqa: S108 - a writable scratch path  # nosec B108
    # Probes (no broker round trip): files under a writable path such as an emptyDir on /tmp.
    heartbeat_file: str = "/tmp/worker-heartbeat"  # noqa: S108 - a probe file on a writable scratch path  # nosec B108
    ready_file: str = "/tmp/worker-ready"  # noqa: S108 - a probe file on a writable scratch path  # nosec B108
    heartbeat_seconds: PositiveFloat = 10.0
    metrics_port: Annotated[int, Field(ge=0, lt=65536)] = 9101  # 0: no metrics server
    # On SIGTERM, running tasks get this long to finish; then they are handed back to the broker
    # (acks_late) and run again elsewhere.
    shutdown_timeout: PositiveFloat = 25.0


class SmtpSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="APP_SMTP_")

    host: str = "127.0.0.1"
    port: Annotated[int, Field(gt=0, lt=65536)] = 1025
    sender: str = "fastapi-platform <no-reply@fastapi-platform.localhost>"
    timeout: PositiveFloat = 10.0
    start_tls: bool = False
    username: str | None = None
    password: SecretStr | None = None


class HttpSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="APP_HTTP_")

    # /docs, /redoc and /openapi.json. Unset: served only with APP_ENV=development, since the
    # API's map is an attacker's map too.
    docs_enabled: bool | None = None
    # /metrics on the API port as well. Under gunicorn (`python -m app api`) metrics have a port
    # of their own, APP_SERVER_METRICS_PORT, that no Service or Ingress routes to the public.
    metrics_on_api_port: bool = False
    cors_origins: list[str] = []
    root_path: str = ""
    # Peers whose X-Forwarded-For/-Proto are believed (addresses or networks, comma-separated,
    # "*" for any). Client addresses (rate limits, logs) come from here and nowhere else.
    trusted_proxies: str = "127.0.0.1"
    # The largest request body accepted (413 above it). The API's bodies are small JSON documents.
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    # The whole request body must arrive within this many seconds of the request (408 after).
    body_timeout_seconds: PositiveFloat = 30.0
    # Requests one process handles at once; the next is answered 503 "overloaded" at once rather
    # than queuing for a database connection (probes and metrics are never refused). 0, the
    # default: no bound, requests wait for a connection up to APP_DB_POOL_TIMEOUT (chapter 06).
    max_in_flight: Annotated[int, Field(ge=0)] = 0


class RateLimitSettings(_Section):
    """Limits in the ``limits`` notation: "5/minute", "100 per hour", "10/30 seconds"."""

    model_config = SettingsConfigDict(env_prefix="APP_RATE_LIMIT_")

    enabled: bool = True
    operation_timeout: PositiveFloat = 0.5
    # Per-address limits count an IPv6 client by its network of this size (one host usually
    # holds a whole /64); IPv4 clients by their address.
    ipv6_prefix: Annotated[int, Field(ge=32, le=128)] = 64
    # Log-in attempts for one account from one address (network); the account as a whole
    # backs off instead (APP_AUTH_LOGIN_*), so nobody can lock its owner out.
    login_per_account_and_address: str = "10/minute"
    login_per_address: str = "30/minute"
    sign_up_per_address: str = "20/hour"
    place_order_per_user: str = "30/minute"
    # Password changes per user (each costs a hash), and wrong current passwords per user: one
    # more than this ends the session that sent it.
    change_password_per_user: str = "10/hour"  # noqa: S105 - a limit, not a password
    wrong_password_per_user: str = "5/hour"  # noqa: S105
    place_order_per_address: str = "120/minute"
    # Anonymous catalog listings; signed-in callers are not counted.
    list_products_per_address: str = "600/minute"
    # Payment attempts per customer (one per order they may place), and declined payments:
    # once those are spent no attempt reaches the gateway, so an account cannot test stolen
    # card numbers; an order's 30 minutes to pay fit in one window of the latter.
    pay_order_per_user: str = "30/minute"
    declined_payment_per_user: str = "5/hour"

    @field_validator(
        "login_per_account_and_address",
        "change_password_per_user",
        "wrong_password_per_user",
        "login_per_address",
        "sign_up_per_address",
        "place_order_per_user",
        "place_order_per_address",
        "list_products_per_address",
        "pay_order_per_user",
        "declined_payment_per_user",
    )
    @classmethod
    def _parsable(cls, text: str) -> str:
        from limits import parse  # noqa: PLC0415 - only to validate the notation

        parse(text)  # raises ValueError naming the problem
        return text


class ServerSettings(_Section):
    """gunicorn knobs (read by gunicorn.conf.py)."""

    model_config = SettingsConfigDict(env_prefix="APP_SERVER_")

    host: str = "0.0.0.0"  # noqa: S104 - a container listens on all interfaces  # nosec B104
    port: Annotated[int, Field(gt=0, lt=65536)] = 8000
    workers: PositiveInt = 2
    timeout: PositiveInt = 60
    graceful_timeout: PositiveInt = 30
    keepalive: PositiveInt = 5
    # No recycling: a worker's memory stays flat (RSS ~124 MB, +1.4 MB over 58,000 requests in
    # make bench's soak), and each recycle cost a second of CPU and dropped keep-alive
    # connections. Set it only for a leak of your own making.
    max_requests: Annotated[int, Field(ge=0)] = 0
    max_requests_jitter: Annotated[int, Field(ge=0)] = 0
    # gunicorn's master serves every worker's metrics here (0: nowhere), apart from the API.
    metrics_port: Annotated[int, Field(ge=0, lt=65536)] = 9100


class LogSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="APP_LOG_")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"


@dataclass(frozen=True, slots=True)
class Settings:
    app: AppSettings
    db: DatabaseSettings
    redis: RedisSettings
    auth: AuthSettings
    http: HttpSettings
    log: LogSettings
    cache: CacheSettings
    idempotency: IdempotencySettings
    rate_limit: RateLimitSettings
    ordering: OrderingSettings
    export: ExportSettings
    celery: CelerySettings
    smtp: SmtpSettings


S = TypeVar("S", bound=_Section)


class SettingsError(RuntimeError):
    """Start-up stops here; the message names every bad variable."""


def _section(model: type[S], problems: list[str]) -> S | None:
    try:
        return model()
    except ValidationError as error:
        prefix = str(model.model_config.get("env_prefix", ""))
        for item in error.errors():
            field = ".".join(str(part) for part in item["loc"])
            variable = field if field.startswith("APP_") else f"{prefix}{field}".upper()
            problems.append(f"{variable}: {item['msg']}")
        return None


def load_section(model: type[S]) -> S:
    """One concern's settings, for entrypoints that need no more (gunicorn, migrations)."""
    problems: list[str] = []
    section = _section(model, problems)
    if section is None:
        raise SettingsError("Invalid configuration:\n  " + "\n  ".join(problems))
    return section


def load_settings() -> Settings:
    problems: list[str] = []
    sections = {
        "app": _section(AppSettings, problems),
        "db": _section(DatabaseSettings, problems),
        "redis": _section(RedisSettings, problems),
        "auth": _section(AuthSettings, problems),
        "http": _section(HttpSettings, problems),
        "log": _section(LogSettings, problems),
        "cache": _section(CacheSettings, problems),
        "idempotency": _section(IdempotencySettings, problems),
        "rate_limit": _section(RateLimitSettings, problems),
        "ordering": _section(OrderingSettings, problems),
        "export": _section(ExportSettings, problems),
        "celery": _section(CelerySettings, problems),
        "smtp": _section(SmtpSettings, problems),
    }
    app, auth = sections["app"], sections["auth"]
    if isinstance(app, AppSettings) and isinstance(auth, AuthSettings) and app.env != "development":
        secret = auth.jwt_secret.get_secret_value()
        if secret == PLACEHOLDER_SECRET or len(secret) < MIN_SECRET_LENGTH:
            problems.append(
                f"APP_AUTH_JWT_SECRET: set a random secret of at least {MIN_SECRET_LENGTH} "
                f"characters (the placeholder is accepted only with APP_ENV=development)"
            )
    if problems:
        raise SettingsError("Invalid configuration:\n  " + "\n  ".join(problems))
    return Settings(**sections)  # type: ignore[arg-type]
