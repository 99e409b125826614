"""skaffold.yaml and the kustomize bases in k8s/ against the chart, the Dockerfile and each other:

- skaffold.yaml, and the configuration each of its profiles makes, validate against skaffold's
  v4beta14 JSON schema (schemas/skaffold/);
- each artifact builds a target the Dockerfile has, under the chart's default repository, and
  feeds the release's image values through skaffold's IMAGE_REPO_/IMAGE_TAG_ templates;
- every chart value skaffold, its profiles' values files and the overlays set is a key of the
  chart's values.schema.json;
- the chart renders with what skaffold passes (example repositories and tags for the templates)
  and with each overlay's values file, and every object validates (kubernetes-validate --strict,
  custom resources against their CRD schema); the port-forward names the api Service it renders;
- ``kubectl kustomize --enable-helm`` builds every overlay: strict validation, everything in the
  namespace fastapi-platform, whose Pod Security Admission labels say restricted;
- the kind cluster publishes the node port the dev overlay gives the api, and the file sync puts
  app/ where the Dockerfile does (/srv/app).
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Final

import pytest
import yaml

from tests.chart import tools
from tests.chart.chart import (
    DEFAULT_KUBE_VERSION,
    Helm,
    crd_schema,
    describe,
    in_tools_venv,
    run_kubernetes_validate,
    validate_custom_resources,
)
from tests.chart.kustomize import helm_for_kustomize, kustomize_build

ROOT: Final = tools.ROOT
SKAFFOLD: Final = ROOT / "skaffold.yaml"
SKAFFOLD_SCHEMA: Final = Path(__file__).parent / "schemas" / "skaffold" / "skaffold-v4beta14.json"
DOCKERFILE: Final = ROOT / "Dockerfile"
K8S: Final = ROOT / "k8s"
BASE: Final = K8S / "base"
OVERLAYS: Final = {"dev": K8S / "overlays" / "dev", "prod": K8S / "overlays" / "prod"}
KIND_CONFIG: Final = K8S / "kind" / "kind-config.yaml"
NAMESPACE: Final = "fastapi-platform"
KUBE_VERSION: Final = DEFAULT_KUBE_VERSION  # 1.33.0
MONITORING: Final = (
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
)
# Chart component -> the Dockerfile target (and skaffold artifact) of its image.
IMAGE_TARGETS: Final = {"api": "api", "worker": "worker", "beat": "beat", "migrations": "migrate"}
APP_COMPONENTS: Final = set(IMAGE_TARGETS)
# The `loadtest` profile's fifth image; the load test's seeding runs the migrations image.
PROFILE_TARGETS: Final = {"loadtest": {"loadtest": "loadtest"}}
SEEDING_CONTAINERS: Final = {"wait-for-schema", "seed"}
CLUSTER_SCOPED: Final = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass"}
PSA_MODES: Final = ("enforce", "audit", "warn")
TEMPLATE: Final = re.compile(r"\{\{\s*\.(IMAGE_[A-Z_]+?)_([A-Za-z0-9_]+)\s*\}\}")
FROM_AS: Final = re.compile(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)

Doc = dict[str, Any]


# --- helpers ---------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def skaffold() -> Doc:
    config: Doc = load_yaml(SKAFFOLD)
    return config


def profile_names() -> list[str]:
    return [profile["name"] for profile in skaffold().get("profiles", [])]


def _pointer(path: str) -> list[str]:
    assert path.startswith("/"), path
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def apply_json_patch(document: Doc, patches: list[Doc]) -> Doc:
    """skaffold's profile patches (JSON patch: add, replace, remove) on a copy of the config."""
    result = copy.deepcopy(document)
    for patch in patches:
        op = patch.get("op", "replace")  # skaffold's default
        *parents, last = _pointer(patch["path"])
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            if op == "add":
                node.insert(index, copy.deepcopy(patch["value"]))
            elif op == "replace":
                node[index] = copy.deepcopy(patch["value"])
            elif op == "remove":
                del node[index]
            else:
                raise AssertionError(f"JSON patch op {op!r} is not handled by this test")
        elif op in {"add", "replace"}:
            assert op == "add" or last in node, f"replace of a missing {patch['path']}"
            node[last] = copy.deepcopy(patch["value"])
        elif op == "remove":
            del node[last]
        else:
            raise AssertionError(f"JSON patch op {op!r} is not handled by this test")
    return result


def effective(profiles: tuple[str, ...] = ()) -> Doc:
    """The configuration skaffold runs with ``-p`` the profiles, in order (their patches; these
    profiles replace no whole section)."""
    config = skaffold()
    by_name = {profile["name"]: profile for profile in config.get("profiles", [])}
    result = {key: value for key, value in config.items() if key != "profiles"}
    for name in profiles:
        profile = by_name[name]
        assert set(profile) <= {"name", "patches", "activation"}, (
            f"profile {name}: only patches are expected ({sorted(profile)})"
        )
        result = apply_json_patch(result, profile.get("patches", []))
    return result


def release(config: Doc) -> Doc:
    releases = config["deploy"]["helm"]["releases"]
    assert len(releases) == 1, "one release: the chart"
    found: Doc = releases[0]
    return found


def sanitized(image: str) -> str:
    """skaffold's name of an artifact in setValueTemplates: "/", "-", "." and ":" become "_"."""
    return re.sub(r"[/\-.:]", "_", image)


def example_image(image: str) -> tuple[str, str]:
    """An example of what skaffold's templates give for an artifact (with --default-repo)."""
    return f"registry.example.com/dev/{image}", f"0a1b2c3d-{image.rsplit('-', 1)[-1]}"


def substituted(config: Doc) -> dict[str, str]:
    """The release's setValues and setValueTemplates, templates filled in as skaffold would."""
    artifacts = {sanitized(a["image"]): a["image"] for a in config["build"]["artifacts"]}
    the_release = release(config)

    def fill(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        repository, tag = example_image(artifacts[name])
        return {"IMAGE_REPO": repository, "IMAGE_TAG": tag}[kind]

    # skaffold passes each as `--set key=value`: a YAML true arrives as helm's true.
    values = {
        key: json.dumps(value) if isinstance(value, bool) else str(value)
        for key, value in (the_release.get("setValues") or {}).items()
    }
    for key, value in (the_release.get("setValueTemplates") or {}).items():
        values[key] = TEMPLATE.sub(fill, str(value))
    return values


def dockerfile_targets() -> set[str]:
    return set(FROM_AS.findall(DOCKERFILE.read_text()))


def chart_values() -> Doc:
    values: Doc = load_yaml(ROOT / "charts" / "fastapi-platform" / "values.yaml")
    return values


def values_schema(chart_dir: Path) -> Doc:
    schema: Doc = json.loads((chart_dir / "values.schema.json").read_text())
    return schema


def _resolve(schema: Doc, node: Doc) -> Doc:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def _child(schema: Doc, node: Doc, key: str) -> Doc | None:
    """The schema of ``key`` under ``node``; None when ``node`` does not allow the key."""
    node = _resolve(schema, node)
    properties = node.get("properties") or {}
    if key in properties:
        return _resolve(schema, properties[key])
    extra = node.get("additionalProperties", True)
    if isinstance(extra, dict):
        return _resolve(schema, extra)
    if extra is True and not properties:
        return {}  # a free-form object (annotations, securityContext, ...): anything goes
    return None


def schema_path_errors(schema: Doc, dotted: str) -> list[str]:
    node: Doc | None = schema
    walked: list[str] = []
    for key in dotted.split("."):
        assert node is not None
        node = _child(schema, node, key)
        walked.append(key)
        if node is None:
            return [f"{dotted}: values.schema.json has no {'.'.join(walked)}"]
        if node == {}:
            break
    return []


def values_key_errors(schema: Doc, values: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every key of a values file (nested mappings walked) checked against the schema."""
    errors: list[str] = []
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        found = schema_path_errors(schema, dotted)
        errors += found
        if not found and isinstance(value, dict):
            node: Doc | None = schema
            for part in dotted.split("."):
                node = _child(schema, node, part) if node is not None else None
            if node:  # a free-form object's keys are the user's
                errors += values_key_errors(schema, value, prefix=f"{dotted}.")
    return errors


def kustomization(overlay: Path) -> Doc:
    found: Doc = load_yaml(overlay / "kustomization.yaml")
    return found


def overlay_chart(overlay: Path) -> Doc:
    charts = kustomization(overlay)["helmCharts"]
    assert len(charts) == 1
    found: Doc = charts[0]
    return found


def overlay_values_file(overlay: Path) -> Path:
    return overlay / str(overlay_chart(overlay)["valuesFile"])


def pod_specs(documents: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for document in documents:
        if document["kind"] == "Pod":
            yield document, document["spec"]
        elif document["kind"] in {"Deployment", "StatefulSet", "Job"}:
            yield document, document["spec"]["template"]["spec"]


def component(document: Doc) -> str:
    labels = document["metadata"].get("labels") or {}
    return str(labels.get("app.kubernetes.io/component", ""))


def validation_errors(tools_python: Path, validator: Path, documents: list[Doc]) -> list[str]:
    """kubernetes-validate --strict for built-in kinds, the CRD schemas in schemas/crds/ for
    custom ones (kubernetes-validate only warns about a kind it has no schema for, and exits 0:
    its output is an error here)."""
    custom = [document for document in documents if crd_schema(document)]
    builtin = [document for document in documents if not crd_schema(document)]
    errors = validate_custom_resources(tools_python, custom)
    output = run_kubernetes_validate(validator, builtin, KUBE_VERSION)
    if output:
        errors.append(f"kubernetes-validate -k {KUBE_VERSION} --strict:\n{output}")
    return errors


def helm_for(chart: Helm, config: Doc) -> Helm:
    """The chart fixture's helm with skaffold's release name and namespace."""
    the_release = release(config)
    return dataclasses.replace(chart, release=the_release["name"],
                               namespace=the_release["namespace"])  # fmt: skip


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kustomize_helm(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return helm_for_kustomize(helm, tmp_path_factory.mktemp("kustomize-helm"))


@pytest.fixture(scope="session")
def built(kubectl: Path, kustomize_helm: Path) -> dict[str, list[Doc]]:
    """Every overlay, built once: name -> documents."""
    return {name: kustomize_build(kubectl, kustomize_helm, path) for name, path in OVERLAYS.items()}


# --- skaffold.yaml -----------------------------------------------------------------------------


def test_skaffold_yaml_and_each_profile_validate_against_the_schema(tools_python: Path) -> None:
    config = skaffold()
    assert config["apiVersion"] == "skaffold/v4beta14"
    assert config["kind"] == "Config"
    combinations: list[tuple[str, ...]] = [(), *[(name,) for name in profile_names()]]
    combinations += [("dev", "sync"), ("dev", "ca"), ("external", "ca"), ("dev", "ca", "loadtest")]
    # The schema is strict: a field skaffold does not know fails (else this test proves nothing).
    broken = copy.deepcopy(config)
    broken["deploy"]["helm"]["releases"][0]["valuesFile"] = "typo.yaml"
    items = [{"schema": str(SKAFFOLD_SCHEMA), "document": config}]
    items += [{"schema": str(SKAFFOLD_SCHEMA), "document": effective(c)} for c in combinations]
    items.append({"schema": str(SKAFFOLD_SCHEMA), "document": broken})
    results: list[list[str]] = in_tools_venv(tools_python, "crds", json.dumps(items))
    *good, typo = results
    labels = ["skaffold.yaml", *[f"-p {','.join(c)}" for c in combinations]]
    assert {label: errors for label, errors in zip(labels, good, strict=True) if errors} == {}
    assert typo, "the schema accepted an unknown field (valuesFile)"


@pytest.mark.parametrize("profile", ["", *PROFILE_TARGETS])
def test_every_artifact_builds_a_dockerfile_target_under_the_charts_repository(
    profile: str,
) -> None:
    artifacts = effective((profile,) if profile else ())["build"]["artifacts"]
    image_targets = {**IMAGE_TARGETS, **PROFILE_TARGETS.get(profile, {})}
    targets = dockerfile_targets()
    values = chart_values()
    assert {a["docker"]["target"] for a in artifacts} == set(image_targets.values())
    for artifact in artifacts:
        docker = artifact["docker"]
        assert docker["target"] in targets, (
            f"{artifact['image']}: no `FROM ... AS {docker['target']}`"
        )
        assert (ROOT / artifact.get("context", ".") / docker.get("dockerfile", "Dockerfile")) == (
            DOCKERFILE
        )
    for name, target in image_targets.items():
        repository = values[name]["image"]["repository"]
        matching = [a for a in artifacts if a["docker"]["target"] == target]
        assert [a["image"] for a in matching] == [repository], (name, target)


@pytest.mark.parametrize("profile", ["", *PROFILE_TARGETS])
def test_every_artifact_feeds_the_releases_image_values(profile: str) -> None:
    config = effective((profile,) if profile else ())
    artifacts = {a["docker"]["target"]: a["image"] for a in config["build"]["artifacts"]}
    templates = release(config)["setValueTemplates"]
    for name, target in {**IMAGE_TARGETS, **PROFILE_TARGETS.get(profile, {})}.items():
        image = sanitized(artifacts[target])
        assert templates[f"{name}.image.repository"] == f"{{{{.IMAGE_REPO_{image}}}}}"
        assert templates[f"{name}.image.tag"] == f"{{{{.IMAGE_TAG_{image}}}}}"
    # IMAGE_REPO already carries --default-repo: the chart must not prefix a registry again.
    assert templates["global.imageRegistry"] == ""
    # Each template names an artifact that exists (a typo would render an empty string).
    known = {sanitized(image) for image in artifacts.values()}
    for key, value in templates.items():
        for kind, name in TEMPLATE.findall(str(value)):
            assert kind in {"IMAGE_REPO", "IMAGE_TAG"}, (key, value)
            assert name in known, (key, value)
    used = {name for value in templates.values() for _, name in TEMPLATE.findall(str(value))}
    assert used == known


def test_every_value_skaffold_and_the_overlays_set_is_in_the_values_schema(
    chart_dir: Path,
) -> None:
    schema = values_schema(chart_dir)
    errors: list[str] = []
    files: set[Path] = set()
    for profiles in [(), *[(name,) for name in profile_names()]]:
        the_release = release(effective(profiles))
        for key in [*the_release.get("setValueTemplates", {}), *the_release.get("setValues", {})]:
            errors += schema_path_errors(schema, key)
        files |= {ROOT / path for path in the_release.get("valuesFiles", [])}
    for overlay in OVERLAYS.values():
        files.add(overlay_values_file(overlay))
        errors += values_key_errors(schema, overlay_chart(overlay).get("valuesInline") or {})
    assert files == {overlay_values_file(overlay) for overlay in OVERLAYS.values()}, (
        "skaffold's profiles use the overlays' values files"
    )
    for path in sorted(files):
        errors += [
            f"{path.relative_to(ROOT)}: {e}" for e in values_key_errors(schema, load_yaml(path))
        ]
    assert errors == []
    # The walk finds typos: a key the schema lacks is reported.
    assert schema_path_errors(schema, "api.image.repositry")
    assert values_key_errors(schema, {"api": {"service": {"nodeport": 30080}}})


@pytest.mark.parametrize(
    "profiles",
    [("dev",), ("external",), ("dev", "loadtest")],
    ids=["dev", "external", "dev,loadtest"],
)
def test_the_chart_renders_what_skaffold_deploys(
    chart: Helm, tools_python: Path, kubernetes_validate: Path, profiles: tuple[str, ...]
) -> None:
    config = effective(profiles)
    the_release = release(config)
    values = substituted(config)
    files = [ROOT / path for path in the_release.get("valuesFiles", [])]
    documents = helm_for(chart, config).render(files, api_versions=MONITORING, set_values=values)
    assert validation_errors(tools_python, kubernetes_validate, documents) == []
    # Every container of the app runs the image skaffold built for its component.
    artifacts = {a["docker"]["target"]: a["image"] for a in config["build"]["artifacts"]}
    image_targets = dict(IMAGE_TARGETS)
    for profile in profiles:
        image_targets |= PROFILE_TARGETS.get(profile, {})
    seen = set()
    for document, spec in pod_specs(documents):
        name = component(document)
        if name not in image_targets:
            continue
        seen.add(name)
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            own = (
                "migrations"
                if name == "loadtest" and container["name"] in SEEDING_CONTAINERS
                else name
            )
            repository, tag = example_image(artifacts[image_targets[own]])
            assert container["image"] == f"{repository}:{tag}", describe(document)
    assert seen == set(image_targets)
    # The port-forward names the api Service of this release, in its namespace, on its port.
    services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Service"}
    (forward,) = config["portForward"]
    assert forward["resourceType"].lower() == "service"
    assert forward["namespace"] == the_release["namespace"]
    service = services[forward["resourceName"]]
    assert component(service) == "api"
    assert service["metadata"]["namespace"] == the_release["namespace"] == NAMESPACE
    assert forward["port"] in [port["port"] for port in service["spec"]["ports"]]
    assert the_release["createNamespace"] is True
    assert (ROOT / the_release["chartPath"]).resolve() == chart.chart_dir.resolve()


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_the_chart_renders_each_overlays_values_file(
    chart: Helm, tools_python: Path, kubernetes_validate: Path, overlay: str
) -> None:
    """What `helm install -f k8s/overlays/<name>/<name>-values.yaml` would install."""
    helm = dataclasses.replace(chart, release="fastapi-platform", namespace=NAMESPACE)
    values_file = overlay_values_file(OVERLAYS[overlay])
    helm.lint(values_file)  # --strict; HelmError says why
    documents = helm.render([values_file], api_versions=MONITORING)
    assert validation_errors(tools_python, kubernetes_validate, documents) == []


def test_the_dev_profile_deploys_bundled_services_to_the_kind_cluster_only() -> None:
    config = effective(("dev",))
    assert release(config)["valuesFiles"] == ["k8s/overlays/dev/dev-values.yaml"]
    kind = load_yaml(KIND_CONFIG)
    assert config["deploy"]["kubeContext"] == f"kind-{kind['name']}"
    values = load_yaml(overlay_values_file(OVERLAYS["dev"]))
    assert values["postgresql"]["enabled"] is True
    assert values["redis"]["enabled"] is True
    assert values["environment"] == "development"


def test_the_external_profile_uses_the_production_values() -> None:
    config = effective(("external",))
    assert release(config)["valuesFiles"] == ["k8s/overlays/prod/prod-values.yaml"]
    values = load_yaml(overlay_values_file(OVERLAYS["prod"]))
    assert not values.get("postgresql", {}).get("enabled")
    assert not values.get("redis", {}).get("enabled")
    for section in ("externalDatabase", "externalRedis", "auth", "smtp"):
        assert values[section]["existingSecret"], section
    # A digest would pin the image whatever tag skaffold (or CI) sets.
    for name in IMAGE_TARGETS:
        assert not values.get(name, {}).get("image", {}).get("digest"), name


def test_the_ca_profile_passes_the_dockerfiles_build_secret_to_every_artifact() -> None:
    dockerfile = DOCKERFILE.read_text()
    secret_ids = set(re.findall(r"--mount=type=secret,id=([\w-]+)", dockerfile))
    config = effective(("ca",))
    assert config["build"]["local"]["useBuildkit"] is True
    for artifact in config["build"]["artifacts"]:
        ids = {secret["id"] for secret in artifact["docker"].get("secrets", [])}
        assert ids == secret_ids == {"ca"}, artifact["image"]
    # Without the profile no secret is needed: the Dockerfile's mounts are optional.
    assert all("secrets" not in a["docker"] for a in skaffold()["build"]["artifacts"])


def test_file_sync_puts_app_where_the_dockerfile_does() -> None:
    """The Dockerfile copies app/ to /srv/app (builder, then runtime) and runs from WORKDIR /srv
    with PYTHONPATH=/srv: a synced app/x/y.py must land on /srv/app/x/y.py."""
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^COPY app /srv/app$", dockerfile, re.MULTILINE)
    assert re.search(r"^COPY --from=builder /srv/app /srv/app$", dockerfile, re.MULTILINE)
    workdir = re.findall(r"^WORKDIR\s+(\S+)$", dockerfile, re.MULTILINE)[-1]
    assert workdir == "/srv"
    assert "PYTHONPATH=/srv" in dockerfile
    image_root = PurePosixPath(workdir)

    config = effective(("dev", "sync"))
    synced = {a["image"]: a["sync"] for a in config["build"]["artifacts"] if "sync" in a}
    # Only the api: gunicorn reloads its workers on SIGHUP; Celery cannot reload, so the
    # worker, beat and migrate images are rebuilt on a change.
    assert set(synced) == {"fastapi-platform-api"}
    sync = synced["fastapi-platform-api"]
    assert sync["hooks"]["after"] == [{"container": {"command": ["/bin/sh", "-c", "kill -HUP 1"]}}]
    sources = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "app").rglob("*.py"))
    assert sources
    for rule in sync["manual"]:
        matched = [s for s in sources if fnmatch.fnmatch(s, rule["src"])]
        assert matched, rule
        for source in matched:
            relative = source.removeprefix(rule.get("strip", ""))
            assert relative != source or not rule.get("strip"), (rule, source)
            destination = PurePosixPath(rule["dest"]) / relative
            assert destination == image_root / source, (rule, source, destination)
    # Not part of the plain dev profile: it would fail against the chart's read-only root.
    assert all("sync" not in a for a in effective(("dev",))["build"]["artifacts"])


# --- k8s/ ------------------------------------------------------------------------------------


def test_the_base_is_the_namespace_with_restricted_pod_security(
    kubectl: Path, kustomize_helm: Path, tools_python: Path, kubernetes_validate: Path
) -> None:
    documents = kustomize_build(kubectl, kustomize_helm, BASE)
    assert [describe(d) for d in documents] == [f"Namespace/{NAMESPACE}"]
    assert validation_errors(tools_python, kubernetes_validate, documents) == []


def assert_restricted(namespace: Doc) -> None:
    labels = namespace["metadata"]["labels"]
    for mode in PSA_MODES:
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted", mode
    # enforce is pinned to one Kubernetes minor: an upgrade does not tighten it by surprise.
    assert re.fullmatch(r"v1\.\d+", labels["pod-security.kubernetes.io/enforce-version"])


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_each_overlay_builds_validates_and_stays_in_the_namespace(
    built: dict[str, list[Doc]], tools_python: Path, kubernetes_validate: Path, overlay: str
) -> None:
    documents = built[overlay]
    assert validation_errors(tools_python, kubernetes_validate, documents) == []
    namespaces = [d for d in documents if d["kind"] == "Namespace"]
    assert [d["metadata"]["name"] for d in namespaces] == [NAMESPACE]
    assert_restricted(namespaces[0])
    outside = [
        describe(d)
        for d in documents
        if d["kind"] not in CLUSTER_SCOPED and d["metadata"].get("namespace") != NAMESPACE
    ]
    assert outside == []
    assert not [d for d in documents if d["kind"] in CLUSTER_SCOPED - {"Namespace"}]
    # kubectl apply does not run Helm hooks: nothing may rely on one.
    hooks = [
        describe(d) for d in documents if "helm.sh/hook" in (d["metadata"].get("annotations") or {})
    ]
    assert hooks == []
    # All four components are there, with the chart's objects for them.
    workloads = {component(d) for d, _ in pod_specs(documents)}
    assert workloads >= APP_COMPONENTS
    chart = overlay_chart(OVERLAYS[overlay])
    assert chart["namespace"] == NAMESPACE
    assert kustomization(OVERLAYS[overlay])["namespace"] == NAMESPACE
    chart_home = OVERLAYS[overlay] / kustomization(OVERLAYS[overlay])["helmGlobals"]["chartHome"]
    assert (chart_home / chart["name"]).resolve() == (
        ROOT / "charts" / "fastapi-platform"
    ).resolve()


def _by_name(documents: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def test_the_dev_overlay_is_one_small_release_with_its_own_services(
    built: dict[str, list[Doc]],
) -> None:
    documents = built["dev"]
    kinds = {d["kind"] for d in documents}
    assert not kinds & {"HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress"}
    assert {component(d) for d in documents if d["kind"] == "StatefulSet"} == {
        "postgresql",
        "redis",
    }
    api = _by_name(documents, "Deployment", "fastapi-platform-api")
    assert api["spec"]["replicas"] == 1
    config = _by_name(documents, "ConfigMap", "fastapi-platform")["data"]
    assert config["APP_ENV"] == "development"


def test_kind_publishes_the_dev_overlays_api_node_port(built: dict[str, list[Doc]]) -> None:
    kind = load_yaml(KIND_CONFIG)
    assert kind["kind"] == "Cluster"
    assert kind["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [node["role"] for node in kind["nodes"]] == ["control-plane"]
    (mapping,) = kind["nodes"][0]["extraPortMappings"]
    service = _by_name(built["dev"], "Service", "fastapi-platform-api")
    assert service["spec"]["type"] == "NodePort"
    (port,) = service["spec"]["ports"]
    assert mapping["containerPort"] == port["nodePort"]
    assert 30000 <= mapping["containerPort"] <= 32767  # the default NodePort range
    assert mapping.get("listenAddress") == "127.0.0.1"  # not the whole network
    # skaffold's port-forward and `make run` use 8000: kind must publish another host port.
    (forward,) = skaffold()["portForward"]
    assert mapping["hostPort"] != forward["localPort"]
    assert "kind create cluster --config k8s/kind/kind-config.yaml" in KIND_CONFIG.read_text()


def test_the_prod_overlay_adds_what_the_chart_has_no_value_for(
    built: dict[str, list[Doc]],
) -> None:
    documents = built["prod"]
    assert {component(d) for d in documents if d["kind"] == "Deployment"} == {
        "api",
        "worker",
        "beat",
        "pgbouncer",
    }
    assert not [d for d in documents if d["kind"] == "StatefulSet"]
    kinds = {d["kind"] for d in documents}
    assert {
        "Ingress",
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
        "HorizontalPodAutoscaler",
    } <= kinds
    for name in ("fastapi-platform-api", "fastapi-platform-worker"):
        assert _by_name(documents, "Deployment", name)["spec"]["minReadySeconds"] == 10
    for document in documents:
        labels = document["metadata"].get("labels") or {}
        assert labels.get("app.kubernetes.io/environment") == "production", describe(document)
    # Labels only on the objects: selectors and pod templates are the chart's.
    api = _by_name(documents, "Deployment", "fastapi-platform-api")
    assert "app.kubernetes.io/environment" not in api["spec"]["selector"]["matchLabels"]
    assert "app.kubernetes.io/environment" not in api["spec"]["template"]["metadata"]["labels"]
    # The migration is a plain Job (kubectl apply runs no hooks).
    jobs = [d for d in documents if d["kind"] == "Job"]
    assert [component(j) for j in jobs] == ["migrations"]
    assert "helm.sh/hook" not in (jobs[0]["metadata"].get("annotations") or {})
