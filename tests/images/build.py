"""The four images, built from the one Dockerfile, and the host's services they run against.
Shared by the image tests and the chart's run test: one engine storage, so one layer cache."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg
import pytest
from redis import Redis
from sqlalchemy.engine import make_url

from tests.conftest import redis_database
from tests.images.engine import ROOT, Engine, engine, log, python_base

TARGETS = ("api", "worker", "beat", "migrate")
TAG = "test"


@dataclass
class Images:
    engine: Engine
    tags: dict[str, str]
    build_seconds: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def build_images(*, podman: bool = False) -> Images:
    state = ROOT / ".local" / "images"
    found = engine(state, podman=podman)
    base = python_base(found, state)
    built = Images(
        found, {target: f"localhost/fastapi-platform-{target}:{TAG}" for target in TARGETS}
    )
    args = {"VERSION": "0.1.0-test", "REVISION": "0" * 40, "SOURCE": "file://" + str(ROOT)}
    for target in TARGETS:
        built.build_seconds[target] = found.build(
            target, built.tags[target], python_image=base, build_args=args
        )
        built.sizes[target] = found.image_size(built.tags[target])
        log(
            f"{target}: built in {built.build_seconds[target]:.1f}s, "
            f"{built.sizes[target] / 1e6:.1f} MB"
        )
    return built


@dataclass(frozen=True)
class Services:
    database_url: str  # postgresql://... on the host's loopback, a fresh database
    redis_url: str
    broker_db: int


def _host_url(variable: str, default: str) -> str:
    url = os.environ.get(variable, default)
    if urlsplit(url).hostname not in {"127.0.0.1", "localhost"}:
        pytest.fail(f"{variable} must reach a server on the host's loopback over TCP: {url}")
    return url


@contextmanager
def host_services(prefix: str) -> Iterator[Services]:
    """A fresh database on TEST_DATABASE_URL's server and the flushed TEST_REDIS_URL database,
    both on the host's loopback, where containers on the host network reach them."""
    server = _host_url("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = _host_url("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    name = f"{prefix}_{secrets.token_hex(4)}"

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(server)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    # TEST_REDIS_URL names the one Redis database the run may flush; the app and its broker
    # share it, as in the integration tests.
    Redis.from_url(redis_url).flushdb()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        yield Services(database_url=url, redis_url=redis_url, broker_db=redis_database(redis_url))
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def wait_for(check: Callable[[], bool], *, within: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return bool(check())
