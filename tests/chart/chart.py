"""The chart under test, helm around it, and the validators of its rendered manifests.

``CHART_DIR`` (environment) points the tests at another chart; the default is
``charts/fastapi-platform``. Its ``ci/`` folder holds:

- ``*-values.yaml``: scenarios that must lint, render and validate;
- ``bad-*.yaml``: values that must make ``helm template`` fail. The first line states the
  message expected in helm's stderr: ``# expect: <substring>`` (case-sensitive, compared with
  helm's whole stderr).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import yaml

from tests.chart import tools

CHART_DIR: Final = Path(
    os.environ.get("CHART_DIR") or tools.ROOT / "charts" / "fastapi-platform"
).absolute()
RELEASE: Final = "fp"
NAMESPACE: Final = "fastapi-platform"
DEFAULT_KUBE_VERSION: Final = "1.33.0"
KUBE_VERSIONS: Final = ("1.30.0", "1.33.0", "1.35.0")
# What a cluster with the Prometheus operator, KEDA and the Gateway API would report; without
# them, objects gated on .Capabilities.APIVersions silently vanish from `helm template`.
OPTIONAL_API_VERSIONS: Final = (
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
    "keda.sh/v1alpha1/ScaledObject",
    "gateway.networking.k8s.io/v1/HTTPRoute",
    "policy/v1/PodDisruptionBudget",
    "autoscaling/v2/HorizontalPodAutoscaler",
)
CRD_SCHEMAS: Final = Path(__file__).parent / "schemas" / "crds"
HELPER: Final = Path(__file__).parent / "in_tools_venv.py"
EXPECT: Final = re.compile(r"#\s*expect:\s*(?P<message>\S.*?)\s*")

# checkov checks skipped by the chart's annotations -> values files: shown in the test summary
CHECKOV_SKIPS: Final[dict[str, list[str]]] = {}

Manifest = dict[str, Any]
ValuesFiles = str | Path | Sequence[str | Path]


def good_values_files(chart_dir: Path = CHART_DIR) -> list[Path]:
    return sorted(
        path
        for path in (chart_dir / "ci").glob("*-values.yaml")
        if not path.name.startswith("bad-")
    )


def bad_values_files(chart_dir: Path = CHART_DIR) -> list[Path]:
    return sorted((chart_dir / "ci").glob("bad-*.yaml"))


def expected_message(bad_file: Path) -> str:
    first_line = (bad_file.read_text().splitlines() or [""])[0]
    match = EXPECT.fullmatch(first_line)
    if match is None:
        raise ValueError(
            f"{bad_file.name}: the first line must be `# expect: <message>`, got {first_line!r}"
        )
    return match.group("message")


def describe(document: Manifest) -> str:
    name = (document.get("metadata") or {}).get("name", "?")
    return f"{document.get('kind', '?')}/{name}"


class HelmError(RuntimeError):
    """helm failed; ``stderr`` is where ``helm template`` says why (``helm lint`` prints its
    findings on stdout)."""

    def __init__(self, command: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        shown = "\n".join(part for part in (stdout[-5000:].strip(), stderr.strip()) if part)
        super().__init__(f"helm {command[1]} failed ({returncode}):\n{shown}")
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class Render(Protocol):
    def __call__(
        self,
        values_files: ValuesFiles = (),
        *,
        kube_version: str = DEFAULT_KUBE_VERSION,
        api_versions: Sequence[str] = (),
        set_values: Mapping[str, Any] | None = None,
    ) -> list[Manifest]: ...


class RenderText(Protocol):
    def __call__(
        self,
        values_files: ValuesFiles = (),
        *,
        kube_version: str = DEFAULT_KUBE_VERSION,
        api_versions: Sequence[str] = (),
        set_values: Mapping[str, Any] | None = None,
    ) -> str: ...


def _run(command: Sequence[str], *, stdin: str = "", env: Mapping[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(  # noqa: S603 - our tools with our arguments
        [str(part) for part in command],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        check=False,
    )


def in_tools_venv(python: Path, command: str, stdin: str) -> Any:
    result = _run([str(python), str(HELPER), command], stdin=stdin)
    if result.returncode != 0:
        raise RuntimeError(f"in_tools_venv.py {command} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def parse_yaml(text: str) -> list[Any]:
    """Every non-empty document of a YAML stream."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [document for document in yaml.load_all(text, Loader=loader) if document is not None]


@dataclass(frozen=True)
class Helm:
    binary: Path
    chart_dir: Path
    release: str = RELEASE
    namespace: str = NAMESPACE
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, binary: Path, chart_dir: Path) -> Helm:
        # helm's own config, cache and data folders out of the user's home
        home = tools.STATE / "helm-home"
        env = {
            **os.environ,
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        return cls(binary, chart_dir, env=env)

    def values_file(self, path: str | Path) -> Path:
        """A path as given when it exists, else a file of the chart's ci/ folder or the chart."""
        for candidate in (Path(path), self.chart_dir / "ci" / path, self.chart_dir / path):
            if candidate.is_file():
                return candidate.absolute()
        raise FileNotFoundError(f"no values file {path} (nor in {self.chart_dir / 'ci'})")

    def _values_args(
        self, values_files: ValuesFiles, set_values: Mapping[str, Any] | None
    ) -> list[str]:
        files = [values_files] if isinstance(values_files, str | Path) else values_files
        args: list[str] = []
        for path in files:
            args += ["--values", str(self.values_file(path))]
        for key, value in (set_values or {}).items():
            # a string as on helm's command line (--set: "true" becomes a bool, "3" an int),
            # any other value exactly as given (--set-json: 3, True, ["a"], {"k": "v"})
            if isinstance(value, str):
                args += ["--set", f"{key}={value}"]
            else:
                args += ["--set-json", f"{key}={json.dumps(value)}"]
        return args

    def _helm(self, *args: str) -> str:
        command = [str(self.binary), *args]
        result = _run(command, env=self.env)
        if result.returncode != 0:
            raise HelmError(command, result.returncode, result.stdout, result.stderr)
        return result.stdout

    def render_text(
        self,
        values_files: ValuesFiles = (),
        *,
        kube_version: str = DEFAULT_KUBE_VERSION,
        api_versions: Sequence[str] = (),
        set_values: Mapping[str, Any] | None = None,
    ) -> str:
        """``helm template`` with a fixed release name and namespace; HelmError (with helm's
        stderr) when it fails."""
        args = ["template", self.release, str(self.chart_dir), "--namespace", self.namespace,
                "--kube-version", kube_version]  # fmt: skip
        for api_version in api_versions:
            args += ["--api-versions", api_version]
        return self._helm(*args, *self._values_args(values_files, set_values))

    def render(
        self,
        values_files: ValuesFiles = (),
        *,
        kube_version: str = DEFAULT_KUBE_VERSION,
        api_versions: Sequence[str] = (),
        set_values: Mapping[str, Any] | None = None,
    ) -> list[Manifest]:
        """The rendered documents, parsed (empty documents dropped)."""
        text = self.render_text(
            values_files,
            kube_version=kube_version,
            api_versions=api_versions,
            set_values=set_values,
        )
        documents = parse_yaml(text)
        for document in documents:
            if not isinstance(document, dict):
                raise TypeError(f"helm rendered a document that is not a mapping: {document!r}")
        return documents

    def lint(
        self,
        values_files: ValuesFiles = (),
        *,
        kube_version: str = DEFAULT_KUBE_VERSION,
        set_values: Mapping[str, Any] | None = None,
    ) -> str:
        """``helm lint --strict``. helm lint takes no --api-versions: templates gated on
        .Capabilities.APIVersions are not linted (the rendering tests cover them)."""
        args = ["lint", "--strict", str(self.chart_dir), "--namespace", self.namespace,
                "--kube-version", kube_version]  # fmt: skip
        return self._helm(*args, *self._values_args(values_files, set_values))


# --- validators ----------------------------------------------------------------------------------


def crd_schema(document: Manifest) -> Path | None:
    """The JSON schema of a custom resource (tests/chart/schemas/crds/<group>/<kind>_<version>.json)
    or None: a built-in kind, or a custom one without a schema here."""
    group, _, version = str(document.get("apiVersion", "")).rpartition("/")
    if not group:
        return None
    path = CRD_SCHEMAS / group / f"{str(document.get('kind', '')).lower()}_{version}.json"
    return path if path.is_file() else None


def validate_custom_resources(python: Path, documents: Sequence[Manifest]) -> list[str]:
    """Errors of each custom resource against its CRD schema, as 'Kind/name: path: message'."""
    items = [{"schema": str(crd_schema(d)), "document": d} for d in documents]
    if not items:
        return []
    results: list[list[str]] = in_tools_venv(python, "crds", json.dumps(items))
    return [
        f"{describe(document)}: {error}"
        for document, errors in zip(documents, results, strict=True)
        for error in errors
    ]


def run_kubernetes_validate(binary: Path, documents: Sequence[Manifest], kube_version: str) -> str:
    """``kubernetes-validate -k VERSION --strict --quiet -`` over the documents (as JSON, which
    is YAML). Returns its output: with --quiet a clean run prints nothing, and a kind it has no
    schema for (a removed API version, a CRD) is only a WARN with exit code 0."""
    stream = "\n---\n".join(json.dumps(document) for document in documents)
    result = _run(
        [str(binary), "--kubernetes-version", kube_version, "--strict", "--quiet", "-"],
        stdin=stream,
    )
    return (result.stdout + result.stderr).strip() + (
        f"\n(exit code {result.returncode})" if result.returncode else ""
    )


@dataclass
class CheckovFindings:
    passed: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    parsing_errors: list[str] = field(default_factory=list)


def checkov_line(check: Mapping[str, Any]) -> str:
    result = check.get("check_result") or {}
    reason = result.get("suppress_comment")
    line = f"{check.get('check_id')} {check.get('resource')}: {check.get('check_name')}"
    return f"{line} (skipped: {reason})" if reason else line


def run_checkov(binary: Path, folder: Path) -> dict[str, CheckovFindings]:
    """One checkov run over every manifest file in a folder (checkov's start-up dominates its
    time), findings per file name. No --quiet: it would drop the skipped checks."""
    command = [str(binary), "--directory", str(folder), "--framework", "kubernetes", "--compact",
               "--skip-download", "--output", "json"]  # fmt: skip
    result = _run(command, env={**os.environ, "LOG_LEVEL": "WARNING"}, timeout=600)
    try:
        report = json.loads(result.stdout)
    except ValueError as error:
        raise RuntimeError(
            f"checkov printed no JSON ({result.returncode}):\n{result.stderr[-3000:]}"
        ) from error
    findings: dict[str, CheckovFindings] = {}
    for part in report if isinstance(report, list) else [report]:
        results = part.get("results") or {}
        for check in results.get("passed_checks") or []:
            name = Path(check.get("file_abs_path") or check["file_path"]).name
            findings.setdefault(name, CheckovFindings()).passed += 1
        for key, target in (("failed_checks", "failed"), ("skipped_checks", "skipped")):
            for check in results.get(key) or []:
                name = Path(check.get("file_abs_path") or check["file_path"]).name
                getattr(findings.setdefault(name, CheckovFindings()), target).append(check)
        for broken in results.get("parsing_errors") or []:
            findings.setdefault(Path(broken).name, CheckovFindings()).parsing_errors.append(broken)
    return findings
