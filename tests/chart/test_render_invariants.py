"""What the chart promises, checked on its rendered manifests for every ci values file: hooks and
their order, one beat, restricted pods, every Secret key that is referenced exists, every setting
is one the app knows, probes that hit real routes and commands, the connection-budget guard."""

from __future__ import annotations

import base64
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from app.bootstrap import settings as app_settings
from app.bootstrap.cli import _parser
from app.bootstrap.worker.sides import QUEUES
from tests.chart.chart import HelmError

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "fastapi-platform"
GOOD = sorted(p for p in (CHART / "ci").glob("*-values.yaml") if not p.name.startswith("bad-"))
MONITORING = ("monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PodMonitor")
# Env names the chart sets besides the app's settings: standard OpenTelemetry variables, the
# downward-API values they are built from, and prometheus_client's multiprocess directory.
FOREIGN_ENV_PREFIXES = ("OTEL_", "K8S_")
FOREIGN_ENV = {"PROMETHEUS_MULTIPROC_DIR"}
WORKLOADS = {"Deployment", "StatefulSet", "Job", "Pod"}
NAMESPACED_EXCEPTIONS: set[str] = set()

Render = Callable[..., list[dict[str, Any]]]
Doc = dict[str, Any]


def _setting_models() -> list[type[BaseSettings]]:
    return [
        cls
        for cls in vars(app_settings).values()
        if isinstance(cls, type)
        and issubclass(cls, BaseSettings)
        and str(cls.model_config.get("env_prefix", "")).startswith("APP_")
    ]


def known_settings() -> set[str]:
    return {
        f"{model.model_config['env_prefix']}{name}".upper()
        for model in _setting_models()
        for name in model.model_fields
    }


@pytest.fixture(scope="module", params=[p.name for p in GOOD])
def manifests(request: pytest.FixtureRequest, render: Render) -> list[Doc]:
    return render([CHART / "ci" / request.param], api_versions=MONITORING)


def pod_specs(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for doc in docs:
        if doc["kind"] == "Pod":
            yield doc, doc["spec"]
        elif doc["kind"] in WORKLOADS:
            yield doc, doc["spec"]["template"]["spec"]


def containers(spec: Doc) -> list[Doc]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def by_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[Doc], kind: str, suffix: str) -> Doc:
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, f"{kind} *{suffix}: {[d['metadata']['name'] for d in found]}"
    return found[0]


def config_map(docs: list[Doc]) -> dict[str, str]:
    return dict(named(docs, "ConfigMap", "fastapi-platform")["data"])


# --- workloads -------------------------------------------------------------------------------


def test_beat_is_one_replica_replaced_by_recreate(manifests: list[Doc]) -> None:
    beat = named(manifests, "Deployment", "-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert not [h for h in by_kind(manifests, "HorizontalPodAutoscaler") if "beat" in str(h)]


def test_the_schema_has_no_replica_key_for_beat() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    beat = schema["properties"]["beat"]
    assert "replicas" not in beat["properties"]
    assert beat["additionalProperties"] is False


def test_every_pod_is_restricted(manifests: list[Doc]) -> None:
    for doc, spec in pod_specs(manifests):
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        pod_security = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, where
        assert not spec.get("hostNetwork"), where
        assert not spec.get("hostPID"), where
        assert all("hostPath" not in v for v in spec.get("volumes", [])), where
        for container in containers(spec):
            ctx = container["securityContext"]
            name = f"{where}/{container['name']}"
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["capabilities"]["drop"] == ["ALL"], name
            assert ctx.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, name
            seccomp = ctx.get("seccompProfile", pod_security.get("seccompProfile"))
            assert seccomp == {"type": "RuntimeDefault"}, name
            assert ctx.get("privileged", False) is False, name
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert {"memory"} <= set(resources["limits"]), name


def test_the_app_pods_run_as_the_images_user(manifests: list[Doc]) -> None:
    # The Dockerfile creates uid/gid 10001; a different uid would break file permissions.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--uid 10001" in dockerfile
    for doc, spec in pod_specs(manifests):
        if doc["metadata"]["labels"]["app.kubernetes.io/component"] in {
            "postgresql",
            "redis",
            "cache-redis",
        }:
            continue
        assert spec["securityContext"]["runAsUser"] == 10001, doc["metadata"]["name"]


def test_read_only_roots_get_writable_scratch_space(manifests: list[Doc]) -> None:
    for doc, spec in pod_specs(manifests):
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        if component not in {"api", "worker", "beat"}:
            continue
        volumes = {v["name"]: v for v in spec["volumes"]}
        main = spec["containers"][0]
        mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]  # noqa: S108 - the container's path
        env = {e["name"] for e in main.get("env", [])} | set(config_map(manifests))
        assert "PROMETHEUS_MULTIPROC_DIR" in env
        assert "emptyDir" in volumes[mounts[config_map(manifests)["PROMETHEUS_MULTIPROC_DIR"]]]


def test_every_component_has_its_own_service_account(manifests: list[Doc]) -> None:
    accounts = {d["metadata"]["name"] for d in by_kind(manifests, "ServiceAccount")}
    seen: dict[str, str] = {}
    for doc, spec in pod_specs(manifests):
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        if component == "test":
            continue
        account = spec["serviceAccountName"]
        assert account in accounts, (component, account)
        assert seen.setdefault(account, component) == component, account


def test_grace_periods_cover_the_drain(manifests: list[Doc]) -> None:
    data = config_map(manifests)
    api = named(manifests, "Deployment", "-api")["spec"]["template"]["spec"]
    pre_stop = api["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    graceful = int(data["APP_SERVER_GRACEFUL_TIMEOUT"])
    assert api["terminationGracePeriodSeconds"] > pre_stop + graceful
    shutdown = float(data["APP_CELERY_SHUTDOWN_TIMEOUT"])
    for worker in by_kind(manifests, "Deployment"):
        if worker["metadata"]["labels"]["app.kubernetes.io/component"] == "worker":
            assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > shutdown


# --- hooks -------------------------------------------------------------------------------------


def _hook(doc: Doc) -> dict[str, str]:
    annotations = doc["metadata"].get("annotations") or {}
    return {k: str(v) for k, v in annotations.items() if k.startswith("helm.sh/hook")}


def test_no_post_install_hooks(manifests: list[Doc]) -> None:
    # A post-install hook beside pods that wait for it deadlocks `helm install --wait`.
    for doc in manifests:
        assert "post-" not in _hook(doc).get("helm.sh/hook", ""), doc["metadata"]["name"]


def test_migration_hook_and_what_it_reads_come_first(render: Render) -> None:
    docs = render([CHART / "ci" / "minimal-values.yaml"])
    hooks = [d for d in docs if "helm.sh/hook" in _hook(d) and _hook(d)["helm.sh/hook"] != "test"]
    kinds = {d["kind"]: _hook(d) for d in hooks}
    assert set(kinds) == {"ServiceAccount", "Secret", "Job"}
    for kind, hook in kinds.items():
        assert hook["helm.sh/hook"] == "pre-install,pre-upgrade", kind
        assert "before-hook-creation" in hook["helm.sh/hook-delete-policy"], kind
    job_weight = int(kinds["Job"]["helm.sh/hook-weight"])
    assert int(kinds["ServiceAccount"]["helm.sh/hook-weight"]) < job_weight
    assert int(kinds["Secret"]["helm.sh/hook-weight"]) < job_weight
    job = by_kind(docs, "Job")[0]
    assert job["spec"]["backoffLimit"] >= 0
    assert job["spec"]["activeDeadlineSeconds"] > 0
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == by_kind(hooks, "ServiceAccount")[0]["metadata"]["name"]
    secret = by_kind(hooks, "Secret")[0]
    refs = [e["valueFrom"]["secretKeyRef"] for e in pod["containers"][0]["env"] if "valueFrom" in e]
    assert refs == [{"name": secret["metadata"]["name"], "key": "database-url"}]
    assert set(secret["data"]) == {"database-url"}


def test_gitops_mode_renders_a_plain_job_named_after_its_pod_template(render: Render) -> None:
    # A Job's pod template is immutable: a new image or setting must be a new Job, and the same
    # one applied again must be the same Job (GitOps tools re-apply on every sync).
    def job(**values: str) -> Doc:
        docs = render([CHART / "ci" / "gitops-values.yaml"], set_values=values)
        assert not [d for d in docs if _hook(d) and _hook(d)["helm.sh/hook"] != "test"]
        return by_kind(docs, "Job")[0]

    first = job()
    assert re.fullmatch(r"fp-fastapi-platform-migrations-[0-9a-f]{10}", first["metadata"]["name"])
    assert first["spec"]["ttlSecondsAfterFinished"] > 0
    assert job()["metadata"]["name"] == first["metadata"]["name"]
    assert job(**{"global.imageTag": "0.2.0"})["metadata"]["name"] != first["metadata"]["name"]
    assert (
        job(**{"config.APP_LOG_LEVEL": "DEBUG"})["metadata"]["name"] != (first["metadata"]["name"])
    )


def test_a_bundled_database_makes_the_migration_a_plain_job(render: Render) -> None:
    docs = render([CHART / "ci" / "bundled-values.yaml"])
    assert not [d for d in docs if _hook(d) and _hook(d)["helm.sh/hook"] != "test"]


def test_migrations_never_go_through_pgbouncer(render: Render) -> None:
    docs = render([CHART / "ci" / "production-values.yaml"])
    job = by_kind(docs, "Job")[0]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in job["env"]}
    assert "pgbouncer" not in env["APP_DB_URL"].get("value", "")
    assert "APP_DB_TRANSACTION_POOLING" not in env
    api = named(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    api_env = {e["name"]: e for e in api["env"]}
    assert "-pgbouncer:" in api_env["APP_DB_URL"]["value"]
    assert api_env["APP_DB_TRANSACTION_POOLING"]["value"] == "true"


def test_app_pods_wait_for_the_schema_first(manifests: list[Doc]) -> None:
    for doc, spec in pod_specs(manifests):
        if doc["metadata"]["labels"]["app.kubernetes.io/component"] in {"api", "worker", "beat"}:
            init = spec["initContainers"][0]
            assert init["args"][0] == "wait-for-schema"
            assert init["image"] == spec["containers"][0]["image"]


SCHEMA_REVISION = "fastapi-platform.dev/schema-revision"


def test_app_pods_and_the_migration_job_name_the_schema_the_code_needs(
    manifests: list[Doc],
) -> None:
    """What `helm get manifest RELEASE --revision N` shows before a rollback (chapter 16)."""
    expected = yaml.safe_load((CHART / "Chart.yaml").read_text())["annotations"][SCHEMA_REVISION]
    components = set()
    for doc in manifests:
        component = doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        if doc["kind"] == "Deployment" and component in {"api", "worker", "beat"}:
            annotations = doc["spec"]["template"]["metadata"]["annotations"]
        elif doc["kind"] == "Job" and component == "migrations":
            annotations = doc["metadata"]["annotations"]
        else:
            continue
        assert annotations[SCHEMA_REVISION] == expected, doc["metadata"]["name"]
        components.add(component)
    assert components >= {"api", "worker", "beat", "migrations"}, components


# --- configuration ---------------------------------------------------------------------------


def _env_entries(manifests: list[Doc]) -> Iterator[tuple[str, Doc]]:
    for doc, spec in pod_specs(manifests):
        for container in containers(spec):
            for entry in container.get("env", []):
                yield f"{doc['metadata']['name']}/{container['name']}", entry


def load_test_settings() -> set[str]:
    """The LOAD_* variables the locustfile and its journeys read."""
    sources = (ROOT / "loadtests").rglob("*.py")
    return {
        name for path in sources for name in re.findall(r"\"(LOAD_[A-Z_]+)\"", path.read_text())
    }


def command_settings() -> set[str]:
    """APP_* variables a command reads itself (seed-demo's APP_DEMO_PASSWORD, ...)."""
    sources = (ROOT / "app" / "bootstrap").rglob("*.py")
    pattern = r"os\.environ\.get\(\"(APP_[A-Z_]+)\""
    return {name for path in sources for name in re.findall(pattern, path.read_text())}


def test_every_setting_the_chart_sets_is_one_the_app_reads(manifests: list[Doc]) -> None:
    known = known_settings() | command_settings()
    assert "APP_DEMO_PASSWORD" in known
    load_test = load_test_settings()
    assert {"LOAD_PASSWORD", "LOAD_SHAPE", "LOAD_SLO_FILE"} <= load_test
    names = set(config_map(manifests)) | {entry["name"] for _, entry in _env_entries(manifests)}
    for name in names:
        if name.startswith("APP_"):
            assert name in known, f"{name}: no setting of the app reads it"
        elif name.startswith("LOAD_"):
            assert name in load_test, f"{name}: the load test does not read it"
        elif not (name.startswith(FOREIGN_ENV_PREFIXES) or name in FOREIGN_ENV):
            component_env = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "PGDATA"}
            assert name in component_env | {"DB_USER", "DB_PASSWORD"}, name


def test_the_config_schema_lists_every_setting_the_chart_does_not_own() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    settable = set(schema["definitions"]["config"]["properties"])
    template = (CHART / "templates" / "configmap.yaml").read_text()
    reserved_line = next(line for line in template.splitlines() if "$reserved := list" in line)
    reserved = {word.strip('"') for word in reserved_line.split() if word.startswith('"APP_')}
    known = known_settings()
    assert settable <= known, settable - known
    assert not settable & reserved
    # Every setting is either settable through `config` or set by the chart from other values.
    assert known - settable - reserved == set(), known - settable - reserved


def test_every_secret_key_referenced_exists(manifests: list[Doc], render: Render) -> None:
    secrets = {
        d["metadata"]["name"]: set(d.get("data") or {}) for d in by_kind(manifests, "Secret")
    }
    for where, entry in _env_entries(manifests):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref is None or ref["name"] not in secrets:
            continue  # an existingSecret: the user's to provide
        assert ref["key"] in secrets[ref["name"]] or ref.get("optional"), (where, ref)


def test_external_secret_references_use_the_configured_names_and_keys(render: Render) -> None:
    values = yaml.safe_load((CHART / "ci" / "external-values.yaml").read_text())
    docs = render([CHART / "ci" / "external-values.yaml"])
    api = named(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in api["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    db, redis, auth = values["externalDatabase"], values["externalRedis"], values["auth"]
    assert refs["APP_DB_PASSWORD"] == {
        "name": db["existingSecret"],
        "key": db["existingSecretPasswordKey"],
    }
    assert refs["APP_REDIS_URL"] == {
        "name": redis["existingSecret"],
        "key": redis["existingSecretUrlKey"],
    }
    assert refs["APP_AUTH_JWT_SECRET"] == {
        "name": auth["existingSecret"],
        "key": auth["existingSecretKey"],
    }
    assert refs["APP_CELERY_BROKER_URL"]["key"] == values["externalBroker"]["existingSecretUrlKey"]
    assert refs["APP_SMTP_PASSWORD"]["name"] == values["smtp"]["existingSecret"]
    cache = values["cacheRedis"]
    assert refs["APP_CACHE_REDIS_URL"] == {
        "name": cache["existingSecret"],
        "key": cache["existingSecretUrlKey"],
    }
    # The chart's own Secret then holds no credential at all.
    own = named(docs, "Secret", "fastapi-platform")
    assert not own.get("data")


def test_a_changed_setting_or_secret_rolls_the_pods(render: Render) -> None:
    base = [CHART / "ci" / "minimal-values.yaml"]

    def annotations(**values: str) -> dict[str, str]:
        docs = render(base, set_values={"auth.jwtSecret": "x" * 40, **values})
        pod = named(docs, "Deployment", "-api")["spec"]["template"]["metadata"]
        return {k: v for k, v in pod["annotations"].items() if k.startswith("checksum/")}

    first = annotations()
    assert annotations() == first
    assert (
        annotations(**{"config.APP_LOG_LEVEL": "DEBUG"})["checksum/config"]
        != (first["checksum/config"])
    )
    assert (
        annotations(**{"auth.jwtSecret": "y" * 40})["checksum/secret"] != (first["checksum/secret"])
    )


def test_app_version_follows_the_project_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"]
    assert chart["apiVersion"] == "v2"
    assert chart["kubeVersion"] == ">=1.30.0-0"
    assert "dependencies" not in chart


# --- probes, commands, ports ------------------------------------------------------------------


def _cli_commands() -> set[str]:
    parser = _parser()
    actions = [a for a in parser._actions if a.dest == "command"]
    return set(actions[0].choices or {})


def test_containers_run_commands_the_cli_has(manifests: list[Doc]) -> None:
    commands = _cli_commands()
    for doc, spec in pod_specs(manifests):
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        if component not in {"api", "worker", "beat", "migrations"}:
            continue
        for container in containers(spec):
            assert container["args"][0] in commands, (doc["metadata"]["name"], container["args"])
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            exec_ = spec["containers"][0].get(probe, {}).get("exec")
            if exec_:
                assert exec_["command"][:3] == ["/opt/venv/bin/python", "-m", "app"]
                assert exec_["command"][3] in commands


def test_probes_hit_the_apps_routes_on_its_port(manifests: list[Doc]) -> None:
    from app.bootstrap.health import router  # noqa: PLC0415

    routes = {route.path for route in router.routes}  # type: ignore[attr-defined]
    data = config_map(manifests)
    api = named(manifests, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert ports["http"] == int(data["APP_SERVER_PORT"])
    assert ports["metrics"] == int(data["APP_SERVER_METRICS_PORT"])
    assert api["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert api[probe]["httpGet"]["path"] in routes
    for worker in by_kind(manifests, "Deployment"):
        if worker["metadata"]["labels"]["app.kubernetes.io/component"] == "worker":
            container = worker["spec"]["template"]["spec"]["containers"][0]
            metrics = {p["name"]: p["containerPort"] for p in container["ports"]}["metrics"]
            assert metrics == int(data["APP_CELERY_METRICS_PORT"])


def test_monitors_scrape_named_ports_that_exist(render: Render) -> None:
    docs = render([CHART / "ci" / "gitops-values.yaml"])
    service_monitor = by_kind(docs, "ServiceMonitor")[0]
    assert service_monitor["spec"]["endpoints"][0] == {
        **service_monitor["spec"]["endpoints"][0],
        "port": "metrics",
        "path": "/metrics",
    }
    # Its port is on a ClusterIP Service of its own, whatever the main Service's type.
    metrics_service = named(docs, "Service", "-api-metrics")
    assert metrics_service["spec"]["type"] == "ClusterIP"
    assert [p["name"] for p in metrics_service["spec"]["ports"]] == ["metrics"]
    main = named(docs, "Service", "-api")
    assert [p["name"] for p in main["spec"]["ports"]] == ["http"]
    pod_monitor = by_kind(docs, "PodMonitor")[0]
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"


def test_monitors_need_the_api_or_force(render: Render) -> None:
    values = {"metrics.serviceMonitor.enabled": "true", "metrics.podMonitor.enabled": "true"}
    docs = render([CHART / "ci" / "minimal-values.yaml"], set_values=values)
    assert not by_kind(docs, "ServiceMonitor")
    assert not by_kind(docs, "PodMonitor")
    docs = render(
        [CHART / "ci" / "minimal-values.yaml"], set_values=values, api_versions=MONITORING
    )
    assert by_kind(docs, "ServiceMonitor")
    assert by_kind(docs, "PodMonitor")


def test_workers_consume_every_queue_the_app_routes_to(manifests: list[Doc]) -> None:
    consumed: list[str] = []
    for worker in by_kind(manifests, "Deployment"):
        if worker["metadata"]["labels"]["app.kubernetes.io/component"] == "worker":
            args = worker["spec"]["template"]["spec"]["containers"][0]["args"]
            consumed += args[args.index("--queues") + 1].split(",")
    assert sorted(consumed) == sorted(QUEUES)


def test_keda_scales_worker_groups_on_their_own_queues(render: Render) -> None:
    docs = render([CHART / "ci" / "autoscaling-values.yaml"])
    scaled = {d["metadata"]["name"]: d for d in by_kind(docs, "ScaledObject")}
    assert set(scaled) == {"fp-fastapi-platform-worker-exports", "fp-fastapi-platform-worker-main"}
    exports = scaled["fp-fastapi-platform-worker-exports"]["spec"]
    assert [t["metadata"]["listName"] for t in exports["triggers"]] == ["exports"]
    assert exports["scaleTargetRef"]["name"] == "fp-fastapi-platform-worker-exports"
    assert not [h for h in by_kind(docs, "HorizontalPodAutoscaler") if "worker" in str(h)]


# --- labels, namespaces ----------------------------------------------------------------------


def test_labels_come_from_one_helper_and_selectors_stay_minimal(manifests: list[Doc]) -> None:
    standard = {
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/version",
        "app.kubernetes.io/component",
        "app.kubernetes.io/part-of",
        "app.kubernetes.io/managed-by",
        "helm.sh/chart",
    }
    for doc in manifests:
        assert standard <= set(doc["metadata"]["labels"]), doc["metadata"]["name"]
        if doc["kind"] in {"Deployment", "StatefulSet"}:
            selector = set(doc["spec"]["selector"]["matchLabels"])
            assert selector - {"fastapi-platform.dev/worker-group"} == {
                "app.kubernetes.io/name",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/component",
            }


def test_every_object_names_its_namespace(manifests: list[Doc]) -> None:
    for doc in manifests:
        assert doc["metadata"].get("namespace") == "fastapi-platform", doc["metadata"]["name"]


def test_network_policies_deny_by_default(manifests: list[Doc]) -> None:
    deny = named(manifests, "NetworkPolicy", "-default-deny")["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny
    assert "egress" not in deny
    api = named(manifests, "NetworkPolicy", "-api")["spec"]
    peers = {p["port"]: rule["from"] for rule in api["ingress"] for p in rule["ports"]}
    assert set(peers) == {"http", "metrics"}
    # The metrics port has its own, narrower peers (the monitoring namespace), never the API's.
    assert peers["metrics"]
    assert peers["metrics"] != peers["http"]


def test_every_pod_has_a_policy_of_its_own_beside_the_default_deny(manifests: list[Doc]) -> None:
    # Under the default deny, a pod no other policy selects can reach nothing, not even DNS.
    policies = [
        p["spec"]["podSelector"]["matchLabels"]
        for p in by_kind(manifests, "NetworkPolicy")
        if not p["metadata"]["name"].endswith("-default-deny")
    ]
    for doc, _ in pod_specs(manifests):
        template = doc if doc["kind"] == "Pod" else doc["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert any(sel.items() <= labels.items() for sel in policies), doc["metadata"]["name"]


# --- the connection budget ----------------------------------------------------------------------


def _budget(docs: list[Doc]) -> int:
    """What the chart's guard computes, recomputed from the rendered objects."""
    data = config_map(docs)
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind(docs, "HorizontalPodAutoscaler")
    }
    total = 1  # the migration
    for deployment in by_kind(docs, "Deployment"):
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        if component not in {"api", "worker"}:
            continue  # beat only sends tasks: it holds no database connection
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        pool = int(env.get("APP_DB_POOL_SIZE") or data["APP_DB_POOL_SIZE"]) + int(
            env.get("APP_DB_MAX_OVERFLOW") or data["APP_DB_MAX_OVERFLOW"]
        )
        name = deployment["metadata"]["name"]
        replicas = (
            hpas[name]["spec"]["maxReplicas"] if name in hpas else deployment["spec"]["replicas"]
        )
        if component == "api":
            processes = int(data["APP_SERVER_WORKERS"])
        else:  # each prefork child, and the parent
            processes = int(container["args"][container["args"].index("--concurrency") + 1]) + 1
        total += replicas * processes * pool
    return total


def test_the_connection_budget_guard_sits_exactly_at_the_limit(render: Render) -> None:
    base = [CHART / "ci" / "minimal-values.yaml"]
    budget = _budget(render(base))
    reserved = 5
    exact = {"externalDatabase.maxConnections": str(budget + reserved)}
    assert render(base, set_values=exact)  # fits exactly
    short = {"externalDatabase.maxConnections": str(budget + reserved - 1)}
    with pytest.raises(HelmError, match=f"may open {budget} PostgreSQL connections"):
        render(base, set_values=short)


def test_pgbouncer_moves_the_budget_to_its_own_limits(render: Render) -> None:
    docs = render([CHART / "ci" / "production-values.yaml"])
    assert _budget(docs) > 200  # more than the database's max_connections...
    ini = named(docs, "ConfigMap", "-pgbouncer")["data"]["pgbouncer.ini"]
    assert "pool_mode = transaction" in ini  # ...which PgBouncer's few server connections fit


def test_composed_urls_keep_any_password(render: Render) -> None:
    # urlquery is form encoding (a space becomes "+"); a URL's user info must say %20.
    password = "a p@ss/w+rd:%"
    docs = render(
        ["minimal-values.yaml"],
        set_values={
            "externalDatabase.url": "",
            "externalDatabase.host": "db.internal",
            "externalDatabase.password": password,
            "pgbouncer.enabled": "true",
        },
    )
    data = named(docs, "Secret", "fastapi-platform")["data"]
    for key in ("database-url", "database-url-pooled"):
        url = make_url(base64.b64decode(data[key]).decode())
        assert url.password == password, key


# Objects whose fields are Kubernetes' own (passed through as they are), not the chart's.
KUBERNETES_OBJECTS = {"podSecurityContext", "securityContext", "affinity", "items"}


def test_every_object_the_chart_owns_refuses_unknown_keys() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    loose: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            owned = path.rsplit(".", 1)[-1] not in KUBERNETES_OBJECTS
            is_object = node.get("type") == "object" and "$ref" not in node
            if owned and is_object and "additionalProperties" not in node:
                loose.append(path)
            for key, child in node.items():
                walk(child, f"{path}.{key}")

    walk(schema, "")
    assert schema["additionalProperties"] is False
    assert loose == []


def _redis_command(docs: list[Doc], suffix: str) -> list[str]:
    statefulset = named(docs, "StatefulSet", suffix)
    return [
        str(part) for part in statefulset["spec"]["template"]["spec"]["containers"][0]["command"]
    ]


def test_the_cache_can_have_a_redis_of_its_own_that_evicts_while_the_apps_never_does(
    render: Render,
) -> None:
    # Security review, finding 2: sessions and limits must not be evicted to make room for the
    # cache, and the cache must not fill the Redis that holds them.
    docs = render([CHART / "ci" / "bundled-values.yaml"])
    main = _redis_command(docs, "-fastapi-platform-redis")
    assert main[main.index("--maxmemory-policy") + 1] == "noeviction"
    cache = _redis_command(docs, "-cache-redis")
    assert cache[cache.index("--maxmemory-policy") + 1] == "volatile-lru"  # never the versions
    assert cache[cache.index("--maxmemory") + 1] == "64mb"
    service = named(docs, "Service", "-cache-redis")["metadata"]["name"]
    for deployment in by_kind(docs, "Deployment"):
        env = {
            e["name"]: e.get("value")
            for e in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
        }
        if "APP_REDIS_URL" in env:
            assert env["APP_CACHE_REDIS_URL"] == f"redis://{service}:6379/0", deployment
    # An external one by URL is kept in the chart's Secret, not in the pod spec.
    docs = render(
        [CHART / "ci" / "minimal-values.yaml"],
        set_values={"cacheRedis.url": "redis://:pw@cache.example.internal:6379/0"},
    )
    api = named(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    [entry] = [e for e in api["env"] if e["name"] == "APP_CACHE_REDIS_URL"]
    assert entry["valueFrom"]["secretKeyRef"]["key"] == "cache-redis-url"
    secret = named(docs, "Secret", "fastapi-platform")
    assert "cache-redis-url" in secret["data"]
    # Off (the default): the cache shares the application's Redis.
    docs = render([CHART / "ci" / "minimal-values.yaml"])
    api = named(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    assert "APP_CACHE_REDIS_URL" not in {e["name"] for e in api["env"]}
