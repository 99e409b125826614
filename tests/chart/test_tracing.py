"""The chart's OpenTelemetry settings, rendered: per component service names, resource attributes
from the downward API (as the SDK will parse them once the kubelet has expanded them), the sampler
with per-component overrides, and the OTLP egress of the NetworkPolicies.

The expanded variables must equal ``chart_tracing_env()`` (tests/integration/otlp_support.py), the
environment ``test_tracing_export.py`` gives the real api and worker before it checks that every
attribute arrives at an OTLP receiver: what is proven there is what the chart sets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from opentelemetry.sdk.resources import OTELResourceDetector

from tests.chart.chart import HelmError
from tests.integration.otlp_support import CHART_RESOURCE_KEYS, FakePod, chart_tracing_env

CHART: Final = Path(__file__).resolve().parents[2] / "charts" / "fastapi-platform"
APP_VERSION: Final = str(yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"])
ENDPOINT: Final = "http://otel-collector.observability:4318"
TRACED: Final = {"tracing.enabled": "true", "tracing.endpoint": ENDPOINT}
COMPONENTS: Final = ("api", "worker", "beat")
VARIABLE: Final = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

Render = Callable[..., list[dict[str, Any]]]
Doc = dict[str, Any]


def container(documents: list[Doc], component: str) -> Doc:
    (deployment,) = [
        d
        for d in documents
        if d["kind"] == "Deployment"
        and d["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    containers: list[Doc] = deployment["spec"]["template"]["spec"]["containers"]
    (found,) = [c for c in containers if c["name"] == component]
    return found


def expanded_env(spec: Doc, pod: FakePod) -> dict[str, str]:
    """What the process sees: downward-API fields filled in, then ``$(VAR)`` references to
    earlier variables expanded, as the kubelet does (references to later ones stay as written)."""
    env: dict[str, str] = {}
    for variable in spec.get("env", []):
        if "value" in variable:
            value = VARIABLE.sub(lambda m: env.get(m.group(1), m.group(0)), str(variable["value"]))
        elif "fieldRef" in variable.get("valueFrom", {}):
            value = pod.field(variable["valueFrom"]["fieldRef"]["fieldPath"])
        else:
            continue  # Secrets: not this test's business
        env[variable["name"]] = value
    return env


def tracing_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(("OTEL_", "K8S_"))}


def parsed_resource(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The SDK's own reading of OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME."""
    with monkeypatch.context() as patched:
        patched.setenv("OTEL_RESOURCE_ATTRIBUTES", env["OTEL_RESOURCE_ATTRIBUTES"])
        patched.setenv("OTEL_SERVICE_NAME", env["OTEL_SERVICE_NAME"])
        return dict(OTELResourceDetector().detect().attributes)


@pytest.mark.parametrize("enabled", [True, False], ids=["enabled", "disabled"])
def test_each_component_gets_the_resource_the_integration_test_proves(
    render: Render, enabled: bool
) -> None:
    documents = render(["minimal-values.yaml"], set_values=TRACED if enabled else {})
    for component in COMPONENTS:
        pod = FakePod(name=f"fp-{component}-6d8f9c-x2x4q", uid=f"uid-of-{component}")
        env = expanded_env(container(documents, component), pod)
        expected = chart_tracing_env(component, pod, version=APP_VERSION, environment="production")
        assert {k: env[k] for k in expected} == expected, component
        if enabled:
            assert env["OTEL_TRACES_EXPORTER"] == "otlp"
            assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == ENDPOINT
            assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"  # the app's exporter
            assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
            assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
            assert "OTEL_SDK_DISABLED" not in env
        else:
            assert set(tracing_env(env)) - set(expected) == {"OTEL_SDK_DISABLED"}, component
            assert env["OTEL_SDK_DISABLED"] == "true"


def test_the_sdk_reads_every_attribute_the_chart_sets(
    render: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = render(
        ["minimal-values.yaml"],
        set_values={
            **TRACED,
            "environment": "staging",
            "tracing.resourceAttributes": {"k8s.cluster.name": "eu-1", "team": "shop checkout"},
        },
    )
    pod = FakePod(name="fp-worker-6d8f9c-x2x4q", uid="0c6f2a0e-5b1c-4c59-9d4e-7f0f7a7e0b11",
                  namespace="shop", node="node-a")  # fmt: skip
    resource = parsed_resource(expanded_env(container(documents, "worker"), pod), monkeypatch)
    assert resource == {
        "service.name": "fastapi-platform-worker",
        "service.namespace": "fastapi-platform",
        "service.version": APP_VERSION,
        "deployment.environment": "staging",
        "deployment.environment.name": "staging",
        "k8s.namespace.name": "shop",
        "k8s.pod.name": pod.name,
        "k8s.pod.uid": pod.uid,
        "k8s.node.name": "node-a",
        "k8s.container.name": "worker",
        "k8s.cluster.name": "eu-1",
        "team": "shop checkout",
    }
    assert set(CHART_RESOURCE_KEYS) <= set(resource)


def test_a_component_overrides_the_sampler_and_the_service_name(render: Render) -> None:
    documents = render(
        ["minimal-values.yaml"],
        set_values={
            **TRACED,
            "api.tracing.serviceName": "shop-api",
            "api.tracing.sampler": "parentbased_always_on",
            "worker.tracing.samplerArg": 0.01,  # a number (--set-json) is taken as the ratio
        },
    )
    pod = FakePod(name="p", uid="u")
    api = expanded_env(container(documents, "api"), pod)
    worker = expanded_env(container(documents, "worker"), pod)
    beat = expanded_env(container(documents, "beat"), pod)
    assert api["OTEL_SERVICE_NAME"] == "shop-api"
    assert api["OTEL_TRACES_SAMPLER"] == "parentbased_always_on"
    assert worker["OTEL_SERVICE_NAME"] == "fastapi-platform-worker"
    assert (worker["OTEL_TRACES_SAMPLER"], worker["OTEL_TRACES_SAMPLER_ARG"]) == (
        "parentbased_traceidratio",
        "0.01",
    )
    assert (beat["OTEL_TRACES_SAMPLER"], beat["OTEL_TRACES_SAMPLER_ARG"]) == (
        "parentbased_traceidratio",
        "0.1",
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"api.tracing.samplerArg": "10%"}, "api: samplerArg must be a ratio from 0 to 1"),
        ({"tracing.samplerArg": "1.5"}, "samplerArg must be a ratio from 0 to 1"),
        ({"tracing.endpoint": f"{ENDPOINT}/v1/traces"}, "the SDK appends /v1/traces"),
        ({"tracing.endpoint": "otel-collector:4318"}, "/tracing/endpoint"),
        ({"api.tracing.sampler": "sometimes"}, "/api/tracing/sampler"),
        ({"beat.tracing": {"samplerArg": "0.5"}}, "'/beat': additional properties 'tracing'"),
        ({"tracing.resourceAttributes": {"team": "a,b"}}, "/tracing/resourceAttributes/team"),
    ],
)
def test_the_render_refuses_tracing_settings_the_sdk_would_misread(
    render: Render, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(HelmError) as refused:
        render(["minimal-values.yaml"], set_values={**TRACED, **values})
    assert message in refused.value.stderr


@pytest.mark.parametrize("ratio", ["0", "1", "0.25", ".5", "1.0"])
def test_ratios_from_zero_to_one_render(render: Render, ratio: str) -> None:
    documents = render(["minimal-values.yaml"], set_values={**TRACED, "tracing.samplerArg": ratio})
    env = expanded_env(container(documents, "api"), FakePod(name="p", uid="u"))
    assert env["OTEL_TRACES_SAMPLER_ARG"] == ratio
    assert float(ratio) <= 1


def test_app_pods_reach_the_otlp_endpoint_only_when_tracing(render: Render) -> None:
    collector = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "otel-collector"}}}
    peers = {"networkPolicy.egress.otlp": [collector]}

    def otlp_rules(set_values: dict[str, Any]) -> dict[str, list[Doc]]:
        documents = render(["minimal-values.yaml"], set_values=set_values)
        policies = {
            d["metadata"]["labels"]["app.kubernetes.io/component"]: d
            for d in documents
            if d["kind"] == "NetworkPolicy"
        }
        return {
            component: [
                rule
                for rule in policies[component]["spec"].get("egress", [])
                if {"port": 4318, "protocol": "TCP"} in rule.get("ports", [])
            ]
            for component in (*COMPONENTS, "migrations")
        }

    traced = otlp_rules({**TRACED, **peers})
    for component in COMPONENTS:
        assert traced[component] == [
            {"to": [collector], "ports": [{"port": 4318, "protocol": "TCP"}]}
        ]
    assert traced["migrations"] == []  # the migration Job starts no tracer
    assert all(rules == [] for rules in otlp_rules(peers).values())
