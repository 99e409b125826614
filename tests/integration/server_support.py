"""The real API server for tests that need real HTTP: gunicorn with uvicorn workers, started as
`python -m app api` in a process group of its own, ready when /health/ready says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from app.bootstrap.settings import Settings
from tests.support.ports import free_port


class Served(NamedTuple):
    base: str  # the API port
    metrics: str  # the master's metrics port
    process: subprocess.Popen[bytes]


@contextmanager
def serve_api(settings: Settings, tmp_path: Path, **env: str) -> Iterator[Served]:
    with serve_code(settings, tmp_path, env) as served:
        yield served


@contextmanager
def serve_code(
    settings: Settings,
    tmp_path: Path,
    env: dict[str, str],
    *,
    python: str = sys.executable,
    cwd: Path | None = None,
    log: Path | None = None,
) -> Iterator[Served]:
    """serve_api for other code: ``python`` and ``cwd`` (and PYTHONPATH in ``env``) choose it,
    as the previous release's (release_support.py); ``log`` keeps the server's output, shown
    when it does not become ready."""
    port, metrics_port = free_port(), free_port()
    environment = {
        **os.environ,
        "APP_ENV": "test",
        "APP_DB_URL": settings.db.url,
        "APP_REDIS_URL": settings.redis.url,
        "APP_AUTH_JWT_SECRET": settings.auth.jwt_secret.get_secret_value(),
        "APP_AUTH_ARGON2_MEMORY_KIB": "1024",
        "APP_AUTH_ARGON2_TIME_COST": "1",
        "APP_SERVER_HOST": "127.0.0.1",
        "APP_SERVER_PORT": str(port),
        "APP_SERVER_WORKERS": "2",
        "APP_SERVER_GRACEFUL_TIMEOUT": "10",
        "APP_SERVER_METRICS_PORT": str(metrics_port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        **env,
    }
    with (log or Path(os.devnull)).open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter the test chose
            [python, "-m", "app", "api"],
            env=environment,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown stops workers too
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            told = log.read_text(errors="replace")[-3000:] if log is not None else ""
            pytest.fail(f"gunicorn did not become ready\n{told}")
        time.sleep(0.2)
    try:
        yield Served(base, f"http://127.0.0.1:{metrics_port}", process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
