"""The metrics reference tables of the docs against a real API (gunicorn, two workers) and a real
worker, after a little traffic: every metric a table lists is served with the type and labels it
gives, and nothing is served that the table leaves out. The tables are read from the docs
themselves (chapter 06 for the API, 11 for the worker), so docs and code cannot drift apart.
promtool checks each exposition when it is installed (.ci/run installs it)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.bootstrap.settings import Settings
from app.bootstrap.worker.celery_app import create_celery
from app.bootstrap.worker.sides import QUEUES
from tests.integration.order_support import cancel, new_product, open_shop, pay, placed
from tests.integration.server_support import Served, serve_api
from tests.support.mail import Mailbox
from tests.support.ports import free_port
from tests.support.sql import sql_value
from tests.support.worker import WorkerProcess, start_worker, worker_environment

pytestmark = pytest.mark.timeout(300)  # two servers to start on a busy machine, then polling

DOCS = Path(__file__).resolve().parents[2] / "docs"
REFERENCES = {"api": DOCS / "06-presentation-layer.md", "worker": DOCS / "11-async-tasks.md"}
HEADER = "| Metric | Type | Labels | Meaning |"
VERSION = "9.9.9-metrics"
REVISION = "0123456789abcdef0123456789abcdef01234567"
EXPIRE = "ordering.expire_overdue_orders"
RELAY = "platform.relay_outbox"


@dataclass(frozen=True, slots=True)
class Documented:
    name: str
    type: str
    label_names: frozenset[str]


def documented(chapter: Path) -> dict[str, Documented]:
    """The rows of the chapter's one reference table: `name` | type | `label`, ... or none."""
    lines = chapter.read_text().splitlines()
    assert lines.count(HEADER) == 1, f"{chapter.name}: one metrics reference table"
    rows: dict[str, Documented] = {}
    for line in lines[lines.index(HEADER) + 2 :]:
        if not line.startswith("|"):
            break
        name, kind, cell = (cell.strip() for cell in line.strip("|").split("|")[:3])
        metric = Documented(
            name=name.strip("`"),
            type=kind,
            label_names=frozenset(re.findall(r"`([a-z_]+)`", cell)),
        )
        assert metric.name not in rows, f"{chapter.name}: {metric.name} twice"
        assert metric.type in {"counter", "gauge", "histogram"}, metric
        assert cell == "none" or metric.label_names, metric
        rows[metric.name] = metric
    return rows


@dataclass(frozen=True, slots=True)
class Exposition:
    """What one /metrics serves: each family's type and label names, and every sample."""

    families: dict[str, tuple[str, frozenset[str]]]
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **label_values: str) -> float | None:
        return self.samples.get((name, frozenset(label_values.items())))


def parse(text: str) -> Exposition:
    families: dict[str, tuple[str, frozenset[str]]] = {}
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        # The parser drops a counter's _total from the family's name; the docs name the series.
        name = f"{family.name}_total" if family.type == "counter" else family.name
        names = frozenset(
            label for sample in family.samples for label in sample.labels if label != "le"
        )
        families[name] = (family.type, names)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return Exposition(families, samples)


def mismatches(reference: dict[str, Documented], served: Exposition) -> list[str]:
    problems = [
        f"{name}: documented, not served" for name in reference if name not in served.families
    ]
    problems += [
        f"{name}: served, not documented" for name in served.families if name not in reference
    ]
    for name, metric in reference.items():
        if name in served.families:
            kind, names = served.families[name]
            if (kind, names) != (metric.type, metric.label_names):
                problems.append(
                    f"{name}: documented {metric.type} {sorted(metric.label_names)}, "
                    f"served {kind} {sorted(names)}"
                )
    return problems


@pytest.fixture
def api(settings: Settings, tmp_path: Path) -> Iterator[Served]:
    env = {
        "APP_VERSION": VERSION,
        "APP_REVISION": REVISION,
        # The worker's broker database: it handles what the API's relay sends.
        "APP_CELERY_BROKER_DB": str(settings.celery.broker_db),
    }
    with serve_api(settings, tmp_path, **env) as served:
        yield served


@dataclass(frozen=True, slots=True)
class Worker:
    metrics: str
    started: float  # before the process was: its heartbeat and job times come after


@pytest.fixture
def metered_worker(settings: Settings, mailbox: Mailbox, tmp_path: Path) -> Iterator[Worker]:
    started = time.time()
    port = free_port()
    env = {
        **worker_environment(settings, mailbox),
        "APP_CELERY_METRICS_PORT": str(port),
        "APP_VERSION": VERSION,
        "APP_REVISION": REVISION,
        # Orders expire a second after they are placed; the expiry's single-run lock lasts 0.9 s.
        "APP_ORDERING_PAYMENT_WINDOW_SECONDS": "1",
        "APP_CELERY_EXPIRE_ORDERS_SECONDS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "worker-metrics"),
    }
    running: WorkerProcess = start_worker(env, tmp_path / "worker.log")
    try:
        yield Worker(f"http://127.0.0.1:{port}/metrics", started)
    finally:
        running.stop()


async def _traffic(base: str, database_url: str) -> str:
    """An order placed, paid and refunded, and one left to expire; returns the latter's id."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        shop = await open_shop(client, database_url, customers=0)
        product = await new_product(client, shop, "METRICS-1", price="12.50", currency="EUR")
        refunded = (await placed(client, shop.alice, (product, 2)))["id"]
        assert (await pay(client, shop.alice, refunded)).status_code == 200
        assert (await cancel(client, shop.admin, refunded, "metrics test")).status_code == 200
        return str((await placed(client, shop.alice, (product, 1)))["id"])


async def _expire(settings: Settings, database_url: str, order_id: str) -> None:
    """Send the expiry job until the order's window has passed and the job has ended it."""
    celery = create_celery(settings)
    deadline = time.monotonic() + 60
    try:
        while await sql_value(
            database_url, "SELECT status FROM orders WHERE id = $1", order_id
        ) != ("expired"):
            assert time.monotonic() < deadline, "the order never expired"
            celery.send_task(EXPIRE)
            await asyncio.sleep(1.0)  # the job's lock lasts 0.9 s: one send per lock
        celery.send_task(RELAY)  # the sweep: queue metrics and its own last success
    finally:
        celery.close()


async def _scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(url, headers={"Connection": "close"})
    response.raise_for_status()
    return response.text


async def _settled(
    url: str, reference: dict[str, Documented], ready: Callable[[Exposition], bool]
) -> str:
    """Scrape until every documented metric is there and ``ready`` holds, or 60 s have passed."""
    deadline = time.monotonic() + 60
    while True:
        text = await _scrape(url)
        served = parse(text)
        if (not mismatches(reference, served) and ready(served)) or time.monotonic() > deadline:
            return text
        await asyncio.sleep(0.25)


def _promtool(text: str, where: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        print(f"[metrics] promtool not installed: {where}'s exposition not linted")  # noqa: T201
        return
    checked = subprocess.run(  # noqa: S603 - a fixed tool on our own output
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, f"{where}: {checked.stdout}{checked.stderr}"
    print(f"[metrics] {where}: promtool check metrics passed ({len(text.splitlines())} lines)")  # noqa: T201


async def test_every_documented_metric_is_served_as_documented_and_nothing_else(
    api: Served, metered_worker: Worker, settings: Settings, database_url: str
) -> None:
    references = {where: documented(chapter) for where, chapter in REFERENCES.items()}
    pending = await _traffic(api.base, database_url)
    await _expire(settings, database_url, pending)

    def api_ready(served: Exposition) -> bool:
        # Both gunicorn workers have started (each pool counts) and the refund is counted.
        return served.value("db_pool_size") == 20 and bool(
            served.value("order_events_total", event="cancelled")
        )

    def worker_ready(served: Exposition) -> bool:
        return all(
            served.value("periodic_job_last_success_timestamp_seconds", task=job)
            for job in (EXPIRE, RELAY)
        ) and bool(served.value("order_events_total", event="expired"))

    api_text = await _settled(f"{api.metrics}/metrics", references["api"], api_ready)
    worker_text = await _settled(metered_worker.metrics, references["worker"], worker_ready)

    for where, text in (("api", api_text), ("worker", worker_text)):
        assert mismatches(references[where], parse(text)) == [], where
        _promtool(text, where)

    served_api, served_worker = parse(api_text), parse(worker_text)
    for served in (served_api, served_worker):
        assert served.value("fastapi_platform_build_info", version=VERSION, revision=REVISION) == 1
    # Multiprocess mode: two gunicorn workers' pools of 10, one pool process's on the worker.
    assert served_api.value("db_pool_size") == 20
    assert served_worker.value("db_pool_size") == 10
    # Each order event once, in the process that committed it, with its money.
    assert {
        event: served_api.value("order_events_total", event=event)
        for event in ("placed", "paid", "cancelled", "expired")
    } == {"placed": 2, "paid": 1, "cancelled": 1, "expired": 0}
    assert served_api.value("order_paid_amount_total", currency="EUR") == 25.0
    assert served_api.value("order_refunded_amount_total", currency="EUR") == 25.0
    assert served_worker.value("order_events_total", event="expired") == 1
    # The worker's clocks: its heartbeat and its jobs' last successes are of this test.
    heartbeat = served_worker.value("celery_worker_last_heartbeat_timestamp_seconds")
    assert heartbeat is not None
    assert heartbeat >= metered_worker.started
    for job in (EXPIRE, RELAY):
        last = served_worker.value("periodic_job_last_success_timestamp_seconds", task=job)
        assert last is not None
        assert last >= metered_worker.started
    for queue in QUEUES:
        age = served_worker.value("celery_queue_oldest_task_age_seconds", queue=queue)
        assert age is not None
        assert age >= 0
