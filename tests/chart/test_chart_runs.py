"""The chart's own rendered pods, run by podman (`podman kube play`) against the host's PostgreSQL,
Redis and an SMTP sink: the migration completes first, the api pod passes its rendered readiness
probe, a real sign-up, log-in and order goes through it, the worker pod mails the confirmation,
beat schedules, the `helm test` pod passes, and every pod stops on SIGTERM with exit 0.

The pods run as rendered: user, read-only root, volumes, command, args, env, probes. What the test
changes in its copy, and why (podman 4.3 is not a cluster):
- every pod gets `hostNetwork: true`: there is no cluster network, and the services are on the
  host's loopback (each component gets a free port through the chart's own values); the
  containers' `ports` lists go, as podman turns them into port mappings that a host network
  refuses (in Kubernetes they only name the ports; the probes still resolve against them);
- Secret documents become ConfigMaps named "<secret>-secret" and each `secretKeyRef` a
  `configMapKeyRef` to that name with the same key: this podman cannot read Secret documents
  ("secret ... is not valid JSON");
- downward-API fields this podman does not support (`metadata.namespace`, `spec.nodeName`) get
  the values a cluster would give;
- init containers are marked "always" (a podman annotation): with its default, "once", this
  podman tries to remove the init container before it has seen it exit, and fails;
- each pod's emptyDir volumes get the pod's name in theirs, so that no two pods can share one
  podman volume (in Kubernetes an emptyDir belongs to its pod);
- the Jobs' pod templates run as Pods (this podman ignores Job documents), the load test's
  worker Job as one Pod per worker;
- a Service's name in a container's arguments becomes 127.0.0.1 (there is no cluster DNS; the
  test gives each Service the port of the pods behind it);
- objects a single host has no use for are left out (Services, NetworkPolicies, autoscalers,
  disruption budgets, ServiceAccounts); the test pod's base URL is the api pod's address, since
  there is no Service in front of it.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.bootstrap.devtools.smtp_sink import start_sink
from tests.images.build import (
    PASSWORD,
    Images,
    Services,
    a_customer_orders,
    build_images,
    host_services,
    wait_for,
)
from tests.support.mail import Mailbox
from tests.support.ports import free_ports

# Building the images (cached after `make images-test`) and starting the pods take minutes.
pytestmark = pytest.mark.timeout(1200)

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "fastapi-platform"
VALUES = CHART / "ci" / "podman-values.yaml"
LEFT_OUT = {
    "Service",
    "NetworkPolicy",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "ServiceAccount",
    "ServiceMonitor",
    "PodMonitor",
    "Ingress",
}

# podman 4.3 removes a "once" init container (its default) before it has seen it exit, and fails.
INIT_CONTAINER_TYPE = "io.podman.annotations.init.container.type"
# Downward-API fields this podman cannot fill: the values a cluster would give.
UNSUPPORTED_FIELDS = {"metadata.namespace": "fastapi-platform", "spec.nodeName": "podman-host"}

Doc = dict[str, Any]
Render = Callable[..., list[Doc]]


def _log(message: str) -> None:
    print(f"[chart-run] {message}", flush=True)  # noqa: T201


def _pod_spec(doc: Doc) -> Doc:
    spec: Doc = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
    return spec


def _for_podman(doc: Doc, services: set[str]) -> Doc:
    """The test's copy of one rendered object, changed only as the module docstring says."""
    doc = copy.deepcopy(doc)
    if doc["kind"] == "Secret":
        data = {k: _b64decode(v) for k, v in (doc.get("data") or {}).items()}
        metadata = {**doc["metadata"], "name": _as_config_map(doc["metadata"]["name"])}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
    if doc["kind"] == "Job":
        template = doc["spec"]["template"]
        doc = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {**template["metadata"], "name": doc["metadata"]["name"]},
            "spec": template["spec"],
        }
    if doc["kind"] not in {"Deployment", "Pod"}:
        return doc
    spec = _pod_spec(doc)
    spec["hostNetwork"] = True
    _own_empty_dirs(spec, doc["metadata"]["name"])
    if spec.get("initContainers"):
        # podman 4.3 reads a Deployment's annotations from the Deployment, not its pod template.
        doc["metadata"].setdefault("annotations", {})[INIT_CONTAINER_TYPE] = "always"
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        container.pop("ports", None)
        container["args"] = [_on_loopback(arg, services) for arg in container.get("args", [])]
        for entry in container.get("env", []):
            source = entry.get("valueFrom", {})
            field = source.get("fieldRef", {}).get("fieldPath")
            if field in UNSUPPORTED_FIELDS:
                entry.pop("valueFrom")
                entry["value"] = UNSUPPORTED_FIELDS[field]
            if "secretKeyRef" in source:
                reference = source.pop("secretKeyRef")
                source["configMapKeyRef"] = {**reference, "name": _as_config_map(reference["name"])}
    return doc


def _own_empty_dirs(spec: Doc, owner: str) -> None:
    """One pod's emptyDirs are its own, as in Kubernetes: under one name the api, worker and beat
    pods could share a podman volume, and the worker's start would empty the api's Prometheus
    files."""
    for volume in list(spec.get("volumes", [])):
        if "emptyDir" in volume:
            _rename_volume(spec, volume["name"], f"{owner}-{volume['name']}")


def _rename_volume(spec: Doc, old: str, new: str) -> None:
    for volume in spec.get("volumes", []):
        if volume["name"] == old:
            volume["name"] = new
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        for mount in container.get("volumeMounts", []):
            if mount["name"] == old:
                mount["name"] = new


def _on_loopback(arg: str, services: set[str]) -> str:
    for service in services:
        arg = re.sub(rf"(?<![\w.-]){re.escape(service)}(?=:|$)", "127.0.0.1", arg)
    return arg


def _as_config_map(secret: str) -> str:
    # A Secret may share its name with a ConfigMap (the chart's both are "<fullname>").
    return f"{secret}-secret"


def _b64decode(value: str) -> str:
    import base64  # noqa: PLC0415

    return base64.b64decode(value).decode()


@dataclass
class Played:
    images: Images
    files: list[Path]

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> Any:
        return self.images.engine.run(*args, check=check, timeout=timeout)

    def play(self, docs: list[Doc], path: Path) -> None:
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        self.files.append(path)
        self.run("kube", "play", str(path), timeout=300)

    def container(self, pod: str, name: str) -> str:
        listing = self.run(
            "ps", "--all", "--filter", f"pod={pod}", "--format", "{{.Names}}"
        ).stdout.split()
        matches: list[str] = [c for c in listing if c.endswith(f"-{name}")]
        assert matches, f"no container {name} in pod {pod}: {listing}"
        return matches[0]

    def state(self, container: str) -> dict[str, Any]:
        out = self.run("inspect", "--format", "{{json .State}}", container).stdout
        state: dict[str, Any] = json.loads(out)
        return state

    def logs(self, container: str) -> str:
        result = self.run("logs", container, check=False)
        return str(result.stdout + result.stderr)

    def down(self) -> None:
        for path in reversed(self.files):
            self.run("kube", "down", str(path), check=False, timeout=120)


@dataclass
class Platform:
    played: Played
    rendered: list[Doc]
    copies: list[Doc]  # what podman plays, as _for_podman changed them
    services: Services
    mailbox: Mailbox
    api_port: int
    api_metrics_port: int
    pods: dict[str, str]  # component -> podman pod name
    work: Path
    load_test_workers: int

    def workload(self, component: str) -> Doc:
        found = [
            d
            for d in self.rendered
            if d["kind"] in {"Deployment", "Job", "Pod"}
            and d["metadata"]["labels"]["app.kubernetes.io/component"] == component
        ]
        assert len(found) == 1, component
        return found[0]

    def main(self, component: str) -> str:
        name = _pod_spec(self.workload(component))["containers"][0]["name"]
        return self.played.container(self.pods[component], name)


@pytest.fixture(scope="module")
def images() -> Images:
    # `kube play` is podman's: docker has no way to run Kubernetes manifests.
    return build_images(podman=True)


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    with host_services("chart") as found:
        yield found


@pytest.fixture(scope="module")
def platform(
    images: Images,
    services: Services,
    render: Render,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    work = tmp_path_factory.mktemp("chart-run")
    smtp_port, api_port, metrics_port, api_metrics_port, locust_port = free_ports(5)
    sink = start_sink("127.0.0.1", smtp_port, work / "mailbox")
    rendered = render(
        [VALUES],
        set_values={
            "externalDatabase.url": services.database_url,
            "externalRedis.url": services.redis_url,
            "config.APP_CELERY_BROKER_DB": str(services.broker_db),
            "auth.jwtSecret": secrets.token_urlsafe(40),
            "api.port": str(api_port),
            "api.service.port": str(api_port),
            "loadtest.masterPort": str(locust_port),
            "api.metricsPort": str(api_metrics_port),
            "worker.metricsPort": str(metrics_port),
            "smtp.port": str(smtp_port),
        },
    )
    service_names = {d["metadata"]["name"] for d in rendered if d["kind"] == "Service"}
    copies = [_for_podman(d, service_names) for d in rendered if d["kind"] not in LEFT_OUT]
    config = [d for d in copies if d["kind"] == "ConfigMap"]
    played = Played(images, [])
    suffix = secrets.token_hex(3)
    pods: dict[str, str] = {}
    for doc in copies:
        if doc["kind"] in {"Deployment", "Pod"}:
            doc["metadata"]["name"] = f"{doc['metadata']['name']}-{suffix}"
    workers = next(d for d in rendered if _load_test_role(d) == "worker")["spec"]["parallelism"]
    try:
        # 1. The migration, alone: what Helm's pre-install hook does before any pod starts.
        migration = next(d for d in copies if d["kind"] == "Pod" and _component(d) == "migrations")
        played.play([*config, migration], work / "migrations.yaml")
        pods["migrations"] = _podman_pod(played, migration)
        migrate = played.container(pods["migrations"], "migrate")
        # Helm waits for the hook Job to complete before it applies anything else.
        wait_for(lambda: not played.state(migrate)["Running"], within=120)
        # 2. api, worker and beat as rendered; their init containers wait for the schema.
        app = [d for d in copies if d["kind"] == "Deployment"]
        played.play([*config, *app], work / "app.yaml")
        for doc in app:
            pods[_component(doc)] = _podman_pod(played, doc)
        yield Platform(
            played,
            rendered,
            copies,
            services,
            Mailbox(smtp_port, work / "mailbox"),
            api_port,
            api_metrics_port,
            pods,
            work,
            workers,
        )
    finally:
        played.down()
        sink.stop()


def _load_test_role(doc: Doc) -> str | None:
    """master or worker for the load test's Jobs (or their Pods), else None."""
    if doc["kind"] == "Job":
        doc = doc["spec"]["template"]
    elif doc["kind"] != "Pod":
        return None
    role: str | None = doc["metadata"]["labels"].get("fastapi-platform.dev/loadtest-role")
    return role


def _component(doc: Doc) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


def _podman_pod(played: Played, doc: Doc) -> str:
    """podman names a Deployment's pod "<name>-pod-0" (4.3) and a Pod by its own name."""
    names = played.run("pod", "ps", "--format", "{{.Name}}").stdout.split()
    name = doc["metadata"]["name"]
    for candidate in (name, f"{name}-pod-0", f"{name}-pod"):
        if candidate in names:
            return candidate
    raise AssertionError(f"no podman pod for {name}: {names}")


def _http_probe(platform: Platform, component: str, probe: str) -> Callable[[], bool]:
    """The rendered probe, resolved against the rendered container's named ports."""
    container = _pod_spec(platform.workload(component))["containers"][0]
    get = container[probe]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    port = ports.get(get["port"], get["port"])
    timeout = container[probe].get("timeoutSeconds", 1)

    def check() -> bool:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}{get['path']}", timeout=timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    return check


def test_the_migration_completes_before_the_app_starts(platform: Platform) -> None:
    played = platform.played
    migrate = played.container(platform.pods["migrations"], "migrate")
    assert wait_for(lambda: not played.state(migrate)["Running"], within=120)
    state = played.state(migrate)
    assert state["ExitCode"] == 0, played.logs(migrate)[-3000:]
    assert "database migrated to head" in played.logs(migrate)


def test_the_api_pod_passes_its_rendered_readiness_probe(platform: Platform) -> None:
    ready = _http_probe(platform, "api", "readinessProbe")
    api = platform.main("api")
    assert wait_for(ready, within=180), platform.played.logs(api)[-3000:]
    assert _http_probe(platform, "api", "livenessProbe")()
    waited = platform.played.container(platform.pods["api"], "wait-for-schema")
    assert platform.played.state(waited)["ExitCode"] == 0


def test_the_api_serves_metrics_on_its_metrics_port_only(platform: Platform) -> None:
    # Security review, finding 9: the http port is the one an Ingress routes.
    api = f"http://127.0.0.1:{platform.api_port}"
    assert wait_for(lambda: _get(f"{api}/health/live") == 200, within=180)
    assert _get(f"{api}/metrics") == 404
    metrics = f"http://127.0.0.1:{platform.api_metrics_port}/metrics"
    scraped = httpx.get(metrics, timeout=5)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    # Every HTTP series is labelled, so none exists before a worker has served a request: the
    # requests above must show up, merged from the workers' files by gunicorn's master.
    counted = 'http_requests_total{method="GET",route="/health/live",status="200"}'
    assert wait_for(lambda: counted in httpx.get(metrics, timeout=5).text, within=30), httpx.get(
        metrics, timeout=5
    ).text[-2000:]


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return 0


def test_pods_run_as_rendered_non_root_on_a_read_only_root(platform: Platform) -> None:
    assert wait_for(_http_probe(platform, "api", "readinessProbe"), within=180)
    for component in ("api", "worker", "beat"):
        container = platform.main(component)
        spec = _pod_spec(platform.workload(component))
        uid = spec["securityContext"]["runAsUser"]
        out = platform.played.run(
            "exec", container, "/opt/venv/bin/python", "-c",
            "import os; print(os.getuid(), os.getgid(), "
            "next(l.split()[3] for l in open('/proc/mounts') if l.split()[1] == '/'))",
        ).stdout.split()  # fmt: skip
        assert out[:2] == [str(uid), str(spec["securityContext"]["runAsGroup"])], component
        assert out[2].split(",")[0] == "ro", (component, out)


def test_an_order_goes_through_the_api_pod_and_the_worker_pod_mails_it(
    platform: Platform,
) -> None:
    assert wait_for(_http_probe(platform, "api", "readinessProbe"), within=180)
    api = platform.main("api")
    created = platform.played.run(
        "exec", "--env", f"APP_SUPER_ADMIN_PASSWORD={PASSWORD}", api,
        "/opt/venv/bin/python", "-m", "app", "create-super-admin",
        "--username", "root", "--email", "root@example.com", check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr[-3000:]
    order_id = a_customer_orders(f"http://127.0.0.1:{platform.api_port}")
    worker = platform.main("worker")
    assert wait_for(lambda: len(platform.mailbox.messages()) >= 1, within=60), platform.played.logs(
        worker
    )[-3000:]
    message: EmailMessage = platform.mailbox.messages()[0]
    assert message["To"] == "buyer@example.com"
    assert order_id in str(message.get_body(preferencelist=("plain",)))


def test_beat_schedules_and_the_worker_passes_its_rendered_probe(platform: Platform) -> None:
    beat, worker = platform.main("beat"), platform.main("worker")
    assert wait_for(lambda: "relay-outbox" in platform.played.logs(beat), within=60), (
        platform.played.logs(beat)[-3000:]
    )
    assert wait_for(lambda: "platform.relay_outbox" in platform.played.logs(worker), within=60)
    probe = _pod_spec(platform.workload("worker"))["containers"][0]["livenessProbe"]["exec"]
    result = platform.played.run("exec", worker, *probe["command"], check=False)
    assert result.returncode == 0, result.stderr


def test_the_helm_test_pod_passes(platform: Platform) -> None:
    assert wait_for(_http_probe(platform, "api", "readinessProbe"), within=180)
    test_pod = next(d for d in platform.rendered if d["kind"] == "Pod" and _component(d) == "test")
    container = _pod_spec(test_pod)["containers"][0]
    command = [*container["command"][:-1], f"http://127.0.0.1:{platform.api_port}"]
    result = platform.played.run(
        "run", "--rm", "--network", "host", "--read-only",
        "--user", str(test_pod["spec"]["securityContext"]["runAsUser"]),
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--entrypoint", command[0], container["image"], *command[1:], check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/health/ready 200" in result.stdout


def test_the_charts_load_test_seeds_runs_every_journey_and_passes_its_gate(
    platform: Platform,
) -> None:
    """The master Job seeds (after the schema), waits for the api, and takes the workers; they
    run every journey through the api pod; the gate (the chart's slo ConfigMap) passes."""
    assert wait_for(_http_probe(platform, "api", "readinessProbe"), within=180)
    played = platform.played
    config = [d for d in platform.copies if d["kind"] == "ConfigMap"]
    master = next(d for d in platform.copies if _load_test_role(d) == "master")
    template = next(d for d in platform.copies if _load_test_role(d) == "worker")
    workers = []
    for number in range(platform.load_test_workers):
        worker = copy.deepcopy(template)
        worker["metadata"]["name"] = f"{template['metadata']['name']}-{number}"
        workers.append(worker)
    played.play([*config, master, *workers], platform.work / "loadtest.yaml")
    pod = _podman_pod(played, master)
    locust = played.container(pod, "locust")
    assert wait_for(lambda: _finished(played, locust), within=300), played.logs(locust)[-3000:]
    logs = played.logs(locust)
    seed = played.logs(played.container(pod, "seed"))
    assert played.state(locust)["ExitCode"] == 0, seed[-1500:] + logs[-4000:]
    assert "shopper0001 to shopper0004" in seed
    assert "every request group within its limits" in logs
    assert "/etc/loadtest/slo.toml" in logs  # the chart's limits, not the image's file
    for journey in ("POST /api/v1/orders", "GET /api/v1/products/{id}", "POST /api/v1/auth/login"):
        assert journey in logs, journey
    for worker in workers:
        container = played.container(_podman_pod(played, worker), "locust")
        assert wait_for(lambda c=container: _finished(played, c), within=60)  # type: ignore[misc]
        assert played.state(container)["ExitCode"] == 0, played.logs(container)[-3000:]


def _finished(played: Played, container: str) -> bool:
    return not played.state(container)["Running"]


def test_every_pod_stops_on_sigterm_with_exit_0_inside_its_grace_period(
    platform: Platform,
) -> None:
    stopped: dict[str, float] = {}
    for component in ("api", "worker", "beat"):
        container = platform.main(component)
        grace = _pod_spec(platform.workload(component))["terminationGracePeriodSeconds"]
        started = time.monotonic()
        platform.played.run("stop", "--time", str(grace), container, timeout=grace + 30)
        stopped[component] = time.monotonic() - started
        state = platform.played.state(container)
        assert state["ExitCode"] == 0, (component, platform.played.logs(container)[-3000:])
        assert stopped[component] < grace, (component, stopped[component])
    _log("SIGTERM to exit: " + ", ".join(f"{c} {s:.1f}s" for c, s in stopped.items()))
