"""A container engine for the image tests: docker when a daemon answers, else podman (installed
from Debian when missing), with the settings these machines need. No registry has to be
reachable: without docker, a Python base image is built locally from Debian (debootstrap).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
LOCAL_BASE: Final = "localhost/fastapi-platform-python-base:3.11-bookworm"
CA_BUNDLE: Final = Path("/etc/ssl/certs/ca-certificates.crt")
# crun fails on hybrid cgroups here; runc works. A storage.conf made every run hang, so storage
# goes on the command line instead.
CONTAINERS_CONF: Final = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
# Like the official slim images: no documentation, manuals or translations, no apt caches.
SLIM: Final = (
    "rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /usr/share/doc/*"
    " /usr/share/man/* /usr/share/info/* /usr/share/locale/* /usr/share/lintian"
)
DPKG_EXCLUDES: Final = (
    "path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\n"
    "path-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\n"
)
BASE_CONTAINERFILE: Final = f"""\
FROM localhost/fastapi-platform-debian:bookworm
RUN apt-get update \\
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \\
    && apt-get clean && {SLIM}
"""


def log(message: str) -> None:
    print(f"[images] {message}", flush=True)  # noqa: T201


@dataclass
class Engine:
    command: list[str]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def name(self) -> str:
        return Path(self.command[0]).name

    def run(
        self, *args: str, check: bool = True, timeout: float = 600, input_: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(  # noqa: S603 - the engine's CLI with our arguments
            [*self.command, *args],
            env=self.env,
            capture_output=True,
            text=input_ is None,
            input=input_,
            timeout=timeout,
            check=False,
        )
        if isinstance(result.stdout, bytes):
            result = subprocess.CompletedProcess(
                result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
            )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:3])} failed ({result.returncode}):\n{result.stderr[-3000:]}"
            )
        return result

    def has_image(self, tag: str) -> bool:
        return self.run("image", "inspect", tag, check=False).returncode == 0

    def build(
        self, target: str, tag: str, *, python_image: str | None, build_args: dict[str, str]
    ) -> float:
        args = ["build", "--target", target, "--tag", tag, "--file", str(ROOT / "Dockerfile")]
        if python_image:
            args += ["--build-arg", f"PYTHON_IMAGE={python_image}"]
        for name, value in build_args.items():
            args += ["--build-arg", f"{name}={value}"]
        if CA_BUNDLE.is_file():
            args += ["--secret", f"id=ca,src={CA_BUNDLE}"]
        started = time.monotonic()
        self.run(*args, str(ROOT), timeout=1200)
        return time.monotonic() - started

    def image_size(self, tag: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())


def _docker() -> Engine | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run(  # noqa: S603
        [docker, "info"], capture_output=True, timeout=30, check=False
    )
    return Engine([docker]) if probe.returncode == 0 else None


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(f"install {', '.join(packages)} first (apt-get as root is not here)")
    log(f"installing {', '.join(packages)} from Debian")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=900)  # noqa: S603


def _install_podman() -> None:
    if not (shutil.which("podman") and shutil.which("runc")):
        _apt_install("podman", "buildah", "runc")


def _install_debootstrap() -> None:
    if not shutil.which("debootstrap"):
        _apt_install("debootstrap")


def _podman(state: Path) -> Engine:
    _install_podman()
    state.mkdir(parents=True, exist_ok=True)
    conf = state / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    podman = shutil.which("podman")
    assert podman is not None
    return Engine(
        [podman, "--root", str(state / "storage"), "--runroot", str(state / "run")],
        env={**os.environ, "CONTAINERS_CONF": str(conf)},
    )


def engine(state: Path, *, podman: bool = False) -> Engine:
    """docker when a daemon answers, else podman; ``podman=True`` for `podman kube play`."""
    found = _podman(state) if podman else (_docker() or _podman(state))
    log(f"engine: {found.name}")
    return found


def local_python_base(engine: Engine, state: Path) -> str:
    """A stand-in for the official slim Python image: Debian bookworm's python3 on a minimal
    root file system (about 2 minutes the first time; kept in the engine's storage)."""
    if engine.has_image(LOCAL_BASE):
        return LOCAL_BASE
    started = time.monotonic()
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=state))
    try:
        log("building a local Debian base (debootstrap)")
        subprocess.run(  # noqa: S603
            ["debootstrap", "--variant=minbase", "bookworm", str(rootfs)],  # noqa: S607
            check=True,
            capture_output=True,
            timeout=900,
        )
        subprocess.run(["chroot", str(rootfs), "apt-get", "clean"], check=True, timeout=60)  # noqa: S603, S607
        subprocess.run(["chroot", str(rootfs), "sh", "-c", SLIM], check=True, timeout=60)  # noqa: S603, S607
        (rootfs / "etc/dpkg/dpkg.cfg.d/slim").write_text(DPKG_EXCLUDES)
        tar = subprocess.run(  # noqa: S603
            ["tar", "-C", str(rootfs), "-c", "."],  # noqa: S607
            check=True,
            capture_output=True,
            timeout=300,
        )
        engine.run(
            "import",
            "--change",
            'CMD ["/bin/bash"]',
            "-",
            "localhost/fastapi-platform-debian:bookworm",
            input_=tar.stdout,
        )
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    context = Path(tempfile.mkdtemp(prefix="base-", dir=state))
    try:
        (context / "Containerfile").write_text(BASE_CONTAINERFILE)
        engine.run(
            "build", "--tag", LOCAL_BASE, "--file", str(context / "Containerfile"), str(context)
        )
    finally:
        shutil.rmtree(context, ignore_errors=True)
    log(f"local Python base built in {time.monotonic() - started:.0f}s")
    return LOCAL_BASE


def default_python_image() -> str:
    """The Dockerfile's own default for PYTHON_IMAGE (one source of truth)."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("ARG PYTHON_IMAGE="):
            return line.split("=", 1)[1].strip()
    raise RuntimeError("the Dockerfile declares no ARG PYTHON_IMAGE default")


def python_base(engine: Engine, state: Path) -> str | None:
    """None: the Dockerfile's default, the official image users get, when a registry serves it.
    Otherwise a local stand-in built from Debian. IMAGES_PYTHON_IMAGE overrides both."""
    configured = os.environ.get("IMAGES_PYTHON_IMAGE")
    if configured:
        return configured
    official = default_python_image()
    try:
        pulled = engine.run("pull", official, check=False, timeout=300).returncode == 0
    except subprocess.TimeoutExpired:
        pulled = False
    if pulled:
        return None
    log(f"{official} could not be pulled (no registry reachable): using a local base")
    _install_debootstrap()
    return local_python_base(engine, state)


def container_args(env: dict[str, str]) -> Sequence[str]:
    """Hardened like the chart runs them: host network (PostgreSQL and Redis on the host's
    loopback), read-only root, a writable /tmp only, no capabilities, no new privileges."""
    args = [
        "--network", "host", "--read-only", "--tmpfs", "/tmp:rw,size=64m",  # noqa: S108
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
    ]  # fmt: skip
    for name, value in env.items():
        args += ["--env", f"{name}={value}"]
    return args
