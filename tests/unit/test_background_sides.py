"""The worker side is built from the contexts' background sides: the names on the wire (tasks,
queues, beat entries) are what the chart's worker groups and the alerts expect, every routed or
scheduled task is registered by some side, and two sides cannot claim one task or entry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from celery import Celery

from app.bootstrap.settings import CelerySettings, ExportSettings
from app.bootstrap.worker.sides import (
    EVENT_HANDLERS,
    PURGE_STEPS,
    QUEUES,
    SIDES,
    TASK_ROUTES,
)
from app.shared.presentation.background import (
    BackgroundSide,
    PeriodicJob,
    WorkerOptions,
    beat_schedule,
    task_routes,
)

OPTIONS = WorkerOptions(
    max_retries=3,
    retention=timedelta(days=7),
    outbox_sweep_seconds=5,
    purge_seconds=3600,
    expire_orders_seconds=60,
    sales_rollup_seconds=900,
    export_slice_seconds=20,
    export_chunk_pause_seconds=0,
)


def test_tasks_go_to_the_queues_the_chart_s_worker_groups_consume() -> None:
    assert {task: route["queue"] for task, route in TASK_ROUTES.items()} == {
        "notifications.order_confirmation": "notifications",
        "notifications.payment_receipt": "notifications",
        "notifications.cancellation_notice": "notifications",
        "notifications.sign_up_notice": "notifications",
        "ordering.run_order_export": "exports",
        "ordering.expire_overdue_orders": "maintenance",
        "ordering.roll_up_daily_sales": "maintenance",
        "platform.relay_outbox": "maintenance",
        "platform.purge": "maintenance",
    }
    assert QUEUES == ("default", "exports", "maintenance", "notifications")


def test_each_event_fans_out_to_the_handlers_its_sides_subscribe() -> None:
    assert EVENT_HANDLERS == {
        "OrderPlaced": ("notifications.order_confirmation",),
        "OrderPaid": ("notifications.payment_receipt",),
        "OrderCancelled": ("notifications.cancellation_notice",),
        "OrderExpired": ("notifications.cancellation_notice",),
        "SignUpWithTakenEmail": ("notifications.sign_up_notice",),
        "OrderExportRequested": ("ordering.run_order_export",),
        "OrderExportContinued": ("ordering.run_order_export",),
    }


def test_beat_s_schedule_has_each_entry_every_interval_and_expiring_after_it() -> None:
    assert beat_schedule(SIDES, OPTIONS) == {
        "relay-outbox": {
            "task": "platform.relay_outbox",
            "schedule": 5,
            "options": {"expires": 5},
        },
        "purge": {"task": "platform.purge", "schedule": 3600, "options": {"expires": 3600}},
        "expire-overdue-orders": {
            "task": "ordering.expire_overdue_orders",
            "schedule": 60,
            "options": {"expires": 60},
        },
        "roll-up-daily-sales": {
            "task": "ordering.roll_up_daily_sales",
            "schedule": 900,
            "options": {"expires": 900},
        },
    }


def test_the_purge_runs_the_kernel_s_bookkeeping_then_each_context_s_steps() -> None:
    assert [step.name for step in PURGE_STEPS] == [
        "idempotency_keys",
        "processed_events",
        "outbox_events",
        "session_index_entries",
        "order_exports",
    ]


def test_every_routed_scheduled_or_subscribed_task_is_registered_by_a_side() -> None:
    celery = Celery("sides", set_as_current=False)

    def run(work: Any) -> Any:
        raise AssertionError("no task runs in this test")

    for side in SIDES:
        side.register(celery, run, OPTIONS)
    registered = {name for name in celery.tasks if not name.startswith("celery.")}
    scheduled = {entry["task"] for entry in beat_schedule(SIDES, OPTIONS).values()}
    subscribed = {task for handlers in EVENT_HANDLERS.values() for task in handlers}
    at_start = {task for side in SIDES for task in side.at_beat_start}
    assert registered == set(TASK_ROUTES)
    assert scheduled | subscribed | at_start <= registered


def test_the_options_carry_each_setting_the_tasks_read() -> None:
    from app.bootstrap.worker.sides import worker_options  # noqa: PLC0415

    class Settings:
        celery = CelerySettings()
        export = ExportSettings(chunk_pause_ms=250)

    options = worker_options(Settings())  # type: ignore[arg-type]
    assert options.retention == timedelta(days=CelerySettings().retention_days)
    assert options.export_chunk_pause_seconds == 0.25
    assert options.expire_orders_seconds == CelerySettings().expire_orders_seconds


def test_two_sides_cannot_route_one_task_or_declare_one_beat_entry() -> None:
    job = PeriodicJob(entry="tick", task="a.tick", every=lambda options: options.purge_seconds)
    first = BackgroundSide(context="a", task_queues={"a.tick": "q"}, periodic=(job,))
    second = BackgroundSide(context="b", task_queues={"a.tick": "r"}, periodic=(job,))
    with pytest.raises(ValueError, match="routed by two sides"):
        task_routes((first, second))
    with pytest.raises(ValueError, match="declared twice"):
        beat_schedule((first, second), OPTIONS)
