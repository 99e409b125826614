"""The platform under test, as production runs it: the gunicorn API (two uvicorn workers), a
Celery worker and beat, all as subprocesses configured by the environment, on private servers:

    load -> balancer (FaultProxy) -> api -> database proxy (FaultProxy) -> PostgreSQL (embedded)
                                      \\-> Redis (sessions, cache, rate limits; AOF on)
    worker, beat -> database proxy; broker Redis (its own server, AOF on); SMTP -> Deliveries

Both Redis servers keep an append-only file, as a production broker and session store must:
stopped and started again, they come back with their queues and sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
from aiosmtpd.controller import Controller

from app.bootstrap.migrations import upgrade
from loadtests.benchmarks.http_vs_bare import Server, serve
from loadtests.faults.load import Shop
from loadtests.faults.proxy import FaultProxy
from loadtests.faults.servers import PrivatePostgres, PrivateRedis, free_port

PASSWORD: Final = "faults-password-0123"  # noqa: S105 - private throwaway servers
STOCK: Final = 10_000_000  # per product: no order of the load is ever out of stock
UNLIMITED: Final = "1000000/minute"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_AOF: Final = ("--appendonly", "yes")
_START_TIMEOUT: Final = 60.0
_STOP_TIMEOUT: Final = 40.0  # above the worker's APP_CELERY_SHUTDOWN_TIMEOUT (25 s)


class Deliveries:
    """An SMTP server that counts order confirmations by order id (the worker's side effect)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._lock = threading.Lock()
        self._confirmations: Counter[str] = Counter()
        self._message_ids: dict[str, set[str]] = {}
        self.messages = 0
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: ANN401, N802
        message = BytesParser(policy=default).parsebytes(
            envelope.original_content or envelope.content
        )
        body = message.get_body(preferencelist=("plain",))
        text = str(body.get_content()) if body is not None else ""
        with self._lock:
            self.messages += 1
            if str(message["Subject"]).startswith("Order confirmed"):
                for order_id in set(_UUID.findall(text)):
                    self._confirmations[order_id] += 1
                    self._message_ids.setdefault(order_id, set()).add(str(message["Message-ID"]))
        return "250 Message accepted for delivery"

    def confirmations(self, order_id: str) -> int:
        with self._lock:
            return self._confirmations[order_id]

    def message_ids(self, order_id: str) -> int:
        """Distinct Message-IDs among an order's confirmations (a resent one keeps its own)."""
        with self._lock:
            return len(self._message_ids.get(order_id, ()))

    def start(self) -> Deliveries:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = os.environ.copy()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _launch(
    argv: list[str], env: dict[str, str], log: Path, marker: bytes
) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "app", *argv],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool is stopped with it
        )
    deadline = time.monotonic() + _START_TIMEOUT
    while marker not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process, timeout=0)
            msg = f"{argv[0]} did not start:\n{log.read_text()[-3000:]}"
            raise RuntimeError(msg)
        time.sleep(0.1)
    return process


def _stop(process: subprocess.Popen[bytes], *, timeout: float = _STOP_TIMEOUT) -> int | None:
    """SIGTERM, up to ``timeout`` seconds, then SIGKILL to the whole group; the exit code of
    the SIGTERM (None if it had to be killed)."""
    code = None
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = process.wait(timeout=timeout)
    else:
        code = process.returncode
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return code


@dataclass
class Platform:
    root: Path
    postgres: PrivatePostgres
    database: FaultProxy  # in front of PostgreSQL: API, worker and beat connect through it
    redis: PrivateRedis
    broker: PrivateRedis
    deliveries: Deliveries
    env: dict[str, str]
    balancer: FaultProxy = field(init=False)  # in front of the API: what a Service does
    api: Server = field(init=False)
    worker: subprocess.Popen[bytes] = field(init=False)
    shop: Shop = field(init=False)
    seeded_orders: set[str] = field(default_factory=set)  # before the stock was set
    _api_stack: ExitStack = field(default_factory=ExitStack)
    _generation: int = 0

    @property
    def direct_dsn(self) -> str:
        """PostgreSQL itself, not through the proxy: the checks read the truth here."""
        return f"postgresql://postgres@/postgres?host={self.postgres.socket_dir}"

    def _new_api(self) -> tuple[ExitStack, Server]:
        port = free_port()
        env = {
            **self.env,
            "APP_SERVER_PORT": str(port),
            "APP_SERVER_METRICS_PORT": str(free_port()),
            "PROMETHEUS_MULTIPROC_DIR": str(self.root / f"metrics-{port}"),
        }
        stack = ExitStack()
        command = [sys.executable, "-m", "app", "api"]
        server = stack.enter_context(serve("api", command, env, port, stop_timeout=_STOP_TIMEOUT))
        return stack, server

    def open_api(self) -> None:
        self._api_stack, self.api = self._new_api()

    def close_api(self) -> None:
        self._api_stack.close()

    def start_worker(self) -> subprocess.Popen[bytes]:
        self._generation += 1
        log = self.root / f"worker-{self._generation}.log"
        return _launch(["worker"], self.env, log, b"ready.")

    def revive_worker(self) -> bool:
        """What a supervisor does: start a new worker if the last one died; whether it had."""
        if self.worker.poll() is None:
            return False
        _stop(self.worker)
        self.worker = self.start_worker()
        return True

    def replace_api(self) -> tuple[float, float]:
        """A rolling update of the API: a new instance, ready; the balancer sends new
        connections to it; the old one gets SIGTERM and drains. Returns the moments the old
        one was told to stop and had stopped."""
        stack, server = self._new_api()
        self.balancer.retarget(("127.0.0.1", int(server.base.rsplit(":", 1)[1])))
        old, self._api_stack, self.api = self._api_stack, stack, server
        told = time.monotonic()
        old.close()  # SIGTERM, wait for the drain (bounded), SIGKILL to the group if needed
        return told, time.monotonic()

    def replace_worker(self) -> int | None:
        """A new worker, ready; then SIGTERM to the old one (its running tasks finish, the
        rest go back to the broker). Returns the old worker's exit code."""
        new = self.start_worker()
        old, self.worker = self.worker, new
        return _stop(old)


async def _login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login", json={"login": username, "password": PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _shop(platform: Platform, base: str, customers: int) -> Shop:
    connection = await asyncpg.connect(platform.direct_dsn)
    try:
        await connection.execute("UPDATE products SET stock_on_hand = $1", STOCK)
        rows = await connection.fetch("SELECT id FROM products ORDER BY sku")
        platform.seeded_orders = {
            str(row["id"]) for row in await connection.fetch("SELECT id FROM orders")
        }
    finally:
        await connection.close()
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        headers = [await _login(client, f"shopper{n:04d}") for n in range(1, customers + 1)]
    return Shop(base, headers, [str(row["id"]) for row in rows])


def _environment(platform_root: Path, db_url: str, redis: PrivateRedis, broker: PrivateRedis,
                 deliveries: Deliveries) -> dict[str, str]:  # fmt: skip
    return {
        **os.environ,
        "APP_ENV": "production",
        "APP_DB_URL": db_url,
        "APP_REDIS_URL": redis.url,
        "APP_CELERY_BROKER_URL": broker.url,
        "APP_AUTH_JWT_SECRET": secrets.token_urlsafe(40),
        "APP_AUTH_ARGON2_MEMORY_KIB": "1024",
        "APP_AUTH_ARGON2_TIME_COST": "1",
        "APP_AUTH_ACCESS_TTL_SECONDS": "7200",
        # One address sends everything, and customers order far more than people do: the limits
        # stay on (Redis is asked on every request), just out of reach.
        "APP_RATE_LIMIT_PLACE_ORDER_PER_USER": UNLIMITED,
        "APP_RATE_LIMIT_PLACE_ORDER_PER_ADDRESS": UNLIMITED,
        "APP_RATE_LIMIT_LIST_PRODUCTS_PER_ADDRESS": UNLIMITED,
        "APP_RATE_LIMIT_LOGIN_PER_ADDRESS": UNLIMITED,
        "APP_RATE_LIMIT_SIGN_UP_PER_ADDRESS": UNLIMITED,
        "APP_ORDERING_MAX_PENDING_ORDERS": "1000000",
        "APP_ORDERING_MAX_PENDING_UNITS": "1000000",
        "APP_SMTP_PORT": str(deliveries.port),
        "APP_SERVER_HOST": "127.0.0.1",
        "APP_SERVER_WORKERS": "2",
        "APP_CELERY_METRICS_PORT": "0",
        "APP_CELERY_BEAT_SCHEDULE_FILE": str(platform_root / "celerybeat-schedule"),
        "APP_CELERY_HEARTBEAT_FILE": str(platform_root / "worker-heartbeat"),
        "APP_CELERY_READY_FILE": str(platform_root / "worker-ready"),
        "APP_DEMO_PASSWORD": PASSWORD,
    }


@contextmanager
def running_platform(root: Path, *, customers: int = 8, products: int = 20) -> Iterator[Platform]:
    """Everything started fresh under ``root``, and stopped (killed if need be) at the end."""
    from app.bootstrap.devtools.seed import DemoSeeder  # noqa: PLC0415 - reads the settings it is given
    from app.bootstrap.settings import load_settings  # noqa: PLC0415

    with ExitStack() as stack:
        postgres = PrivatePostgres(root / "pg")
        postgres.start()
        stack.callback(postgres.stop)
        database = stack.enter_context(FaultProxy(postgres.socket_path))
        db_url = f"postgresql+asyncpg://postgres@127.0.0.1:{database.port}/postgres"
        upgrade(db_url)
        redis = PrivateRedis(root / "redis", extra_args=_AOF)
        broker = PrivateRedis(root / "broker", extra_args=_AOF)
        for server in (redis, broker):
            server.start()
            stack.callback(server.stop)
        deliveries = Deliveries().start()
        stack.callback(deliveries.stop)
        env = _environment(root, db_url, redis, broker, deliveries)
        platform = Platform(root, postgres, database, redis, broker, deliveries, env)
        with _environ(env):
            seeder = DemoSeeder(
                load_settings(), PASSWORD, shopper_count=customers, product_count=products
            )
            asyncio.run(seeder.run())
        platform.worker = platform.start_worker()
        stack.callback(lambda: _stop(platform.worker))
        beat = _launch(["beat"], env, root / "beat.log", b"beat: Starting")
        stack.callback(lambda: _stop(beat))
        platform.open_api()
        stack.callback(platform.close_api)
        api_port = int(platform.api.base.rsplit(":", 1)[1])
        platform.balancer = stack.enter_context(FaultProxy(("127.0.0.1", api_port)))
        base = f"http://127.0.0.1:{platform.balancer.port}"
        platform.shop = asyncio.run(_shop(platform, base, customers))
        yield platform
