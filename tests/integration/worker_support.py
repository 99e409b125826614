"""Real background processing for tests: an SMTP sink in this process, a Celery worker process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

from app.bootstrap.settings import Settings
from app.bootstrap.smtp_sink import start_sink


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Mailbox:
    port: int
    path: Path

    def messages(self) -> list[EmailMessage]:
        parser = BytesParser(policy=default)
        return [parser.parsebytes(path.read_bytes()) for path in sorted(self.path.glob("*.eml"))]

    async def wait_for(self, count: int, *, within: float = 30.0) -> list[EmailMessage]:
        # asyncio.sleep, not time.sleep: the app's background relay runs on this event loop.
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            messages = self.messages()
            if len(messages) >= count:
                return messages
            await asyncio.sleep(0.05)
        return self.messages()


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    port = free_port()
    controller = start_sink("127.0.0.1", port, tmp_path / "mailbox")
    yield Mailbox(port=port, path=tmp_path / "mailbox")
    controller.stop()


def worker_environment(settings: Settings, mailbox: Mailbox) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "test",
        "APP_DB_URL": settings.db.url,
        "APP_REDIS_URL": settings.redis.url,
        "APP_CELERY_BROKER_DB": str(settings.celery.broker_db),
        "APP_AUTH_JWT_SECRET": settings.auth.jwt_secret.get_secret_value(),
        "APP_SMTP_PORT": str(mailbox.port),
        "APP_LOG_FORMAT": "console",
        "APP_CELERY_METRICS_PORT": "0",  # tests run several workers; one asks for a port
    }


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait()


def start_worker(env: dict[str, str], log: Path, *, concurrency: int = 1) -> WorkerProcess:
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "app", "worker", f"--concurrency={concurrency}"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return WorkerProcess(process, log)


@pytest.fixture
def worker(settings: Settings, mailbox: Mailbox, tmp_path: Path) -> Iterator[WorkerProcess]:
    running = start_worker(worker_environment(settings, mailbox), tmp_path / "worker.log")
    yield running
    running.stop()


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())
