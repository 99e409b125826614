"""HTTP benchmark: the platform's API against a bare FastAPI app doing the same work
(loadtests/benchmarks/bare_app.py), on one database and one Redis, both under gunicorn with the
platform's worker class (uvloop, httptools) and the same number of workers, driven by wrk in
alternating runs. Figures are printed, never asserted; compare the ratios of one run.

The platform runs with its defaults, as a user gets them (max_requests recycling and the JSON
access log included); only the secret, the URLs and the worker count are set.

    python -m loadtests.benchmarks.http_vs_bare [--seconds 10] [--reps 3] [--connections 32]

Servers: TEST_DATABASE_URL / TEST_REDIS_URL, else embedded ones (as make bench does). wrk is
Debian's package (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from loadtests.benchmarks.databases import bench_database
from loadtests.faults.servers import free_port

WORKERS = 2
PASSWORD = "bench-password-0123"  # noqa: S105 - a throwaway database's admin
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WRK = shutil.which("wrk") or "wrk"


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base: str
    log: Path | None = None

    def cpu_seconds(self) -> float:
        """User and system CPU of the master and its workers (one process group), including
        workers that have exited (recycled): the master's reaped children's time counts them."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == self.process.pid:  # the process group
                total += int(fields[11]) + int(fields[12])  # utime, stime
                if int(stat.parent.name) == self.process.pid:
                    total += int(fields[13]) + int(fields[14])  # cutime, cstime
        return total / _CLOCK_TICKS

    def worker_rss_mb(self) -> list[float]:
        sizes = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            if re.search(rf"^PPid:\s+{self.process.pid}$", text, re.MULTILINE):
                match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
                if match:
                    sizes.append(int(match.group(1)) / 1024)
        return sizes


@contextmanager
def serve(
    name: str, command: list[str], env: dict[str, str], port: int, *, stop_timeout: float = 30
) -> Iterator[Server]:
    """Start a server in its own process group, ready once /health/live answers 200; on exit,
    SIGTERM and up to ``stop_timeout`` seconds to drain, then SIGKILL to the group."""
    log = Path(tempfile.mkdtemp(prefix=f"bench-{name}-")) / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own commands
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    try:
        yield Server(name, process, base, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class Run:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_ms_per_request: float


@dataclass
class Endpoint:
    label: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    script: Path | None = None  # a wrk Lua script (a POST body)


def _wrk_command(
    server: Server, endpoint: Endpoint, *, seconds: int, connections: int
) -> list[str]:
    headers = [part for item in endpoint.headers.items() for part in ("-H", "{}: {}".format(*item))]
    script = ["-s", str(endpoint.script)] if endpoint.script else []
    return [
        WRK, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *headers, *script,
        server.base + endpoint.path,
    ]  # fmt: skip


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:  # wrk prints odd values when nothing was answered
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[unit]


def wrk(server: Server, endpoint: Endpoint, *, seconds: int, connections: int) -> Run:
    before = server.cpu_seconds()
    output = subprocess.run(  # noqa: S603 - wrk with our arguments
        _wrk_command(server, endpoint, seconds=seconds, connections=connections),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = server.cpu_seconds() - before
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    errors += int(bad.group(1)) if bad else 0
    return Run(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=_percentile(output, 50),
        p99_ms=_percentile(output, 99),
        errors=errors,
        requests=requests,
        cpu_ms_per_request=cpu * 1000 / max(requests, 1),
    )


def _percentile(output: str, percent: int) -> float:
    match = re.search(rf"^\s+{percent}%\s+(\S+)", output, re.MULTILINE)
    return _ms(match.group(1)) if match else float("nan")


LOGIN_CONNECTIONS = 8  # more than the hash pools' threads (2 per worker): they are the limit


@dataclass
class LogIns:
    runs: tuple[list[Run], list[Run]]  # platform, bare
    idle: tuple[Run, Run]  # a read, alone
    storm: tuple[Run, Run]  # the same read while log-ins saturate the hash pool


def _log_ins(
    ours: Server, theirs: Server, pair: tuple[Endpoint, Endpoint], *, seconds: int, reps: int
) -> LogIns:
    """Log-in at equal hash cost (the parameters are in the stored hash), and the p99 of a read
    while log-ins keep every hashing thread busy."""
    script = Path(tempfile.mkdtemp(prefix="bench-wrk-")) / "login.lua"
    body = json.dumps({"login": "admin", "password": PASSWORD})
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    login = Endpoint("log-in", "/api/v1/auth/login", script=script)
    runs: tuple[list[Run], list[Run]] = ([], [])
    for rep in range(reps):
        order = [(ours, 0), (theirs, 1)]
        for server, slot in order if rep % 2 == 0 else reversed(order):
            runs[slot].append(wrk(server, login, seconds=seconds, connections=LOGIN_CONNECTIONS))
    idle, storm = [], []
    for server, read in ((ours, pair[0]), (theirs, pair[1])):
        idle.append(wrk(server, read, seconds=seconds, connections=32))
        command = _wrk_command(server, login, seconds=seconds + 2, connections=LOGIN_CONNECTIONS)
        with subprocess.Popen(command, stdout=subprocess.DEVNULL) as storming:  # noqa: S603
            time.sleep(1)  # the storm is on before the read starts
            storm.append(wrk(server, read, seconds=seconds, connections=32))
            storming.wait()
    return LogIns(runs, (idle[0], idle[1]), (storm[0], storm[1]))


def _print_log_ins(logins: LogIns) -> None:
    platform_run, bare_run = _median(logins.runs[0]), _median(logins.runs[1])
    ratio = platform_run.requests_per_second / bare_run.requests_per_second
    print(f"log-in ({LOGIN_CONNECTIONS} connections, same Argon2 cost): ratio {ratio:.2f}x")  # noqa: T201
    print(_row("bare", bare_run))  # noqa: T201
    print(_row("platform", platform_run))  # noqa: T201
    for label, idle, storm in zip(("platform", "bare"), logins.idle, logins.storm, strict=True):
        print(  # noqa: T201
            f"  {label}: product by id p99 {idle.p99_ms:.1f} ms alone, {storm.p99_ms:.1f} ms "
            f"during a log-in storm ({storm.p99_ms / idle.p99_ms:.1f}x)"
        )


def _median(runs: list[Run]) -> Run:
    """The run with the median rate: one coherent set of figures, not a mix of runs."""
    return sorted(runs, key=lambda run: run.requests_per_second)[len(runs) // 2]


def _row(label: str, run: Run) -> str:
    return (
        f"  {label:<9} {run.requests_per_second:>9,.0f} req/s  p50 {run.p50_ms:>7.2f} ms  "
        f"p99 {run.p99_ms:>8.2f} ms  errors {run.errors:>4}  "
        f"cpu {run.cpu_ms_per_request:.2f} ms/req"
    )


async def _prepare() -> None:
    """Demo data: 300 products, an admin."""
    from app.bootstrap.devtools.seed import DemoSeeder  # noqa: PLC0415 - needs the settings set first
    from app.bootstrap.settings import load_settings  # noqa: PLC0415

    await DemoSeeder(load_settings(), PASSWORD).run()


async def _product_id(db_url: str) -> str:
    connection = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return str(await connection.fetchval("SELECT id FROM products ORDER BY sku LIMIT 1"))
    finally:
        await connection.close()


def _environment(db_url: str, redis_url: str) -> dict[str, str]:
    secret = secrets.token_urlsafe(40)
    env = {
        **os.environ,
        "APP_ENV": "production",
        "APP_DB_URL": db_url,
        "APP_REDIS_URL": redis_url,
        "APP_AUTH_JWT_SECRET": secret,
        "APP_DEMO_PASSWORD": PASSWORD,
        # wrk logs in from one address as one account: the guessing limits would answer 429.
        # No other endpoint measured here is rate limited.
        "APP_RATE_LIMIT_ENABLED": "false",
        "BARE_DB_URL": db_url,
        "BARE_REDIS_URL": redis_url,
        "BARE_JWT_SECRET": secret,
    }
    # The seeder in this process reads the same settings.
    os.environ.update(
        {key: env[key] for key in ("APP_DB_URL", "APP_REDIS_URL", "APP_AUTH_JWT_SECRET")}
    )
    return env


def benchmark(env: dict[str, str], *, seconds: int, reps: int, connections: int) -> None:
    product_id = asyncio.run(_product_id(env["APP_DB_URL"]))
    platform_port, bare_port = free_port(), free_port()
    platform_env = {
        **env,
        "APP_SERVER_HOST": "127.0.0.1",
        "APP_SERVER_PORT": str(platform_port),
        "APP_SERVER_WORKERS": str(WORKERS),
        "APP_SERVER_METRICS_PORT": str(free_port()),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-metrics-"),
    }
    bare_env = env
    bare = [
        sys.executable, "-m", "gunicorn", "loadtests.benchmarks.bare_app:app",
        "--workers", str(WORKERS), "--worker-class", "app.bootstrap.gunicorn_conf.Worker",
        "--bind", f"127.0.0.1:{bare_port}", "--keep-alive", "5", "--log-level", "warning",
    ]  # fmt: skip
    platform = [sys.executable, "-m", "app", "api"]
    # The same platform with its near cache off, so that every cached read asks Redis: what the
    # near cache (on by default) saves, measured on the product read only.
    redis_env = {
        **platform_env,
        "APP_SERVER_PORT": str(redis_port := free_port()),
        "APP_SERVER_METRICS_PORT": str(free_port()),
        "APP_CACHE_LOCAL_SECONDS": "0",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-metrics-"),
    }
    with (
        serve("platform", platform, platform_env, platform_port) as ours,
        serve("bare", bare, bare_env, bare_port) as theirs,
        serve("redis-only", platform, redis_env, redis_port) as redis_only,
    ):
        login = httpx.post(
            f"{ours.base}/api/v1/auth/login", json={"login": "admin", "password": PASSWORD}
        )
        login.raise_for_status()
        admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
        product = f"/api/v1/products/{product_id}"
        redis_label = "product by id, APP_CACHE_LOCAL_SECONDS=0 (from Redis)"
        # (the platform that serves it, its request, the bare app's request)
        endpoints = [
            (ours, Endpoint("no-DB path", "/health/live"), Endpoint("no-DB path", "/health/live")),
            (
                ours,
                Endpoint("authenticated list of 20 users", "/api/v1/users?limit=20", admin),
                Endpoint("authenticated list of 20 users", "/api/v1/users", admin),
            ),
            (ours, Endpoint("product by id", product), Endpoint("product by id", product)),
            (redis_only, Endpoint(redis_label, product), Endpoint(redis_label, product)),
        ]
        # Warm both (imports, pools, the cache) before anything is measured.
        for server, mine, bare_one in endpoints:
            wrk(server, mine, seconds=2, connections=connections)
            wrk(theirs, bare_one, seconds=2, connections=connections)
        rss_warm = ours.worker_rss_mb()
        results: dict[str, tuple[list[Run], list[Run]]] = {e[1].label: ([], []) for e in endpoints}
        served = 0
        for rep in range(reps):
            for server, mine, bare_one in endpoints:
                order = [(server, mine, 0), (theirs, bare_one, 1)]
                for runner, endpoint, slot in order if rep % 2 == 0 else reversed(order):
                    run = wrk(runner, endpoint, seconds=seconds, connections=connections)
                    results[endpoint.label][slot].append(run)
                    served += run.requests if runner is ours else 0
        rss_end = ours.worker_rss_mb()
        logins = _log_ins(ours, theirs, endpoints[2][1:], seconds=seconds, reps=reps)
    print(  # noqa: T201
        f"\nHTTP: platform vs a bare FastAPI app, {WORKERS} gunicorn workers each, wrk "
        f"{connections} connections, {seconds} s runs, {reps} alternating repetitions "
        f"(the median run shown)"
    )
    for label, (platform_runs, bare_runs) in results.items():
        platform_run, bare_run = _median(platform_runs), _median(bare_runs)
        ratio = platform_run.requests_per_second / bare_run.requests_per_second
        print(f"{label}: ratio {ratio:.2f}x")  # noqa: T201
        print(_row("bare", bare_run))  # noqa: T201
        print(_row("platform", platform_run))  # noqa: T201
    _print_log_ins(logins)
    print(  # noqa: T201
        f"memory: platform workers' RSS {', '.join(f'{v:.0f}' for v in rss_warm)} MB after "
        f"warm-up, {', '.join(f'{v:.0f}' for v in rss_end)} MB after {served:,} more requests "
        "(if APP_SERVER_MAX_REQUESTS is set, a worker may be younger than the run)"
    )


def soak(env: dict[str, str], *, total: int, connections: int) -> None:
    """Worker memory over ``total`` requests with recycling off: does it grow at all?"""
    port = free_port()
    platform_env = {
        **env,
        "APP_SERVER_HOST": "127.0.0.1",
        "APP_SERVER_PORT": str(port),
        "APP_SERVER_WORKERS": str(WORKERS),
        "APP_SERVER_MAX_REQUESTS": "0",
        "APP_SERVER_METRICS_PORT": str(free_port()),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-metrics-"),
    }
    with serve("soak", [sys.executable, "-m", "app", "api"], platform_env, port) as ours:
        login = httpx.post(
            f"{ours.base}/api/v1/auth/login", json={"login": "admin", "password": PASSWORD}
        )
        login.raise_for_status()
        admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
        mix = [
            Endpoint("list", "/api/v1/users?limit=20", admin),
            Endpoint("products", "/api/v1/products?sort=price&in_stock=true"),
            Endpoint("search", "/api/v1/products?q=mug"),
        ]
        for endpoint in mix:  # warm-up: every code path imported and every pool full
            wrk(ours, endpoint, seconds=3, connections=connections)
        warm = ours.worker_rss_mb()
        served = 0
        while served < total:
            for endpoint in mix:
                served += wrk(ours, endpoint, seconds=5, connections=connections).requests
        end = ours.worker_rss_mb()
    growth = [after - before for before, after in zip(warm, end, strict=False)]
    print(  # noqa: T201
        f"memory (max_requests=0): worker RSS {', '.join(f'{v:.1f}' for v in warm)} MB after "
        f"warm-up, {', '.join(f'{v:.1f}' for v in end)} MB after {served:,} requests "
        f"(growth {', '.join(f'{v:+.1f}' for v in growth)} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--soak", type=int, default=50_000, help="requests; 0 skips the soak")
    parser.add_argument("--only-soak", action="store_true")
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    with bench_database() as (db_url, redis_url):
        env = _environment(db_url, redis_url)
        asyncio.run(_prepare())
        if not arguments.only_soak:
            benchmark(
                env,
                seconds=arguments.seconds,
                reps=arguments.reps,
                connections=arguments.connections,
            )
        if arguments.soak:
            soak(env, total=arguments.soak, connections=arguments.connections)


if __name__ == "__main__":
    main()
