"""The locustfile cannot rot: a short headless Locust run of every journey against the real
server (gunicorn), with the seeded accounts, ends with every request answered as the journey
expects (the gate's failure ratio is 0 here) and every journey's requests in the report."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path

from app.bootstrap.devtools.seed import DemoSeeder
from app.bootstrap.settings import Settings
from tests.integration.helpers import PASSWORD
from tests.integration.server_support import serve_api

ROOT = Path(__file__).resolve().parents[2]
SHOPPERS = 4
# Latency is the benchmark's business, on a quiet machine; here only correctness gates.
LENIENT = """
[default]
p95_ms = 60000
p99_ms = 60000
fail_ratio = 0.0
"""
EVERY_JOURNEY = {
    "GET /api/v1/products",  # anonymous browsing
    "GET /api/v1/products/{id}",
    "POST /api/v1/auth/login",  # customers, staff and admins log in once
    "POST /api/v1/orders",  # customers order
    "POST /api/v1/products/{id}/stock/restock",  # staff
    "POST /api/v1/order-exports",  # admins
    "POST /api/v1/users",  # sign-ups
}


def test_a_short_locust_run_of_every_journey_passes_its_gate(
    settings: Settings, tmp_path: Path
) -> None:
    asyncio.run(DemoSeeder(settings, PASSWORD, shopper_count=SHOPPERS, product_count=30).run())
    slo = tmp_path / "slo.toml"
    slo.write_text(LENIENT)
    with serve_api(settings, tmp_path) as served:
        run = subprocess.run(  # noqa: S603 - a fixed argv
            [
                sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
                "--headless", "--host", served.base, "--users", "10", "--spawn-rate", "10",
                "--run-time", "12s", "--stop-timeout", "5", "--only-summary",
                "--csv", str(tmp_path / "run"),
            ],
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "LOAD_ACCOUNTS": str(SHOPPERS),
                "LOAD_PASSWORD": PASSWORD,
                "LOAD_SLO_FILE": str(slo),
            },
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "every request group within its limits" in output
    with (tmp_path / "run_stats.csv").open() as stats:
        counted = {row["Name"]: int(row["Request Count"]) for row in csv.DictReader(stats)}
    missing = {name for name in EVERY_JOURNEY if counted.get(name, 0) == 0}
    assert not missing, (missing, counted)
