"""A context's background side, declared in one place: what its routers are to the HTTP side.

Each context's ``presentation/background.py`` exports one ``BackgroundSide``: its tasks (a
``register`` function, called by bootstrap with the worker's Celery application), the event
types its tasks subscribe to, the queue of each task, the periodic jobs beat sends with their
intervals, and its steps of the purge. Bootstrap loops over the list
(``app/bootstrap/worker/sides.py``) to build the task routes, the queues, the relay's fan-out
table, the beat schedule and the purge. Nothing is registered at import time, and no context
imports bootstrap: settings reach the tasks as ``WorkerOptions``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Protocol

from celery import Celery
from dishka import AsyncContainer

from app.shared.presentation.tasks import TaskRunner

DEFAULT_QUEUE: Final = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    """What the settings tell the task adapters. Contexts never read settings: bootstrap builds
    this from ``APP_CELERY_*`` and ``APP_EXPORT_*`` (``worker_options()``)."""

    max_retries: int
    retention: timedelta
    outbox_sweep_seconds: float
    purge_seconds: float
    expire_orders_seconds: float
    sales_rollup_seconds: float
    export_slice_seconds: float
    export_chunk_pause_seconds: float


class Register(Protocol):
    """Defines a side's tasks on the worker's (and beat's) Celery application, and connects
    the side's signal receivers. ``run`` runs async work in a fresh DI request scope."""

    def __call__(self, celery: Celery, run: TaskRunner, options: WorkerOptions) -> None: ...


def no_tasks(celery: Celery, run: TaskRunner, options: WorkerOptions) -> None:
    """The ``register`` of a side that only declares, for example, purge steps."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeriodicJob:
    """An entry of beat's schedule. ``entry`` names it in beat's state file; ``every`` picks
    its interval from the options, which is also the run lock's interval (``exclusive()``)."""

    entry: str
    task: str
    every: Callable[[WorkerOptions], float]


@dataclass(frozen=True, slots=True)
class PurgeStep:
    """One step of the platform's purge: deletes what the side keeps past its time and returns
    how many it removed, under ``name`` in the purge's result. It commits its own work."""

    name: str
    run: Callable[[AsyncContainer, timedelta], Awaitable[int]]


@dataclass(frozen=True, slots=True, kw_only=True)
class BackgroundSide:
    context: str
    register: Register = no_tasks
    # Event type -> the handler tasks it fans out to (the outbox relay's publisher reads them).
    event_handlers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Task name -> queue; a task not listed goes to the default queue.
    task_queues: Mapping[str, str] = field(default_factory=dict)
    periodic: tuple[PeriodicJob, ...] = ()
    # Tasks beat sends once when it starts, besides its schedule.
    at_beat_start: tuple[str, ...] = ()
    purge_steps: tuple[PurgeStep, ...] = ()


def task_routes(sides: Iterable[BackgroundSide]) -> dict[str, dict[str, str]]:
    """Celery's ``task_routes``. A task is declared by one side only."""
    routes: dict[str, dict[str, str]] = {}
    for side in sides:
        for task, queue in side.task_queues.items():
            if task in routes:
                raise ValueError(f"task {task!r} is routed by two sides")
            routes[task] = {"queue": queue}
    return routes


def routed_queues(routes: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The default queue and every queue a route names: what a worker consumes unless told
    otherwise, and what the queue metrics watch. Derived, so no route is left unconsumed."""
    return (DEFAULT_QUEUE, *sorted({str(route["queue"]) for route in routes.values()}))


def event_handlers(sides: Iterable[BackgroundSide]) -> dict[str, tuple[str, ...]]:
    """Every side's subscriptions in one table: an event type may reach several sides."""
    merged: dict[str, tuple[str, ...]] = {}
    for side in sides:
        for event_type, handlers in side.event_handlers.items():
            merged[event_type] = (*merged.get(event_type, ()), *handlers)
    return merged


def purge_steps(sides: Iterable[BackgroundSide]) -> tuple[PurgeStep, ...]:
    return tuple(step for side in sides for step in side.purge_steps)


def beat_schedule(sides: Iterable[BackgroundSide], options: WorkerOptions) -> dict[str, Any]:
    """Beat's schedule: every side's periodic jobs. "expires": a run the workers could not start
    within its interval is dropped, so an outage does not leave a pile of identical jobs."""
    schedule: dict[str, Any] = {}
    for side in sides:
        for job in side.periodic:
            if job.entry in schedule:
                raise ValueError(f"beat entry {job.entry!r} is declared twice")
            interval = job.every(options)
            schedule[job.entry] = {
                "task": job.task,
                "schedule": interval,
                "options": {"expires": interval},
            }
    return schedule
