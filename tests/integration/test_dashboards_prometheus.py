"""Every dashboard query and every rule expression, run by a real Prometheus against a running
platform.

The api (gunicorn, ``python -m app api``), a worker and beat run as in production, with short
periodic intervals; a Prometheus (Debian's prometheus package) scrapes both metrics ports every
second under the chart's job names, with the namespace and pod labels Kubernetes would give,
and loads ``charts/fastapi-platform/files/prometheus-rules.yaml`` (evaluated every second). A
short load (sign-ups, log-ins, one failed, product reads, orders placed, paid, cancelled with a
refund and expired) gives every panel something to show. Then each panel's query, with the
dashboard's variables filled in as Grafana would ("All", one namespace), and each rule's
expression go through Prometheus's HTTP API: each must parse, and each must return data, but
for the few listed below with the reason they cannot in a short run.

An alert's condition is empty while it does not fire; so its expression is also run with every
comparison turned into a ``bool`` one (``x > 0.5`` becomes ``x > bool 0.5``, 0 or 1 for every
series), which returns data exactly when the series it compares exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import yaml

from app.bootstrap.settings import Settings
from tests.integration.catalog_support import PRODUCTS
from tests.integration.helpers import sign_up
from tests.integration.order_support import ORDERS, cancel, new_product, open_shop, paid, placed
from tests.integration.server_support import serve_api
from tests.integration.support import log_in_raw
from tests.monitoring.dashboards import (
    JOBS,
    LABEL_VALUES,
    RULES_FILE,
    dashboards,
    queries,
    rules,
    substitute,
    variable_query,
    variables,
)
from tests.support.mail import Mailbox
from tests.support.ports import free_port
from tests.support.sql import sql_execute, wait_for_sql
from tests.support.worker import kill_group, launch, wait_for_log, worker_environment

API_JOB, WORKER_JOB = JOBS
NAMESPACE: Final = "shop"  # the scrape config's namespace label, as a pod's would be
# Grafana's $__rate_interval, $__interval and $__range: a window that holds the whole run, so
# a counter that moved once in it has a rate, and a histogram with one observation a quantile.
WINDOW: Final = "10m"
WITHIN: Final = 120.0  # seconds for every query to have data after the load

# Panels and rules that may return nothing in a short run, and why. Everything else must
# return data; a name here that no longer exists fails the test.
PANELS_MAY_BE_EMPTY: Final = {
    "api: Availability budget left (30 d) [A]": "reads the budget group, recorded every 5 minutes",
    "api: Latency budget left (30 d) [A]": "reads the budget group, recorded every 5 minutes",
}
_BUDGET: Final = (
    "the budget group's interval is 5 minutes: its first evaluation may come after the run"
)
_KUBE: Final = "reads kube-state-metrics (kube_*), which runs only in a cluster"
RULES_MAY_BE_EMPTY: Final = {
    # Recorded series of the budget group; their expressions, run here, have data.
    "namespace:slo_availability_errors:ratio_rate30d": _BUDGET,
    "namespace:slo_latency_errors:ratio_rate30d": _BUDGET,
    # ...and these two read the 30-day ratios the group records.
    "namespace:slo_availability_error_budget:remaining": _BUDGET,
    "namespace:slo_latency_error_budget:remaining": _BUDGET,
    "FastAPIPlatformAPIUnavailable": _KUBE,
    "FastAPIPlatformAPIPodsNotReady": _KUBE,
    "FastAPIPlatformWorkerUnavailable": _KUBE,
    "FastAPIPlatformBeatAbsent": _KUBE,
    "FastAPIPlatformBeatDuplicated": _KUBE,
    "FastAPIPlatformMigrationFailed": _KUBE,
}

# Every comparison outside label matchers and strings, not already a bool one.
_COMPARISON: Final = re.compile(r'("(?:[^"\\]|\\.)*"|\{[^}]*\})|(==|!=|>=|<=|>|<)(\s*bool\b)?')


def as_bool(expr: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) or match.group(3):  # a matcher, a string, or already bool
            return match.group(0)
        return f"{match.group(2)} bool"

    return _COMPARISON.sub(replace, expr)


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("prometheus is not installed, and CI=true: install the prometheus package")
    pytest.skip("prometheus is not installed (apt-get install prometheus); CI installs it")


@dataclass
class Prometheus:
    url: str
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(f"{self.url}{path}", params=params).json()
        return body

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=expr)

    def label_values(self, label: str, match: str) -> list[str]:
        body = self.get(f"/api/v1/label/{label}/values", **{"match[]": match})
        assert body["status"] == "success", body
        return list(body["data"])

    def targets_up(self) -> dict[str, str]:
        active = self.get("/api/v1/targets", state="active")["data"]["activeTargets"]
        return {target["labels"]["job"]: target["health"] for target in active}


@contextlib.contextmanager
def running_prometheus(tmp_path: Path, targets: dict[str, str]) -> Iterator[Prometheus]:
    """Prometheus scraping each job's one address every second, with the rules file if any."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [
                    {"targets": [address], "labels": {"namespace": NAMESPACE, "pod": f"{job}-0"}}
                ],
            }
            for job, address in targets.items()
        ],
    }
    if RULES_FILE.is_file():
        config["rule_files"] = [str(RULES_FILE)]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = tmp_path / "prometheus.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the prometheus package's server
            [
                prometheus_binary(),
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    prometheus = Prometheus(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if prometheus.client.get(f"{prometheus.url}/-/ready").status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield prometheus
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
        kill_group(process)
        prometheus.client.close()


def platform_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The worker's and beat's settings: every periodic job within seconds, probe files here."""
    return {
        "APP_CELERY_OUTBOX_SWEEP_SECONDS": "1",
        "APP_CELERY_EXPIRE_ORDERS_SECONDS": "2",
        "APP_CELERY_SALES_ROLLUP_SECONDS": "2",
        "APP_CELERY_PURGE_SECONDS": "2",
        "APP_CELERY_HEARTBEAT_SECONDS": "1",
        "APP_CELERY_HEARTBEAT_FILE": str(tmp_path / "worker-heartbeat"),
        "APP_CELERY_READY_FILE": str(tmp_path / "worker-ready"),
        "APP_CELERY_BEAT_SCHEDULE_FILE": str(tmp_path / "celerybeat-schedule"),
        **extra,
    }


async def load(
    client: httpx.AsyncClient, sent: list[httpx.Request], database_url: str, prometheus: Prometheus
) -> None:
    """A little of everything the dashboards show, in two rounds: a counter that first appears
    at its first value shows no increase (Prometheus never saw it at 0), so the second round,
    after a scrape holding every request of the first, moves every series the first created.

    Every request, not one series: each gunicorn worker writes its HTTP counts up to a second
    late (the tally in metrics.py), so a series written at once (the refunds) can be scraped
    while a worker still holds the round's requests; both rounds would then appear in one
    write, at their final values, and no HTTP rate would ever leave 0."""
    shop = await open_shop(client, database_url, customers=2)  # sign-ups and log-ins
    await sign_up(client, "browser")
    failed = await log_in_raw(client, "browser", "not-the-password")
    assert failed.status_code == 401, failed.text
    product = await new_product(client, shop, "DASH-1", stock=50)

    async def shopping() -> None:
        for _ in range(3):  # a miss, then hits of the catalog cache
            assert (await client.get(f"{PRODUCTS}/{product}")).status_code == 200
            assert (await client.get(PRODUCTS, headers=shop.alice.headers)).status_code == 200
        missing = await client.get(f"{PRODUCTS}/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404
        refunded = await placed(client, shop.alice, (product, 1))
        await paid(client, shop.alice, refunded["id"])
        cancelled = await cancel(client, shop.admin, refunded["id"], "out of stock after all")
        assert cancelled.status_code == 200, cancelled.text
        order = await placed(client, shop.bob, (product, 2))
        await paid(client, shop.bob, order["id"])
        assert (await client.get(ORDERS, headers=shop.alice.headers)).status_code == 200

    await shopping()
    await _scraped(prometheus, f'order_refunded_amount_total{{job="{API_JOB}"}}')
    await _scraped(prometheus, f'sum(http_requests_total{{job="{API_JOB}"}}) >= {len(sent)}')
    await shopping()

    overdue = await placed(client, shop.bob, (product, 1))
    # Its payment window long gone: the next expiry job expires it (event "expired", the worker's).
    await sql_execute(
        database_url,
        "UPDATE orders SET created_at = created_at - interval '1 day' WHERE id = $1::uuid",
        overdue["id"],
    )
    status = await wait_for_sql(
        database_url, "SELECT status FROM orders WHERE id = $1::uuid", "expired", overdue["id"]
    )
    assert status == "expired"


@dataclass
class Outcome:
    errors: dict[str, str] = field(default_factory=dict)  # what -> Prometheus's error
    empty: dict[str, str] = field(default_factory=dict)  # what returned nothing (or only NaN)
    with_data: set[str] = field(default_factory=set)


def evaluate(prometheus: Prometheus, checks: dict[str, str]) -> Outcome:
    outcome = Outcome()
    for what, expr in checks.items():
        body = prometheus.query(expr)
        if body["status"] != "success":
            outcome.errors[what] = f"{body.get('errorType')}: {body.get('error')}\n    {expr}"
            continue
        data = body["data"]
        values = (
            [float(sample["value"][1]) for sample in data["result"]]
            if data["resultType"] == "vector"
            else [float(data["result"][1])]
            if data["resultType"] == "scalar"
            else []
        )
        if any(not math.isnan(value) for value in values):
            outcome.with_data.add(what)
        else:
            outcome.empty[what] = str(data["result"])[:300]
    return outcome


def dashboard_checks() -> dict[str, str]:
    """Each panel query as Grafana sends it: "All" for every variable that has it, the test's
    namespace for $namespace, and the whole run for the time windows."""
    checks: dict[str, str] = {}
    for stem, board in dashboards().items():
        values = {
            str(variable["name"]): str(variable["allValue"])
            for variable in variables(board)
            if variable.get("includeAll")
        }
        values |= {
            "namespace": NAMESPACE,
            "__rate_interval": WINDOW,
            "__interval": WINDOW,
            "__range": WINDOW,
        }
        for query in queries({stem: board}):
            expr = substitute(query.expr, values)
            assert "$" not in expr, f"{query}: a variable left: {expr}"
            assert str(query) not in checks, f"{query}: two panels of one name"
            checks[str(query)] = expr
    return checks


def rule_checks() -> dict[str, str]:
    """Each rule's expression; an alert's also as bool comparisons; each recorded series."""
    checks: dict[str, str] = {}
    for rule in rules():
        name = str(rule.get("record") or rule["alert"])
        expr = str(rule["expr"])
        if "record" in rule:
            checks[f"{name} (expression)"] = expr
            checks[f"{name} (recorded)"] = name
        else:
            checks[f"{name} (as bool)"] = as_bool(expr)
    return checks


def alert_conditions() -> dict[str, str]:
    """The alerts' conditions as written: they must parse, and are empty while not firing."""
    return {
        f"{rule['alert']} (condition)": str(rule["expr"]) for rule in rules() if "alert" in rule
    }


def may_be_empty(what: str) -> bool:
    return what in PANELS_MAY_BE_EMPTY or what.rsplit(" (", 1)[0] in RULES_MAY_BE_EMPTY


def test_the_exceptions_name_existing_panels_and_rules() -> None:
    panels = {str(query) for query in queries()}
    assert set(PANELS_MAY_BE_EMPTY) <= panels, sorted(set(PANELS_MAY_BE_EMPTY) - panels)
    names = {str(rule.get("record") or rule.get("alert")) for rule in rules()}
    if RULES_FILE.is_file():
        assert set(RULES_MAY_BE_EMPTY) <= names, sorted(set(RULES_MAY_BE_EMPTY) - names)


def test_comparisons_become_bool_outside_matchers_and_strings() -> None:
    expr = 'a{x!="1", y=~"<|>"} > 0.5 and b >= bool 2 or c == on (n) d != e < f <= g'
    assert as_bool(expr) == (
        'a{x!="1", y=~"<|>"} > bool 0.5 and b >= bool 2 or c == bool on (n) d != bool e '
        "< bool f <= bool g"
    )


@pytest.mark.timeout(420)  # three processes and Prometheus to start on a busy machine, then polling
async def test_every_dashboard_query_and_rule_returns_data_from_a_real_prometheus(
    settings: Settings, database_url: str, mailbox: Mailbox, tmp_path: Path
) -> None:
    prometheus_binary()  # skip (or fail under CI) before starting anything
    worker_port = free_port()
    env = {
        **worker_environment(settings, mailbox),
        **platform_env(tmp_path, APP_CELERY_METRICS_PORT=str(worker_port)),
    }
    (tmp_path / "worker").mkdir()
    worker = launch(["worker", "--concurrency=2"], env, tmp_path / "worker" / "worker.log")
    beat = launch(["beat"], env, tmp_path / "beat.log")
    try:
        wait_for_log([(worker, tmp_path / "worker" / "worker.log")], b"ready.")
        wait_for_log([(beat, tmp_path / "beat.log")], b"beat: Starting")
        api_env = {"APP_CELERY_BROKER_DB": str(settings.celery.broker_db)}
        with serve_api(settings, tmp_path, **api_env) as served:
            targets = {
                API_JOB: served.metrics.removeprefix("http://"),
                WORKER_JOB: f"127.0.0.1:{worker_port}",
            }
            with running_prometheus(tmp_path, targets) as prometheus:
                # Scraped before the load, so that every counter's increase is seen.
                await _targets_up(prometheus)
                sent: list[httpx.Request] = []

                async def count(request: httpx.Request) -> None:
                    sent.append(request)

                async with httpx.AsyncClient(
                    base_url=served.base, timeout=30, event_hooks={"request": [count]}
                ) as client:
                    await load(client, sent, database_url, prometheus)
                checks = {**dashboard_checks(), **rule_checks()}
                outcome = await _poll(prometheus, checks)
                conditions = evaluate(prometheus, alert_conditions())
                variable_values = _variable_values(prometheus)
                health = _rule_health(prometheus)
    finally:
        for process in (beat, worker):
            if process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=15)
            kill_group(process)

    errors = {**outcome.errors, **conditions.errors}
    assert not errors, "queries Prometheus refused:\n" + "\n".join(
        f"  {what}: {error}" for what, error in sorted(errors.items())
    )
    missing = sorted(what for what in outcome.empty if not may_be_empty(what))
    assert not missing, f"no data within {WITHIN:.0f} s:\n" + "\n".join(
        f"  {what}: {checks[what]}\n    gave {outcome.empty[what]}" for what in missing
    )
    assert not health, f"rules that failed to evaluate: {health}"
    for stem, name, values in variable_values:
        assert values, f"{stem}: variable {name} offers no value"
        if name == "namespace":
            assert NAMESPACE in values, values
    exempt_empty = sorted(what for what in outcome.empty if may_be_empty(what))
    print(  # noqa: T201 - the run's figures, shown with -s or -rA
        f"\n{len(checks) + len(conditions.with_data) + len(conditions.empty)} expressions "
        f"evaluated: {len(outcome.with_data)} with data, {len(exempt_empty)} empty as allowed "
        f"({', '.join(exempt_empty) or 'none'}); {len(conditions.with_data)} of "
        f"{len(alert_conditions())} alert conditions firing; "
        f"{len(variable_values)} variable queries answered"
    )


async def _targets_up(prometheus: Prometheus) -> None:
    """Until Prometheus has scraped both jobs (it takes up new targets every 5 s)."""
    deadline = time.monotonic() + WITHIN
    while (up := prometheus.targets_up()) != {API_JOB: "up", WORKER_JOB: "up"}:
        if time.monotonic() > deadline:
            pytest.fail(f"targets not up within {WITHIN:.0f} s: {up}")
        await asyncio.sleep(0.5)


async def _scraped(prometheus: Prometheus, expr: str) -> None:
    """Until Prometheus has a sample of the series (bounded)."""
    deadline = time.monotonic() + WITHIN
    while not prometheus.query(expr)["data"]["result"]:
        if time.monotonic() > deadline:
            pytest.fail(f"never scraped within {WITHIN:.0f} s: {expr}")
        await asyncio.sleep(0.5)


async def _poll(prometheus: Prometheus, checks: dict[str, str]) -> Outcome:
    """Until every check that must have data has it, or one fails (bounded)."""
    deadline = time.monotonic() + WITHIN
    while True:
        outcome = evaluate(prometheus, checks)
        waiting = [what for what in outcome.empty if not may_be_empty(what)]
        if outcome.errors or not waiting or time.monotonic() > deadline:
            return outcome
        await asyncio.sleep(1.0)  # one scrape and one rule evaluation


def _variable_values(prometheus: Prometheus) -> list[tuple[str, str, list[str]]]:
    answers = []
    for stem, board in dashboards().items():
        for variable in variables(board):
            if variable["type"] != "query":
                continue
            found = LABEL_VALUES.match(variable_query(variable))
            assert found, f"{stem}: {variable['name']} is not a label_values() query"
            selector = substitute(found["selector"], {"namespace": NAMESPACE})
            answers.append(
                (stem, variable["name"], prometheus.label_values(found["label"], selector))
            )
    return answers


def _rule_health(prometheus: Prometheus) -> dict[str, str]:
    groups = prometheus.get("/api/v1/rules")["data"]["groups"]
    return {
        str(rule["name"]): str(rule.get("lastError"))
        for group in groups
        for rule in group["rules"]
        if rule["health"] == "err"
    }
