"""Harness for the reliability tests: an SMTP sink that holds a delivery mid-transaction,
several worker and beat processes at once (each in its own process group, always killed),
direct SQL reads. A private Redis that can be stopped and started on the same port is
``loadtests.faults.servers.PrivateRedis`` (the fault runs use it too)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from app.bootstrap.settings import Settings
from app.bootstrap.smtp_sink import MailboxHandler
from tests.integration.helpers import bearer, log_in, sign_up
from tests.integration.support import Staffing, asyncpg_dsn, staffing
from tests.integration.worker_support import Mailbox, WorkerProcess, free_port

# --- SMTP: a sink that can hold the first delivery ------------------------------------------


class GatedHandler(MailboxHandler):
    """Saves mail like the real sink, but holds the first SMTP transaction at a chosen step.

    ``hold="data"``: the first DATA waits *before* saving: the worker is stuck inside the send,
    the mail server has not accepted anything. ``hold="quit"``: the first DATA saves and answers
    250 (accepted), then the QUIT waits: the worker has its 250 but has not yet returned from the
    send, so its inbox row is not committed. ``hold=None``: a plain sink.

    A held step ends when the connection is lost (aiosmtpd cancels the handler: nothing more is
    saved), when ``release`` is set, or after ``max_hold`` seconds (a bound, never reached).
    """

    def __init__(self, mailbox: Path, hold: str | None, max_hold: float = 30.0) -> None:
        super().__init__(mailbox)
        self.hold = hold
        self.max_hold = max_hold
        self.in_flight = threading.Event()  # the held step was reached
        self.interrupted = threading.Event()  # the client went away while held
        self.release = threading.Event()
        self.data_commands = 0
        self._held = False

    async def _wait(self) -> None:
        self.in_flight.set()
        deadline = time.monotonic() + self.max_hold
        try:
            while True:
                if self.release.is_set() or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
        except asyncio.CancelledError:
            self.interrupted.set()
            raise

    def _claim(self, step: str) -> bool:
        if self.hold == step and not self._held:
            self._held = True
            return True
        return False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.data_commands += 1
        if self._claim("data"):
            await self._wait()  # cancelled when the worker dies: the message is never saved
        reply = await super().handle_DATA(server, session, envelope)
        if self.hold == "quit" and not self._held:
            session.hold_quit = True
        return reply

    async def handle_QUIT(self, _server: Any, session: Any, _envelope: Any) -> str:  # noqa: N802
        if getattr(session, "hold_quit", False) and self._claim("quit"):
            await self._wait()
        return "221 Bye"


@dataclass
class GatedSink:
    mailbox: Mailbox
    handler: GatedHandler
    controller: Controller

    @classmethod
    def start(cls, path: Path, *, hold: str | None) -> GatedSink:
        port = free_port()
        handler = GatedHandler(path, hold)
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        return cls(Mailbox(port=port, path=path), handler, controller)

    def stop(self) -> None:
        self.handler.release.set()
        self.controller.stop()


async def eventually(check: Callable[[], bool], *, within: float, step: float = 0.05) -> bool:
    """Poll ``check`` until it holds or ``within`` seconds pass. asyncio.sleep, not time.sleep:
    the app's background relay runs on the test's event loop."""
    deadline = time.monotonic() + within
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)


async def wait_until(event: threading.Event, within: float) -> bool:
    return await eventually(event.is_set, within=within, step=0.02)


# --- Worker and beat processes ------------------------------------------------------------


def launch(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "app", *argv],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches the pool too
        )


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and every child (the prefork pool): no clean shutdown at all."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def wait_for_log(
    processes: list[tuple[subprocess.Popen[bytes], Path]], marker: bytes, within: float = 60.0
) -> None:
    deadline = time.monotonic() + within
    for process, log in processes:
        while marker not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                for other, _ in processes:
                    kill_group(other)
                pytest.fail(f"{log.name}: no {marker!r}:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)


@contextlib.contextmanager
def running_workers(
    envs: list[dict[str, str]], logs: list[Path], *, concurrency: int = 1
) -> Iterator[list[WorkerProcess]]:
    """Several workers started side by side (ready in parallel); stopped, or killed, at the end."""
    processes = [
        launch(["worker", f"--concurrency={concurrency}"], env, log)
        for env, log in zip(envs, logs, strict=True)
    ]
    workers = [WorkerProcess(process, log) for process, log in zip(processes, logs, strict=True)]
    try:
        wait_for_log(list(zip(processes, logs, strict=True)), b"ready.")
        yield workers
    finally:
        for running in workers:
            stop_worker(running)


def stop_worker(running: WorkerProcess) -> None:
    """A warm shutdown (SIGTERM); the whole group is SIGKILLed if it takes too long."""
    process = running.process
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    kill_group(process)  # also reaps pool children left behind


@contextlib.contextmanager
def running_beats(envs: list[dict[str, str]], logs: list[Path]) -> Iterator[list[Any]]:
    processes = [launch(["beat"], env, log) for env, log in zip(envs, logs, strict=True)]
    try:
        wait_for_log(list(zip(processes, logs, strict=True)), b"beat: Starting")
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)
            kill_group(process)


def pool_children(pid: int) -> list[int]:
    """The prefork pool's processes (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def reliability_environment(settings: Settings, mailbox: Mailbox, **extra: str) -> dict[str, str]:
    from tests.integration.worker_support import worker_environment  # noqa: PLC0415

    return {**worker_environment(settings, mailbox), **extra}


# "Task <name>[<id>] succeeded in <t>s: <value>", with " [celery.app.trace]" after it in the
# console log format.
TASK_RESULT = re.compile(
    rb"Task (?P<name>[\w.]+)\[(?P<id>[0-9a-f-]+)\] succeeded in [\d.e-]+s: "
    rb"(?P<value>.*?)(?: +\[celery\.app\.trace\])?$",
    re.MULTILINE,
)


def task_results(log: Path, name: str) -> list[str]:
    """Return values of the runs of one task, as the worker logged them."""
    return [
        match.group("value").decode().strip()
        for match in TASK_RESULT.finditer(log.read_bytes())
        if match.group("name").decode() == name
    ]


def received(log: Path, name: str) -> int:
    """How many deliveries of one task the worker received."""
    pattern = rb"Task " + re.escape(name.encode()) + rb"\[[0-9a-f-]+\] received"
    return len(re.findall(pattern, log.read_bytes()))


# --- Data ---------------------------------------------------------------------------------


async def sql_value(database_url: str, sql: str, *args: Any) -> Any:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await connection.fetchval(sql, *args)
    finally:
        await connection.close()


async def sql_execute(database_url: str, sql: str, *args: Any) -> str:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return str(await connection.execute(sql, *args))
    finally:
        await connection.close()


@dataclass(frozen=True)
class Shopfront:
    team: Staffing
    product_id: str
    buyer: dict[str, str]


async def shopfront(
    client: httpx.AsyncClient, database_url: str, *, stock: int = 5, buyer: str = "buyer"
) -> Shopfront:
    team = await staffing(client, database_url)
    product = await client.post(
        "/api/v1/products",
        json={"sku": "MUG-1", "name": "Mug", "price_amount": "12.50", "currency": "EUR",
              "stock_on_hand": stock},
        headers=team.staff.headers,
    )  # fmt: skip
    assert product.status_code == 201, product.text
    await sign_up(client, buyer)
    return Shopfront(team, str(product.json()["id"]), bearer(await log_in(client, buyer)))


async def place_order(client: httpx.AsyncClient, shop: Shopfront, quantity: int = 1) -> str:
    order = await client.post(
        "/api/v1/orders",
        json={"lines": [{"product_id": shop.product_id, "quantity": quantity}]},
        headers=shop.buyer,
    )
    assert order.status_code == 201, order.text
    return str(order.json()["id"])


async def stock_of(client: httpx.AsyncClient, shop: Shopfront) -> int:
    product = await client.get(f"/api/v1/products/{shop.product_id}")
    assert product.status_code == 200, product.text
    return int(product.json()["stock_on_hand"])


async def wait_for_sql(
    database_url: str,
    sql: str,
    expected: Any,
    *args: Any,
    within: float = 20.0,
) -> Any:
    """Poll a query until it returns ``expected`` (bounded); returns the last value."""
    deadline = time.monotonic() + within
    while True:
        value = await sql_value(database_url, sql, *args)
        if value == expected or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(0.1)
