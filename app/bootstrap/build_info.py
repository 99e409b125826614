"""``fastapi_platform_build_info{version, revision} 1`` on the API's and the worker's /metrics:
which build each process runs, to join with any other metric or to see a rollout progress."""

from __future__ import annotations

from prometheus_client import Gauge

from app.bootstrap.settings import AppSettings

BUILD_INFO = Gauge(
    "fastapi_platform_build_info",
    "The build this process runs: its version and source revision (always 1).",
    ["version", "revision"],
    # Every process of one server runs the same build: any of them says it.
    multiprocess_mode="max",
)


def publish_build_info(app: AppSettings) -> None:
    BUILD_INFO.labels(app.version, app.revision).set(1)
