"""load_settings(): everything from APP_* variables, refusing unsafe or missing values."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

import pytest
from redis import Redis
from sqlalchemy.engine import make_url

from app.bootstrap.settings import (
    MIN_SECRET_LENGTH,
    PLACEHOLDER_SECRET,
    SettingsError,
    load_settings,
)
from app.bootstrap.worker.broker import broker_url
from app.shared.application.rate_limit import RateLimitRule

GOOD_SECRET = "s" * MIN_SECRET_LENGTH


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean environment with just enough to start in production."""
    for name in list(os.environ):
        if name.upper().startswith("APP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("APP_DB_URL", "postgresql+asyncpg://app:pw@db:5432/app")
    monkeypatch.setenv("APP_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("APP_AUTH_JWT_SECRET", GOOD_SECRET)
    return monkeypatch


def test_loads_a_complete_production_configuration(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.app.env == "production"
    assert settings.db.url == "postgresql+asyncpg://app:pw@db:5432/app"
    assert settings.redis.url == "redis://cache:6379/0"
    assert settings.auth.jwt_secret.get_secret_value() == GOOD_SECRET


def test_missing_db_url_is_refused_naming_app_db_url(env: pytest.MonkeyPatch) -> None:
    env.delenv("APP_DB_URL")
    with pytest.raises(SettingsError, match="APP_DB_URL"):
        load_settings()


def test_every_missing_variable_is_named_at_once(env: pytest.MonkeyPatch) -> None:
    env.delenv("APP_DB_URL")
    env.delenv("APP_REDIS_URL")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "APP_DB_URL" in str(caught.value)
    assert "APP_REDIS_URL" in str(caught.value)


@pytest.mark.parametrize("app_env", [None, "production", "staging", "test"])
def test_placeholder_jwt_secret_is_refused_outside_development(
    env: pytest.MonkeyPatch, app_env: str | None
) -> None:
    env.delenv("APP_AUTH_JWT_SECRET")  # falls back to the placeholder
    if app_env is not None:
        env.setenv("APP_ENV", app_env)
    with pytest.raises(SettingsError, match="APP_AUTH_JWT_SECRET"):
        load_settings()


def test_explicit_placeholder_jwt_secret_is_refused_in_production(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("APP_AUTH_JWT_SECRET", PLACEHOLDER_SECRET)
    with pytest.raises(SettingsError, match="APP_AUTH_JWT_SECRET"):
        load_settings()


def test_placeholder_jwt_secret_is_accepted_in_development(env: pytest.MonkeyPatch) -> None:
    env.delenv("APP_AUTH_JWT_SECRET")
    env.setenv("APP_ENV", "development")
    settings = load_settings()
    assert settings.app.env == "development"
    assert settings.auth.jwt_secret.get_secret_value() == PLACEHOLDER_SECRET


def test_short_jwt_secret_is_refused_in_production(env: pytest.MonkeyPatch) -> None:
    short = "k" * (MIN_SECRET_LENGTH - 1)
    env.setenv("APP_AUTH_JWT_SECRET", short)
    with pytest.raises(SettingsError, match="APP_AUTH_JWT_SECRET") as caught:
        load_settings()
    assert short not in str(caught.value)  # the message never echoes the secret


def test_secret_of_minimum_length_is_accepted_in_production(env: pytest.MonkeyPatch) -> None:
    env.setenv("APP_AUTH_JWT_SECRET", "k" * MIN_SECRET_LENGTH)
    assert load_settings().auth.jwt_secret.get_secret_value() == "k" * MIN_SECRET_LENGTH


def test_jwt_secret_is_not_revealed_by_repr(env: pytest.MonkeyPatch) -> None:
    assert GOOD_SECRET not in repr(load_settings())


@pytest.mark.parametrize(
    "url",
    [
        "postgres://app:pw@db:5432/app",
        "postgresql://app:pw@db:5432/app",
        "postgresql+asyncpg://app:pw@db:5432/app",
    ],
)
def test_postgres_urls_are_normalised_to_asyncpg(env: pytest.MonkeyPatch, url: str) -> None:
    env.setenv("APP_DB_URL", url)
    assert load_settings().db.url == "postgresql+asyncpg://app:pw@db:5432/app"


@pytest.mark.parametrize(
    "url", ["mysql://app:pw@db/app", "sqlite:///app.db", "postgresql+psycopg://app@db/app"]
)
def test_non_postgres_url_is_refused_naming_app_db_url(env: pytest.MonkeyPatch, url: str) -> None:
    env.setenv("APP_DB_URL", url)
    with pytest.raises(SettingsError, match="APP_DB_URL"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("APP_DB_POOL_SIZE", "0"),
        ("APP_ENV", "prod"),
        ("APP_LOG_LEVEL", "TRACE"),
        ("APP_AUTH_ACCESS_TTL_SECONDS", "-1"),
    ],
)
def test_invalid_value_is_refused_naming_its_variable(
    env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    env.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


@pytest.mark.parametrize("rule", list(RateLimitRule), ids=str)
def test_every_rate_limit_rule_has_a_setting_in_the_limits_notation(
    env: pytest.MonkeyPatch, rule: RateLimitRule
) -> None:
    # The limiter looks each rule up by name: a rule without its setting fails at its first hit.
    variable = f"APP_RATE_LIMIT_{rule.value.upper()}"
    env.setenv(variable, "often")
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_a_separate_database_password_goes_into_the_url_percent_encoded(
    env: pytest.MonkeyPatch,
) -> None:
    # What the Helm chart does with a password from its own Secret key (existingSecret).
    env.setenv("APP_DB_URL", "postgresql://shop@pg.internal:5432/shop?sslmode=require")
    env.setenv("APP_DB_PASSWORD", "p@ss/w:rd%")
    url = make_url(load_settings().db.url)
    assert url.password == "p@ss/w:rd%"
    assert (url.username, url.host, url.port, url.database) == ("shop", "pg.internal", 5432, "shop")
    assert url.query == {"sslmode": "require"}


def test_a_separate_redis_password_reaches_the_client_and_the_broker(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("APP_REDIS_URL", "redis://redis.internal:6379/0")
    env.setenv("APP_REDIS_PASSWORD", "a b@c")
    settings = load_settings()
    client = Redis.from_url(settings.redis.url).connection_pool.connection_kwargs
    assert client["password"] == "a b@c"
    broker = urlsplit(broker_url(settings))
    assert unquote(broker.password or "") == "a b@c"
    assert broker.path == f"/{settings.celery.broker_db}"


def test_a_separate_password_replaces_one_in_the_url(env: pytest.MonkeyPatch) -> None:
    env.setenv("APP_REDIS_PASSWORD", "new")
    env.setenv("APP_REDIS_URL", "rediss://:old@redis.internal:6380/2")
    assert load_settings().redis.url == "rediss://:new@redis.internal:6380/2"
