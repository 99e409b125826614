"""A private PgBouncer in transaction mode in front of the test server, configured the way the
chart configures it (docs/07-database.md#behind-pgbouncer-transaction-pooling).

The binary is Debian's ``pgbouncer`` package. When it is missing it is installed with apt-get
(as root); when that is impossible the tests skip, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy.engine import make_url

from app.shared.infrastructure.database import session_settings
from tests.support.ports import free_port

DEBIAN_BINARY = "/usr/sbin/pgbouncer"
# The chart's settings that matter to the app; the test's own (address, auth, files) are apart.
POOL_MODE = "transaction"
DEFAULT_POOL_SIZE = 2  # small: every server connection is shared by many clients


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    if _in_ci():
        pytest.fail(f"{reason} (CI is set: the PgBouncer tests must run)")
    pytest.skip(reason)


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        msg = f"install {', '.join(packages)} first (apt-get as root is not here)"
        raise RuntimeError(msg)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=900)  # noqa: S603


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or (DEBIAN_BINARY if Path(DEBIAN_BINARY).exists() else None)
    if found is None:
        try:
            _apt_install("pgbouncer")
        except (RuntimeError, subprocess.SubprocessError, OSError) as error:
            detail = getattr(error, "stderr", b"") or b""
            _unavailable(f"pgbouncer is not installed and could not be: {error} {detail[-500:]!r}")
        found = shutil.which("pgbouncer") or DEBIAN_BINARY
    return found


def pgbouncer_version(binary: str) -> str:
    result = subprocess.run(  # noqa: S603 - the binary found above
        [binary, "--version"], capture_output=True, text=True, check=False, timeout=10
    )
    return (result.stdout or result.stderr).splitlines()[0].strip()


def connect_query(statement_timeout_ms: int) -> str:
    """What the chart renders into PgBouncer's connect_query: the app's session settings."""
    settings = session_settings(statement_timeout_ms)
    return "; ".join(f"SET {name} = {value}" for name, value in settings.items())


@dataclass
class PgBouncer:
    process: subprocess.Popen[bytes]
    port: int
    database: str
    directory: Path

    @property
    def url(self) -> str:
        """What APP_DB_URL is behind PgBouncer (the user is PgBouncer's to choose: auth any)."""
        return f"postgresql+asyncpg://app@127.0.0.1:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        return self.url.replace("postgresql+asyncpg://", "postgresql://", 1)

    def log(self) -> str:
        paths = (self.directory / "stderr.log", self.directory / "pgbouncer.log")
        return "".join(path.read_text(errors="replace") for path in paths if path.exists())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # safe shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def render_ini(
    *,
    server_url: str,
    database: str,
    listen_port: int,
    statement_timeout_ms: int,
    directory: Path,
    extra: tuple[str, ...] = (),
) -> str:
    server = make_url(server_url)
    if not server.host or server.host.startswith("/"):
        _unavailable("the PgBouncer tests need a PostgreSQL server on TCP (TEST_DATABASE_URL)")
    target = f"host={server.host} port={server.port or 5432} dbname={database}"
    target += f" user={server.username or 'postgres'}"
    if server.password:
        target += f" password='{server.password}'"
    return "\n".join(
        [
            "[databases]",
            f"{database} = {target} connect_query='{connect_query(statement_timeout_ms)}'",
            "",
            "[pgbouncer]",
            f"pool_mode = {POOL_MODE}",
            f"default_pool_size = {DEFAULT_POOL_SIZE}",
            "max_client_conn = 500",
            "listen_addr = 127.0.0.1",
            f"listen_port = {listen_port}",
            "unix_socket_dir =",
            "auth_type = any",
            f"logfile = {directory}/pgbouncer.log",
            f"pidfile = {directory}/pgbouncer.pid",
            *extra,
            "",
        ]
    )


def start_pgbouncer(
    *, server_url: str, database: str, statement_timeout_ms: int, extra: tuple[str, ...] = ()
) -> PgBouncer:
    """Started in the foreground (this process owns it), in a directory of its own under /tmp
    (as root it runs as ``nobody``, which must reach its files); ``stop()`` removes both."""
    binary = pgbouncer_binary()
    port = free_port()
    directory = Path(tempfile.mkdtemp(prefix="fp-pgbouncer-"))
    config = directory / "pgbouncer.ini"
    config.write_text(
        render_ini(
            server_url=server_url,
            database=database,
            listen_port=port,
            statement_timeout_ms=statement_timeout_ms,
            directory=directory,
            extra=extra,
        )
    )
    command = [binary, str(config)]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        nobody = pwd.getpwnam("nobody")
        os.chown(directory, nobody.pw_uid, nobody.pw_gid)
        config.chmod(0o644)
        command = [binary, "-u", "nobody", str(config)]
    with (directory / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - the binary found above
            command, stdout=subprocess.DEVNULL, stderr=stderr
        )
    running = PgBouncer(process=process, port=port, database=database, directory=directory)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                running.stop()
                pytest.fail(f"pgbouncer did not start:\n{config.read_text()}\n{running.log()}")
            time.sleep(0.05)
        else:
            return running
