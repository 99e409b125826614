"""The chart's own PgBouncer configuration, run by a real PgBouncer (Debian's) in front of the
test server, with the app's engine behind it the way the chart wires the api: the rendered
pgbouncer.ini, the auth file written by the rendered init container's command, and the pooled
URL and APP_DB_TRANSACTION_POOLING from the rendered api container.

What the test changes, because there is no cluster: the Service name in the pooled URL and the
database host become 127.0.0.1, and the two container paths (/etc/pgbouncer/...) a directory of
the test's."""

from __future__ import annotations

import asyncio
import base64
import os
import pwd
import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.shared.infrastructure.database import create_engine
from tests.conftest import run_sql
from tests.integration.pgbouncer_support import pgbouncer_binary
from tests.support.ports import free_port

Doc = dict[str, Any]
Render = Callable[..., list[Doc]]
TIMEOUT_MS = 1500


def _named(docs: list[Doc], kind: str, suffix: str) -> Doc:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix))


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, str]]:
    """A fresh database on TEST_DATABASE_URL's server (TCP: PgBouncer connects to it)."""
    url = make_url(
        os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    if not url.host or url.host.startswith("/"):
        pytest.fail("the rendered PgBouncer needs TEST_DATABASE_URL on TCP")
    name = f"chart_pgb_{secrets.token_hex(4)}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    run_sql(admin, f'CREATE DATABASE "{name}"')
    try:
        yield admin, name
    finally:
        run_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def rendered(render: Render, server: tuple[str, str]) -> list[Doc]:
    admin, database = server
    url = make_url(admin)
    return render(
        ["minimal-values.yaml"],
        set_values={
            "externalDatabase.url": "",
            "externalDatabase.host": "127.0.0.1",
            "externalDatabase.port": str(url.port or 5432),
            "externalDatabase.database": database,
            "externalDatabase.username": url.username or "postgres",
            "externalDatabase.password": "a p@ss/word",  # the chart must encode it
            "pgbouncer.enabled": "true",
            "pgbouncer.port": str(free_port()),
            "pgbouncer.poolSize": "2",
            "config.APP_DB_STATEMENT_TIMEOUT_MS": str(TIMEOUT_MS),
        },
    )


@pytest.fixture(scope="module")
def pooled_url(rendered: list[Doc]) -> Iterator[str]:
    work = Path(tempfile.mkdtemp(prefix="fp-chart-pgbouncer-"))
    deployment = _named(rendered, "Deployment", "-pgbouncer")["spec"]["template"]["spec"]
    secret = _named(rendered, "Secret", "fastapi-platform")["data"]
    # 1. The init container's own command writes the auth file (into the test's directory).
    init = deployment["initContainers"][0]
    env = {
        e["name"]: e.get("value")
        or base64.b64decode(secret[e["valueFrom"]["secretKeyRef"]["key"]]).decode()
        for e in init["env"]
    }
    command = [part.replace("/etc/pgbouncer/auth", str(work)) for part in init["command"]]
    subprocess.run(command, env={**env, "PATH": os.environ["PATH"]}, check=True, timeout=10)  # noqa: S603
    # 2. The rendered pgbouncer.ini, with the test's paths.
    ini = _named(rendered, "ConfigMap", "-pgbouncer")["data"]["pgbouncer.ini"]
    ini = ini.replace("/etc/pgbouncer/auth", str(work))
    config = work / "pgbouncer.ini"
    config.write_text(ini)
    binary = pgbouncer_binary()
    argv = [binary, str(config)]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        nobody = pwd.getpwnam("nobody")
        for path in (work, config, work / "userlist.txt"):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        argv = [binary, "-u", "nobody", str(config)]
    port = int(deployment["containers"][0]["ports"][0]["containerPort"])
    log = (work / "stderr.log").open("wb")
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)  # noqa: S603
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"pgbouncer did not start:\n{ini}\n{(work / 'stderr.log').read_text()}"
                    )
                time.sleep(0.05)
        api = _named(rendered, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
        api_env = {e["name"]: e for e in api["env"]}
        assert api_env["APP_DB_TRANSACTION_POOLING"]["value"] == "true"
        key = api_env["APP_DB_URL"]["valueFrom"]["secretKeyRef"]["key"]
        url = make_url(base64.b64decode(secret[key]).decode())
        assert str(url.host).endswith("-pgbouncer")  # the Service: here, the local PgBouncer
        yield url.set(host="127.0.0.1").render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


async def _through(url: str, statements: int) -> list[Any]:
    engine = create_engine(
        url.replace("postgresql://", "postgresql+asyncpg://", 1),
        pool_size=4,
        max_overflow=0,
        pool_timeout=10,
        pool_recycle=1800,
        connect_timeout=5,
        statement_timeout_ms=TIMEOUT_MS,
        application_name="chart-test",
        transaction_pooling=True,
    )

    async def one(i: int) -> Any:
        async with engine.connect() as connection:
            return (await connection.execute(text("SELECT :i + 0"), {"i": i})).scalar_one()

    try:
        results = list(await asyncio.gather(*(one(i) for i in range(statements))))
        async with engine.connect() as connection:
            results.append((await connection.execute(text("SHOW statement_timeout"))).scalar())
    finally:
        await engine.dispose()
    return results


def test_the_app_works_through_the_rendered_pgbouncer(pooled_url: str) -> None:
    # 200 statements from 4 client connections over PgBouncer's 2 server connections: without
    # the app's transaction-pooling mode, named prepared statements collide here.
    results = asyncio.run(_through(pooled_url, 200))
    assert results[:-1] == list(range(200))
    # connect_query applied APP_DB_STATEMENT_TIMEOUT_MS on the server connections.
    assert results[-1] == f"{TIMEOUT_MS}ms"


def test_a_wrong_password_is_refused_by_the_rendered_auth(pooled_url: str) -> None:
    wrong = make_url(pooled_url).set(password="not-the-password")
    with pytest.raises(Exception, match=r"SASL authentication failed"):
        asyncio.run(_through(wrong.render_as_string(hide_password=False), 1))
