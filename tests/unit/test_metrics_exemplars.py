"""Why the HTTP latency histogram carries no exemplars (trace ids on buckets): prometheus_client
drops them in multiprocess mode, which the api (gunicorn workers) and the worker (Celery pool
processes) both run in. Each case runs in a fresh interpreter: prometheus_client picks its value
class from PROMETHEUS_MULTIPROC_DIR when it is imported.

When the multiprocess case starts to show the exemplar, the library carries them across processes:
that is the time to pass the current trace id to ``http_request_duration_seconds.observe()``
(docs/16-deployment.md, "Logs, traces and metrics together").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Final

OBSERVE_WITH_AN_EXEMPLAR: Final = """
import os, sys
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.openmetrics.exposition import generate_latest

registry = CollectorRegistry()
histogram = Histogram("latency_seconds", "Latency.", buckets=(0.1, 1.0), registry=None)
histogram.observe(0.25, exemplar={"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    MultiProcessCollector(registry)
else:
    registry.register(histogram)
sys.stdout.write(generate_latest(registry).decode())
"""
EXEMPLAR: Final = '# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.25'


def exposition(multiprocess_dir: Path | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if multiprocess_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiprocess_dir)
    done = subprocess.run(  # noqa: S603 - this interpreter, our script
        [sys.executable, "-c", OBSERVE_WITH_AN_EXEMPLAR],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_one_process_exposes_the_exemplar_in_openmetrics() -> None:
    text = exposition(None)
    assert f'latency_seconds_bucket{{le="1.0"}} 1.0 {EXEMPLAR}' in text, text


def test_multiprocess_mode_drops_the_exemplar(tmp_path: Path) -> None:
    text = exposition(tmp_path)
    assert 'latency_seconds_bucket{le="1.0"} 1.0' in text, text  # the observation is there
    assert "trace_id" not in text, "prometheus_client now keeps exemplars across processes"
