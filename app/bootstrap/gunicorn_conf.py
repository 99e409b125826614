"""gunicorn configuration (``gunicorn -c python:app.bootstrap.gunicorn_conf``), from APP_SERVER_*.

The app is created in each worker after fork (no preload), so connection pools, thread pools and
OpenTelemetry exporters are never shared across processes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from uvicorn_worker import UvicornWorker

from app.bootstrap.settings import ServerSettings, load_section


class Worker(UvicornWorker):  # type: ignore[misc]
    """uvicorn with uvloop and httptools, lifespan on (the container is closed on shutdown); a
    request httptools cannot parse is answered with a problem (http_protocol.py)."""

    def init_process(self) -> None:
        _metric_values_keyed_by_this_worker()
        super().init_process()

    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012 - uvicorn-worker's own hook
        "loop": "uvloop",
        # By name: imported in the worker, after fork, as the app is.
        "http": "app.bootstrap.http_protocol:ProblemHttpToolsProtocol",
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
        # The app applies X-Forwarded-* itself (APP_HTTP_TRUSTED_PROXIES), under any server.
        "proxy_headers": False,
    }


def _metric_values_keyed_by_this_worker() -> None:
    """prometheus_client's multiprocess values call os.getpid() on every write, to notice a
    fork. A worker never forks again, so its pid is read once, before the app creates any
    metric: five writes a request made the syscall 10% of a liveness probe's CPU (chapter 15).
    """
    from prometheus_client import values  # noqa: PLC0415 - after PROMETHEUS_MULTIPROC_DIR is set

    pid = os.getpid()
    values.ValueClass = values.MultiProcessValue(process_identifier=lambda: pid)  # type: ignore[no-untyped-call]


_server = load_section(ServerSettings)

bind = [f"{_server.host}:{_server.port}"]
workers = _server.workers
worker_class = "app.bootstrap.gunicorn_conf.Worker"
timeout = _server.timeout
graceful_timeout = _server.graceful_timeout
keepalive = _server.keepalive
max_requests = _server.max_requests
max_requests_jitter = _server.max_requests_jitter
preload_app = False
# Kubernetes manages the process; a control socket under $HOME breaks on read-only roots and
# collides between instances on one host.
control_socket_disable = True
accesslog = None  # the app logs each request once, as JSON
errorlog = "-"
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 - heartbeat files off disk  # nosec B108

# Prometheus multiprocess mode: every worker writes its samples here; /metrics merges them. Must be
# in the environment before a worker imports prometheus_client.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", str(Path(tempfile.gettempdir()) / f"prometheus-{os.getpid()}")
)


def on_starting(_server: object) -> None:
    # Stale files from an earlier run would be summed into this run's counters.
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    Path(_metrics_dir).mkdir(parents=True, exist_ok=True)


def when_ready(server: Any) -> None:  # noqa: ANN401 - gunicorn's Arbiter
    """Metrics of every worker from the master, on a port of their own: the API port is public,
    the metrics port is for the cluster's scraper only (security review, finding 9)."""
    if not _server.metrics_port:
        return
    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415
    from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(_server.metrics_port, addr=_server.host, registry=registry)
    server.log.info("Metrics at http://%s:%s/metrics", _server.host, _server.metrics_port)


def child_exit(_server: object, worker: Any) -> None:  # noqa: ANN401 - gunicorn's Worker
    from prometheus_client import multiprocess  # noqa: PLC0415 - only after the env var is set

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
