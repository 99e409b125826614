"""The platform under load, as its users use it: anonymous browsing, customers who order and pay,
new sign-ups, staff who restock and ship, admins who export. Run it with ``make loadtest``, or
``PYTHONPATH=. locust -f loadtests/locustfile.py --host URL`` (docs/15-performance.md).

A load shape is chosen with ``LOAD_SHAPE`` (loadtests/journeys/shapes.py); the run ends with the
SLO gate (loadtests/slo.toml), which sets the exit code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtests.journeys import slo
from loadtests.journeys.browsing import AnonymousBrowser
from loadtests.journeys.customers import Customer, NewCustomer
from loadtests.journeys.shapes import paced_wait_time, selected_shape
from loadtests.journeys.staff import Admin, Staff

USERS = (AnonymousBrowser, Customer, NewCustomer, Staff, Admin)

# Locust runs every LoadTestShape subclass it finds here: at most the one LOAD_SHAPE names.
Shape = selected_shape()
if (paced := paced_wait_time()) is not None:
    for user in USERS:
        user.wait_time = paced  # type: ignore[assignment] # a wait-time function, as Locust's own


def _slo_gate(environment: Environment, **_: Any) -> None:  # noqa: ANN401 - Locust's kwargs
    if isinstance(environment.runner, WorkerRunner):
        return  # the master holds the totals and decides
    path = Path(os.environ.get("LOAD_SLO_FILE", str(slo.DEFAULT_FILE)))
    default, limits = slo.load_limits(path)
    found = slo.breaches(slo.observed(environment.stats.entries.values()), default, limits)
    if found:
        print(f"SLO gate ({path}): {len(found)} breach(es)")  # noqa: T201
        for line in found:
            print(f"  {line}")  # noqa: T201
        environment.process_exit_code = 1
    else:
        print(f"SLO gate ({path}): every request group within its limits")  # noqa: T201


events.quitting.add_listener(_slo_gate)  # type: ignore[no-untyped-call] # untyped in Locust
