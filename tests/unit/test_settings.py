"""load_settings(): everything from APP_* variables, refusing unsafe or missing values."""

from __future__ import annotations

import os

import pytest

from app.bootstrap.settings import (
    MIN_SECRET_LENGTH,
    PLACEHOLDER_SECRET,
    SettingsError,
    load_settings,
)

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
