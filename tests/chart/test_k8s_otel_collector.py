"""k8s/addons/otel-collector, the OpenTelemetry Collector add-on, and its wiring in the dev overlay:

- the add-on builds alone (``kubectl kustomize``), validates (kubernetes-validate --strict), stays
  in the platform's namespace and runs under Pod Security "restricted"; checkov finds nothing
  (each skip an annotation with its reason);
- the collector's configuration holds together: every pipeline names receivers, processors and
  exporters the file defines, of types the core distribution has, memory_limiter first and batch
  last, every ``${env:X}`` is set by the Deployment, and the receivers, the health check, the
  probes, the container ports, the Service and the NetworkPolicy agree on the ports. No
  ``otelcol`` binary can be installed on the machines this was written on (no release downloads,
  no registry has one), so ``otelcol validate`` runs only where one is on PATH (or OTELCOL);
- in the dev overlay, every app pod's OTLP endpoint is the collector's Service, the chart's
  NetworkPolicies let the pods out to the collector and the collector's policy lets them in, on
  the same port; tracing-values.yaml (for helm and skaffold) says what the overlay sets.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
import yaml

from tests.chart.chart import CHECKOV_SKIPS, CheckovFindings, checkov_line, describe, run_checkov
from tests.chart.kustomize import helm_for_kustomize, kustomize_build, kustomize_text
from tests.chart.test_k8s_and_skaffold import (
    NAMESPACE,
    OVERLAYS,
    kustomization,
    overlay_chart,
    validation_errors,
)
from tests.chart.tools import ROOT

ADDON: Final = ROOT / "k8s" / "addons" / "otel-collector"
CONFIG_FILE: Final = ADDON / "otelcol-config.yaml"
TRACING_VALUES: Final = ADDON / "tracing-values.yaml"
APP_COMPONENTS: Final = ("api", "worker", "beat")
# Component types of the core distribution (otel/opentelemetry-collector) this add-on may use.
# A type from elsewhere (the contrib image) fails here: check the image has it, then add it.
CORE_TYPES: Final = {
    "receivers": {"otlp"},
    "processors": {"memory_limiter", "batch"},
    "exporters": {"debug", "otlp_grpc", "otlp_http"},
    "extensions": {"health_check"},
}
# Exporters defined for the user to switch to, not used by the default pipeline.
PLACEHOLDER_EXPORTERS: Final = {"otlp_grpc/backend"}
ENV_REFERENCE: Final = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")

Doc = dict[str, Any]


def collector_config() -> Doc:
    config: Doc = yaml.safe_load(CONFIG_FILE.read_text())
    return config


def component_type(name: str) -> str:
    return name.split("/", 1)[0]


def walk_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from walk_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_strings(value)


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def one(documents: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [
        d
        for d in documents
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{kind}/{name}: {[describe(d) for d in found]}"
    return found[0]


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions) against a pod's labels."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_template(deployment: Doc) -> Doc:
    template: Doc = deployment["spec"]["template"]
    return template


def container_ports(deployment: Doc) -> dict[str, int]:
    (container,) = pod_template(deployment)["spec"]["containers"]
    return {port["name"]: port["containerPort"] for port in container["ports"]}


@pytest.fixture(scope="module")
def addon(kubectl: Path, helm: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Doc]:
    wrapper = helm_for_kustomize(helm, tmp_path_factory.mktemp("addon-helm"))
    return kustomize_build(kubectl, wrapper, ADDON)


@pytest.fixture(scope="module")
def dev(kubectl: Path, helm: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Doc]:
    wrapper = helm_for_kustomize(helm, tmp_path_factory.mktemp("dev-helm"))
    return kustomize_build(kubectl, wrapper, OVERLAYS["dev"])


# --- the add-on's objects ------------------------------------------------------------------------


def test_the_add_on_builds_validates_and_stays_in_the_namespace(
    addon: list[Doc], tools_python: Path, kubernetes_validate: Path
) -> None:
    assert sorted(describe(d).split("/")[0] for d in addon) == [
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "Service",
        "ServiceAccount",
    ]
    assert validation_errors(tools_python, kubernetes_validate, addon) == []
    assert {d["metadata"].get("namespace") for d in addon} == {NAMESPACE}
    # The generated ConfigMap's name carries a hash of the file: a change rolls the collector.
    config_map = one(addon, "ConfigMap")
    assert re.fullmatch(r"otel-collector-config-[a-z0-9]{10}", config_map["metadata"]["name"])
    assert yaml.safe_load(config_map["data"]["config.yaml"]) == collector_config()
    volumes = pod_template(one(addon, "Deployment"))["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": config_map["metadata"]["name"]}} in volumes


def test_the_collector_runs_restricted(addon: list[Doc]) -> None:
    spec = pod_template(one(addon, "Deployment"))["spec"]
    pod_security = spec["securityContext"]
    assert spec["automountServiceAccountToken"] is False
    assert one(addon, "ServiceAccount")["automountServiceAccountToken"] is False
    assert not {"hostNetwork", "hostPID", "hostIPC"} & set(spec)
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] == 10001  # the image's own user
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = spec["containers"]
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context.get("privileged", False) is False
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert re.fullmatch(r"otel/opentelemetry-collector:\d+\.\d+\.\d+", container["image"])


def test_checkov_passes_on_the_add_on(
    addon: list[Doc], checkov: Path, tmp_path: Path, kubectl: Path, helm: Path
) -> None:
    folder = tmp_path / "addon"
    folder.mkdir()
    wrapper = helm_for_kustomize(helm, tmp_path / "helm")
    (folder / "otel-collector.yaml").write_text(kustomize_text(kubectl, wrapper, ADDON))
    found = run_checkov(checkov, folder).get("otel-collector.yaml", CheckovFindings())
    assert not found.parsing_errors, found.parsing_errors
    assert found.passed, "checkov checked nothing"
    assert [checkov_line(check) for check in found.failed] == []
    for check in found.skipped:
        line = checkov_line(check)
        CHECKOV_SKIPS.setdefault(line, []).append("k8s/addons/otel-collector")
        reason = (check.get("check_result") or {}).get("suppress_comment") or ""
        assert reason.strip(), line
        assert reason != "No comment provided", line


# --- the collector's configuration ---------------------------------------------------------------


def test_every_pipeline_names_components_the_configuration_defines() -> None:
    config = collector_config()
    service = config["service"]
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    assert set(service["pipelines"]) == {"traces"}, "the platform sends traces only"
    for name, pipeline in service["pipelines"].items():
        assert set(pipeline) <= set(used), (name, sorted(pipeline))
        for section in ("receivers", "exporters"):
            assert pipeline.get(section), f"pipeline {name} has no {section}"
        for section, names in used.items():
            for component in pipeline.get(section, []):
                assert component in (config.get(section) or {}), (
                    f"pipeline {name}: {section} {component} is not defined"
                )
                names.add(component)
        processors = pipeline.get("processors", [])
        # memory_limiter first (it refuses data before anything else holds it), batch last.
        assert [component_type(p) for p in processors[:1]] == ["memory_limiter"], name
        assert [component_type(p) for p in processors[-1:]] == ["batch"], name
    for extension in service.get("extensions", []):
        assert extension in (config.get("extensions") or {}), extension
    # Nothing defined and forgotten, except the documented backend placeholder.
    for section, names in used.items():
        unused = set(config.get(section) or {}) - names
        assert unused <= (PLACEHOLDER_EXPORTERS if section == "exporters" else set()), section
    assert set(config.get("extensions") or {}) == set(service.get("extensions", []))
    for section, types in CORE_TYPES.items():
        assert {component_type(n) for n in config.get(section) or {}} <= types, section
    # OTLP over both transports: HTTP for the platform's SDKs, gRPC for everything else.
    assert set(config["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    # A pipeline the placeholder would join must have the same shape: it is a valid exporter.
    assert config["exporters"]["otlp_grpc/backend"]["endpoint"]


def test_the_collector_listens_where_the_service_the_probes_and_the_policy_point(
    addon: list[Doc],
) -> None:
    config = collector_config()
    deployment = one(addon, "Deployment")
    (container,) = pod_template(deployment)["spec"]["containers"]
    ports = container_ports(deployment)
    protocols = config["receivers"]["otlp"]["protocols"]
    assert port_of(protocols["grpc"]["endpoint"]) == ports["otlp-grpc"] == 4317
    assert port_of(protocols["http"]["endpoint"]) == ports["otlp-http"] == 4318
    health = port_of(config["extensions"]["health_check"]["endpoint"])
    assert health == ports["health"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == "health", probe
    # Every ${env:X} of the configuration is set on the container; MY_POD_IP is the pod's own.
    env = {variable["name"]: variable for variable in container["env"]}
    referenced = {m for s in walk_strings(config) for m in ENV_REFERENCE.findall(s)}
    assert referenced <= set(env), referenced - set(env)
    assert env["MY_POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert "--config=/conf/config.yaml" in container["args"]
    (mount,) = container["volumeMounts"]
    assert (mount["mountPath"], mount.get("readOnly")) == ("/conf", True)
    # The Service targets the receivers' ports on the collector's pods.
    service = one(addon, "Service")
    labels = pod_template(deployment)["metadata"]["labels"]
    assert selects({"matchLabels": service["spec"]["selector"]}, labels)
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        "otlp-grpc": (4317, "otlp-grpc"),
        "otlp-http": (4318, "otlp-http"),
    }
    # Its NetworkPolicy selects it, denies by default and opens exactly the receivers' ports.
    policy = one(addon, "NetworkPolicy")["spec"]
    assert selects(policy["podSelector"], labels)
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert sorted(p["port"] for p in ingress["ports"]) == [4317, 4318]
    egress_ports = sorted(
        (port["port"], port["protocol"]) for rule in policy["egress"] for port in rule["ports"]
    )
    assert egress_ports == [(53, "TCP"), (53, "UDP"), (4317, "TCP")]
    assert port_of(env["BACKEND_ENDPOINT"]["value"]) == 4317


def test_otelcol_validates_the_configuration(tmp_path: Path) -> None:
    binary = os.environ.get("OTELCOL") or shutil.which("otelcol") or shutil.which("otelcol-contrib")
    if not binary:
        pytest.skip(
            "no otelcol binary (OTELCOL, or otelcol on PATH): the checks above are structural"
        )
    result = subprocess.run(  # noqa: S603 - the user's collector on our file
        [binary, "validate", f"--config={CONFIG_FILE}"],
        env={**os.environ, "MY_POD_IP": "127.0.0.1", "BACKEND_ENDPOINT": "127.0.0.1:4317"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the dev overlay's wiring --------------------------------------------------------------------


def test_the_dev_overlay_sends_every_app_pods_traces_to_the_collector(dev: list[Doc]) -> None:
    collector = one(dev, "Deployment", "otel-collector")
    collector_labels = pod_template(collector)["metadata"]["labels"]
    service = one(dev, "Service", "otel-collector")
    http_port = next(p for p in service["spec"]["ports"] if p["name"] == "otlp-http")
    (collector_policy,) = [
        d["spec"]
        for d in dev
        if d["kind"] == "NetworkPolicy" and selects(d["spec"]["podSelector"], collector_labels)
    ]
    for component in APP_COMPONENTS:
        deployment = one(dev, "Deployment", f"fastapi-platform-{component}")
        labels = pod_template(deployment)["metadata"]["labels"]
        (container,) = [
            c for c in pod_template(deployment)["spec"]["containers"] if c["name"] == component
        ]
        env = {v["name"]: v.get("value") for v in container["env"]}
        endpoint = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert (endpoint.scheme, endpoint.hostname, endpoint.port) == (
            "http",
            service["metadata"]["name"],  # the Service's short name: same namespace
            http_port["port"],
        ), component
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert env["OTEL_TRACES_SAMPLER_ARG"] == "1", "development keeps every trace"
        assert "OTEL_SDK_DISABLED" not in env
        # The chart's policy of this pod lets it out to the collector's pods on that port ...
        own = [
            d["spec"]
            for d in dev
            if d["kind"] == "NetworkPolicy"
            and d["metadata"]["name"] == f"fastapi-platform-{component}"
        ]
        (policy,) = own
        assert selects(policy["podSelector"], labels)
        assert any(
            {"port": http_port["port"], "protocol": "TCP"} in rule["ports"]
            and any(selects(peer["podSelector"], collector_labels) for peer in rule.get("to", []))
            for rule in policy["egress"]
        ), component
        # ... and the collector's policy lets it in.
        assert any(
            any(selects(peer.get("podSelector", {}), labels) for peer in rule["from"])
            and {"port": http_port["port"], "protocol": "TCP"} in rule["ports"]
            for rule in collector_policy["ingress"]
        ), component
    # The migration Job starts no tracer and is not let in.
    migrations = [d for d in dev if d["kind"] == "Job"]
    for job in migrations:
        labels = pod_template(job)["metadata"]["labels"]
        assert not any(
            selects(peer.get("podSelector", {}), labels)
            for rule in collector_policy["ingress"]
            for peer in rule["from"]
        )


def _is_subset(small: Any, big: Any) -> bool:
    if isinstance(small, dict):
        return isinstance(big, dict) and all(
            key in big and _is_subset(value, big[key]) for key, value in small.items()
        )
    return bool(small == big)


def test_tracing_values_say_what_the_dev_overlay_sets() -> None:
    chart = overlay_chart(OVERLAYS["dev"])
    inline = chart["valuesInline"]
    values = yaml.safe_load(TRACING_VALUES.read_text())
    assert _is_subset(values, inline), (values, inline)
    assert chart.get("valuesMerge", "override") == "override"  # inline values win, deep-merged
    assert "../../addons/otel-collector" in kustomization(OVERLAYS["dev"])["resources"]
    # The prod overlay brings its own collector (the chart's tracing.endpoint), not this one.
    assert "../../addons/otel-collector" not in kustomization(OVERLAYS["prod"])["resources"]
