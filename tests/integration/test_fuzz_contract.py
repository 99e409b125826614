"""The API contract cannot regress: a seeded, bounded schemathesis run (tests/contract/fuzz.py,
every check) against the real server (gunicorn) on this run's database with seed-demo's data
finds no failure, once as a customer and once as an admin.

The customer goes first: the admin's run deactivates accounts it finds, the customer's among
them. `make fuzz` is the longer run (FUZZ_EXAMPLES), against a platform of your choosing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.bootstrap.devtools.seed import DemoSeeder
from app.bootstrap.settings import Settings
from tests.integration.helpers import PASSWORD
from tests.integration.server_support import serve_api

ROOT = Path(__file__).resolve().parents[2]
SEED = 1
EXAMPLES = 30  # per operation: about 70 s for both roles on a quiet 2-core machine
RUN_TIMEOUT_SECONDS = 240


@pytest.mark.timeout(2 * RUN_TIMEOUT_SECONDS + 60)
def test_schemathesis_finds_no_failure_as_a_customer_then_as_an_admin(
    settings: Settings, tmp_path: Path
) -> None:
    asyncio.run(DemoSeeder(settings, PASSWORD, shopper_count=2, product_count=30).run())
    # The customer's run spends the log-ins per address (30 a minute) that the admin's run then
    # needs to start: the limit is rate_limits tests' business, not this one's.
    with serve_api(
        settings,
        tmp_path,
        APP_HTTP_DOCS_ENABLED="true",
        APP_RATE_LIMIT_LOGIN_PER_ADDRESS="1000/minute",
    ) as served:
        for login in ("customer", "admin"):
            run = subprocess.run(  # noqa: S603 - a fixed argv
                [
                    sys.executable, "-m", "tests.contract.fuzz", "--host", served.base,
                    "--examples", str(EXAMPLES), "--seed", str(SEED),
                ],
                cwd=tmp_path,  # schemathesis's state stays out of the work tree
                env={
                    **os.environ,
                    "PYTHONPATH": str(ROOT),
                    "FUZZ_LOGIN": login,
                    "FUZZ_PASSWORD": PASSWORD,
                    "NO_COLOR": "1",
                },
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_SECONDS,
                check=False,
            )  # fmt: skip
            output = run.stdout + run.stderr
            assert run.returncode == 0, f"schemathesis as {login}:\n{output[-20_000:]}"
