"""Traces leave the real processes over OTLP/HTTP, as they would for an OpenTelemetry Collector.

The api (gunicorn, ``python -m app api``) and a worker (``python -m app worker``) run with the
real exporter, the environment the chart gives their pods (``chart_tracing_env``) and
``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at a receiver in this process (``otlp_support``). An
order placed over HTTP must come back as one trace: the api's request span, the outbox relay's
publish span, the worker's task span, each process's resource naming its component and pod.
``test_worker_notifications.py`` has the same chain with an in-process api and the console
exporter; this one goes through what production runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import httpx

from app.bootstrap.settings import Settings
from tests.integration.helpers import bearer, log_in, sign_up
from tests.integration.otlp_support import (
    CHART_RESOURCE_KEYS,
    FakePod,
    OtlpReceiver,
    ReceivedSpan,
    chart_tracing_env,
)
from tests.integration.server_support import serve_api
from tests.integration.support import staffing
from tests.support.mail import Mailbox
from tests.support.worker import start_worker, worker_environment

TASK: Final = "notifications.order_confirmation"
API: Final = "fastapi-platform-api"
WORKER: Final = "fastapi-platform-worker"


def exporting_to(receiver: OtlpReceiver) -> dict[str, str]:
    """The chart's ``tracing.enabled`` variables, every trace sampled, batches sent quickly."""
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "1.0",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }


def pod(component: str) -> FakePod:
    return FakePod(name=f"{component}-{secrets.token_hex(4)}", uid=secrets.token_hex(16))


async def place_an_order(client: httpx.AsyncClient, database_url: str) -> None:
    team = await staffing(client, database_url)
    product = await client.post(
        "/api/v1/products",
        json={"sku": "MUG-1", "name": "Mug", "price_amount": "12.50", "currency": "EUR",
              "stock_on_hand": 5},
        headers=team.staff.headers,
    )  # fmt: skip
    assert product.status_code == 201, product.text
    await sign_up(client, "buyer")
    order = await client.post(
        "/api/v1/orders",
        json={"lines": [{"product_id": product.json()["id"], "quantity": 2}]},
        headers=bearer(await log_in(client, "buyer")),
    )
    assert order.status_code == 201, order.text


def placing_spans(spans: Sequence[ReceivedSpan]) -> list[ReceivedSpan]:
    return [
        span
        for span in spans
        if span.service == API
        and span.kind == "SERVER"
        and span.attributes.get("http.route") == "/api/v1/orders"
    ]


def confirmation_of(spans: Sequence[ReceivedSpan], placing: ReceivedSpan) -> ReceivedSpan | None:
    return next(
        (
            span
            for span in spans
            if span.name == f"run/{TASK}" and span.trace_id == placing.trace_id
        ),
        None,
    )


def the_whole_chain(spans: Sequence[ReceivedSpan]) -> bool:
    return any(confirmation_of(spans, placing) for placing in placing_spans(spans))


def ancestors(span: ReceivedSpan, spans: Sequence[ReceivedSpan]) -> list[ReceivedSpan]:
    """The span's parents up to the root, as far as they were received."""
    by_id = {candidate.span_id: candidate for candidate in spans}
    chain: list[ReceivedSpan] = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


async def test_one_trace_runs_from_the_api_request_through_the_relay_to_the_task_over_otlp(
    settings: Settings, database_url: str, mailbox: Mailbox, tmp_path: Path
) -> None:
    api_pod, worker_pod = pod(API), pod(WORKER)
    with OtlpReceiver().running() as receiver:
        exporting = exporting_to(receiver)
        api_env = {
            # The relay's fast path publishes to the broker the worker consumes.
            "APP_CELERY_BROKER_DB": str(settings.celery.broker_db),
            **exporting,
            **chart_tracing_env("api", api_pod),
        }
        worker_env = {
            **worker_environment(settings, mailbox),
            **exporting,
            **chart_tracing_env("worker", worker_pod),
        }
        worker = start_worker(worker_env, tmp_path / "worker.log")
        try:
            with serve_api(settings, tmp_path, **api_env) as served:
                async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
                    await place_an_order(client, database_url)
                spans = receiver.wait_for(the_whole_chain, within=60)
        finally:
            worker.stop()
        assert receiver.rejected == []

    worker_log = worker.log.read_text()[-3000:]
    placings = placing_spans(spans)
    assert placings, f"no request span of the api: {sorted({s.name for s in spans})}"
    found = [(p, confirmation_of(spans, p)) for p in placings]
    chains = [(p, run) for p, run in found if run is not None]
    assert chains, (
        f"no {TASK} span in the trace of the order's request; received: "
        f"{sorted({(s.service, s.name) for s in spans})}\nworker log:\n{worker_log}"
    )
    (placing, run), *_ = chains

    # The task's span is the worker's, a child of the relay's publish span, which descends from
    # the request's span: one trace from the HTTP request to the task.
    assert run.service == WORKER
    assert run.kind == "CONSUMER"
    publish = next(s for s in spans if s.span_id == run.parent_span_id)
    assert publish.name == f"apply_async/{TASK}"
    assert publish.kind == "PRODUCER"
    assert publish.service in {API, WORKER}  # the fast path in the api, or the worker's sweep
    assert placing in ancestors(publish, spans), (
        [(s.service, s.name) for s in ancestors(publish, spans)],
        (placing.service, placing.name),
    )
    assert placing.parent_span_id == ""  # the client sent no trace context: the request starts it
    # The task's own database work is inside the same trace.
    assert any(
        s.service == WORKER and s.trace_id == placing.trace_id and s.kind == "CLIENT" for s in spans
    )

    # Each process's resource: its component's service name and every attribute the chart sets.
    for service, the_pod, component in ((API, api_pod, "api"), (WORKER, worker_pod, "worker")):
        resources = {tuple(sorted(s.resource.items())) for s in spans if s.service == service}
        assert resources, service
        expected = dict(
            item.split("=", 1)
            for item in chart_tracing_env(component, the_pod)["OTEL_RESOURCE_ATTRIBUTES"].split(",")
        )
        assert set(expected) == set(CHART_RESOURCE_KEYS)
        for resource in map(dict, resources):
            assert resource["service.name"] == service
            assert {key: resource.get(key) for key in expected} == expected, service
            assert resource["k8s.pod.name"] == the_pod.name
