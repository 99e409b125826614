"""``python -m loadtests.faults [scenario ...] [--seconds N] [--rate R]`` (``make faults``).

Starts a private platform (embedded PostgreSQL, two private Redis servers, gunicorn, a Celery
worker and beat) under a temporary directory, runs each scenario in turn under a steady load,
prints its figures, and exits 1 if any invariant broke. Never touches the shared servers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from loadtests.faults.checks import SETTLE_WITHIN
from loadtests.faults.platform import Platform, running_platform
from loadtests.faults.scenarios import SCENARIOS, Report, run


async def _run_all(target: Platform, names: list[str], seconds: float, rate: float) -> list[Report]:
    reports = []
    for name in names:
        try:
            async with asyncio.timeout(seconds * 4 + SETTLE_WITHIN + 120):  # a bound, not a pace
                report = await run(target, name, seconds=seconds, rate=rate)
        except TimeoutError:
            for task in asyncio.all_tasks():  # where it hung
                task.print_stack(limit=6, file=sys.stderr)
            raise
        print("\n".join(report.lines()), flush=True)  # noqa: T201
        reports.append(report)
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], default=[])
    parser.add_argument("--seconds", type=float, default=20.0, help="load per scenario")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--keep", type=Path, help="run under this directory and keep its logs")
    arguments = parser.parse_args()
    names = arguments.scenarios or list(SCENARIOS)
    print(  # noqa: T201
        f"[faults] {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{arguments.rate:.0f} requests/s for {arguments.seconds:.0f} s per scenario",
        flush=True,
    )
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="faults-") as scratch,
        running_platform(arguments.keep or Path(scratch)) as target,
    ):
        print(f"[faults] platform ready in {time.monotonic() - started:.1f} s", flush=True)  # noqa: T201
        reports = asyncio.run(_run_all(target, names, arguments.seconds, arguments.rate))
    failed = [report.scenario.name for report in reports if report.problems()]
    print(f"[faults] {len(reports) - len(failed)} of {len(reports)} scenarios held", flush=True)  # noqa: T201
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
