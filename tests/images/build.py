"""The four images, built from the one Dockerfile, and the host's services they run against;
also the loadtest image (Locust and loadtests/, Dockerfile target ``loadtest``).
Shared by the image tests and the chart's run test: one engine storage, so one layer cache."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
from redis import Redis
from sqlalchemy.engine import make_url

from tests.conftest import redis_database, run_sql
from tests.images.engine import ROOT, Engine, engine, log, python_base

TARGETS = ("api", "worker", "beat", "migrate")
LOADTEST = "loadtest"  # not an app image: Locust and the journeys only
TAG = "test"


@dataclass
class Images:
    engine: Engine
    tags: dict[str, str]
    build_seconds: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    loadtest: str = ""  # the loadtest image's tag


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
    built.loadtest = f"localhost/fastapi-platform-{LOADTEST}:{TAG}"
    seconds = found.build(LOADTEST, built.loadtest, python_image=base, build_args=args)
    log(f"{LOADTEST}: built in {seconds:.1f}s, {found.image_size(built.loadtest) / 1e6:.1f} MB")
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

    run_sql(server, f'CREATE DATABASE "{name}"')
    # TEST_REDIS_URL names the one Redis database the run may flush; the app and its broker
    # share it, as in the integration tests.
    Redis.from_url(redis_url).flushdb()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        yield Services(database_url=url, redis_url=redis_url, broker_db=redis_database(redis_url))
    finally:
        run_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for(check: Callable[[], bool], *, within: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return bool(check())


PASSWORD = "correct horse battery staple 42"


def _log_in(client: httpx.Client, login: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def a_customer_orders(api_url: str) -> str:
    """The super admin "root" (created beforehand with PASSWORD) adds a product, a customer
    signs up and orders two: the flow the image and chart tests send through a real api. Returns
    the order's id; the confirmation goes to buyer@example.com."""
    with httpx.Client(base_url=api_url, timeout=10) as client:
        product = client.post(
            "/api/v1/products",
            json={"sku": "MUG-1", "name": "Mug", "price_amount": "12.50", "currency": "EUR",
                  "stock_on_hand": 5},
            headers=_log_in(client, "root"),
        )  # fmt: skip
        assert product.status_code == 201, product.text
        signed_up = client.post(
            "/api/v1/users",
            json={"username": "buyer", "email": "buyer@example.com", "password": PASSWORD},
        )
        assert signed_up.status_code == 201, signed_up.text
        order = client.post(
            "/api/v1/orders",
            json={"lines": [{"product_id": product.json()["id"], "quantity": 2}]},
            headers=_log_in(client, "buyer"),
        )
        assert order.status_code == 201, order.text
        return str(order.json()["id"])
