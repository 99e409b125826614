"""The worker's merged metrics leave out what pool processes that have gone left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client.multiprocess import MultiProcessCollector

from app.bootstrap.worker.metrics import LiveProcessesCollector

_WRITE = """
import os, sys
os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
from prometheus_client import Counter, Gauge
Gauge("in_use", "In use.", multiprocess_mode="livesum").set(3)
Counter("done", "Done.").inc(2)
"""


def _samples(collector: MultiProcessCollector) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in collector.collect()  # type: ignore[no-untyped-call]
        for sample in family.samples
    }


def test_a_gone_pool_process_leaves_its_counters_but_not_its_live_gauges(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", _WRITE, str(tmp_path)], check=True)  # noqa: S603

    assert _samples(MultiProcessCollector(None, str(tmp_path))) == {  # type: ignore[no-untyped-call]
        "in_use": 3.0,
        "done_total": 2.0,
    }
    assert _samples(LiveProcessesCollector(None, str(tmp_path))) == {"done_total": 2.0}  # type: ignore[no-untyped-call]
    assert not list(tmp_path.glob("gauge_live*"))
