"""Worker and beat processes as production runs them (``python -m app worker|beat``), configured
only through the environment, each in its own process group (a SIGKILL reaches the prefork
pool too) and always stopped or killed at the end; and what their logs say about the tasks."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.bootstrap.settings import Settings
from tests.support.mail import Mailbox
from tests.support.polling import WITHIN, until_sync


def worker_environment(settings: Settings, mailbox: Mailbox, **extra: str) -> dict[str, str]:
    """The environment of a worker or beat for the test's database, Redis and mailbox."""
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
        **extra,
    }


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> int:
        """A warm shutdown (SIGTERM); the whole group is SIGKILLed if it takes too long, and
        any pool process left behind is reaped. The worker's exit code (-9 when killed)."""
        process = self.process
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
        kill_group(process)
        return process.wait()


def start_worker(env: dict[str, str], log: Path, *, concurrency: int = 1) -> WorkerProcess:
    """One worker, returned once Celery says ``ready.``."""
    process = launch(["worker", f"--concurrency={concurrency}"], env, log)
    wait_for_log([(process, log)], b"ready.")
    return WorkerProcess(process, log)


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
    processes: list[tuple[subprocess.Popen[bytes], Path]], marker: bytes, within: float = WITHIN
) -> None:
    """Every log has ``marker``. A process that exits first, or the deadline, kills them all
    and fails the test with the log that lacks it."""

    def missing() -> list[Path]:
        return [log for _, log in processes if marker not in log.read_bytes()]

    def seen() -> bool:
        waiting = [process for process, log in processes if marker not in log.read_bytes()]
        if any(process.poll() is not None for process in waiting):
            raise AssertionError("a process exited")
        return not waiting

    try:
        until_sync(seen, every=0.1, within=within)
    except AssertionError:
        for other, _ in processes:
            kill_group(other)
        log = missing()[0]
        pytest.fail(f"{log.name}: no {marker!r}:\n{log.read_text()[-3000:]}")


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
            running.stop()


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


# "Task <name>[<id>] succeeded in <t>s: <value>", in the console log format followed by
# " [celery.app.trace]" and the task's context (request_id=... when an HTTP request sent it).
TASK_RESULT = re.compile(
    rb"Task (?P<name>[\w.]+)\[(?P<id>[0-9a-f-]+)\] succeeded in [\d.e-]+s: "
    rb"(?P<value>.*?)(?: +\[celery\.app\.trace\].*)?$",
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
