"""The four images, built from the one Dockerfile and run the way the chart runs them: non-root,
read-only root file system, host network to the host's PostgreSQL and Redis. A real flow goes
through them: migrate, sign up, log in, place an order, the worker mails the confirmation, beat
keeps its schedule, and every container stops on SIGTERM with exit 0 inside its grace period.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.bootstrap.devtools.smtp_sink import start_sink
from tests.images.build import PASSWORD, a_customer_orders
from tests.images.conftest import Images, Services, wait_for
from tests.images.engine import container_args
from tests.support.mail import Mailbox
from tests.support.ports import free_port

# The first test's setup builds the local base and the images: minutes on a busy machine (89 s
# for the base alone once), which pytest's 120 s per test would cut short.
pytestmark = pytest.mark.timeout(1200)

API_LIMIT_BYTES = 250 * 1000 * 1000
GRACE_SECONDS = 30  # Kubernetes' default terminationGracePeriodSeconds
USER = "10001"


def test_the_api_image_stays_under_250_mb_and_every_image_is_labelled(images: Images) -> None:
    for target, tag in images.tags.items():
        config: dict[str, Any] = json.loads(
            images.engine.run("image", "inspect", "--format", "{{json .Config}}", tag).stdout
        )
        labels = config.get("Labels") or {}
        assert labels["org.opencontainers.image.version"] == "0.1.0-test", target
        assert labels["org.opencontainers.image.revision"] == "0" * 40, target
        assert f"APP_REVISION={'0' * 40}" in config["Env"], target  # fastapi_platform_build_info
        assert labels["org.opencontainers.image.source"].startswith("file://"), target
        assert config["User"] == f"{USER}:{USER}", target
        assert config["Entrypoint"] == ["/opt/venv/bin/python", "-m", "app"], target
        assert config["Cmd"] == [target], target
    sizes = ", ".join(f"{t} {s / 1e6:.1f} MB" for t, s in images.sizes.items())
    builds = ", ".join(f"{t} {s:.1f}s" for t, s in images.build_seconds.items())
    print(f"[images] sizes: {sizes}; build times: {builds}")  # noqa: T201
    assert images.sizes["api"] < API_LIMIT_BYTES


def test_the_image_holds_the_app_and_no_build_tools_or_local_files(images: Images) -> None:
    listing = images.engine.run(
        "run", "--rm", "--entrypoint", "/opt/venv/bin/python", images.tags["api"], "-c",
        "import os, shutil; print(sorted(os.listdir('/srv')), sorted(os.listdir('/srv/app'))[:3],"
        " [t for t in ('uv', 'pip', 'gcc', 'cc') if shutil.which(t, path='/opt/venv/bin:/usr/bin:"
        "/usr/local/bin')], os.path.exists('/opt/uv'))",
    ).stdout  # fmt: skip
    assert listing.startswith("['app']"), listing
    assert "[] False" in listing, listing  # no uv, pip or compiler; no builder venv


def test_migrate_upgrades_a_fresh_database_and_exits_0_again_when_run_twice(
    images: Images, migrated: Services
) -> None:
    second = _run_once(images, "migrate", migrated, [])
    assert second.returncode == 0, second.stderr
    assert "database migrated to head" in second.stderr


def test_migrate_without_a_database_exits_non_zero_with_a_clear_message(images: Images) -> None:
    closed = free_port()
    env = {"APP_DB_URL": f"postgresql://postgres@127.0.0.1:{closed}/none"}
    started = time.monotonic()
    result = images.engine.run(
        "run", "--rm", *container_args(env), images.tags["migrate"], "migrate", "--wait", "3",
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert time.monotonic() - started < 60
    assert "database" in result.stderr.lower(), result.stderr[-2000:]


@dataclass
class Container:
    images: Images
    name: str

    def logs(self) -> str:
        result = self.images.engine.run("logs", self.name, check=False)
        return result.stdout + result.stderr

    def python(self, code: str) -> str:
        return self.images.engine.run(
            "exec", self.name, "/opt/venv/bin/python", "-c", code
        ).stdout.strip()

    def running(self) -> bool:
        state = self.images.engine.run(
            "inspect", "--format", "{{.State.Running}}", self.name, check=False
        )
        return state.stdout.strip() == "true"


@dataclass
class Stack:
    services: Services
    mailbox: Mailbox
    api_url: str
    api: Container
    worker: Container
    beat: Container

    @property
    def containers(self) -> tuple[Container, ...]:
        return (self.api, self.worker, self.beat)


def _environment(services: Services, smtp_port: int) -> dict[str, str]:
    return {
        "APP_ENV": "production",
        "APP_DB_URL": services.database_url,
        "APP_REDIS_URL": services.redis_url,
        "APP_CELERY_BROKER_DB": str(services.broker_db),
        "APP_AUTH_JWT_SECRET": "images-test-secret-" + "x" * 40,
        "APP_SMTP_PORT": str(smtp_port),
        "APP_LOG_FORMAT": "json",
        # Cheap hashing and short schedules: the test, not the defaults, sets the pace.
        "APP_AUTH_ARGON2_TIME_COST": "1",
        "APP_AUTH_ARGON2_MEMORY_KIB": "1024",
        "APP_CELERY_OUTBOX_SWEEP_SECONDS": "1",
    }


def _run_once(images: Images, target: str, services: Services, args: list[str]) -> Any:
    env = _environment(services, 25)
    return images.engine.run(
        "run", "--rm", *container_args(env), images.tags[target], *args, check=False
    )


@pytest.fixture(scope="module")
def migrated(images: Images, services: Services) -> Services:
    result = _run_once(images, "migrate", services, [])
    assert result.returncode == 0, result.stderr[-3000:]
    return services


@pytest.fixture(scope="module")
def stack(
    images: Images, migrated: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    mailbox_path = tmp_path_factory.mktemp("mailbox")
    smtp_port = free_port()
    sink = start_sink("127.0.0.1", smtp_port, mailbox_path)
    api_port, metrics_port = free_port(), free_port()
    env = _environment(migrated, smtp_port)
    suffix = uuid.uuid4().hex[:6]
    started: list[Container] = []
    try:
        for target, extra in (
            ("api", {"APP_SERVER_PORT": str(api_port), "APP_SERVER_WORKERS": "2"}),
            ("worker", {"APP_CELERY_METRICS_PORT": str(metrics_port)}),
            ("beat", {}),
        ):
            name = f"fp-{target}-{suffix}"
            images.engine.run(
                "run", "--detach", "--name", name, *container_args({**env, **extra}),
                images.tags[target],
            )  # fmt: skip
            started.append(Container(images, name))
        stack = Stack(
            migrated, Mailbox(smtp_port, mailbox_path), f"http://127.0.0.1:{api_port}", *started
        )
        yield stack
    finally:
        for container in started:
            images.engine.run("rm", "--force", container.name, check=False)
        sink.stop()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_every_container_runs_as_the_non_root_user_on_a_read_only_root(stack: Stack) -> None:
    assert wait_for(lambda: _ready(stack.api_url), within=60), stack.api.logs()[-3000:]
    for container in stack.containers:
        assert container.running(), container.logs()[-3000:]
        ids = container.python(
            "import os; print(os.getuid(), os.geteuid(), os.getgid(), 0 in os.getgroups())"
        )
        assert ids == f"{USER} {USER} {USER} False", (container.name, ids)  # not in group root
        root = container.python(
            "print(next(l.split()[3] for l in open('/proc/mounts') if l.split()[1] == '/'))"
        )
        assert root.split(",")[0] == "ro", (container.name, root)


def _super_admin(images: Images, services: Services) -> None:
    env = {**_environment(services, 25), "APP_SUPER_ADMIN_PASSWORD": PASSWORD}
    result = images.engine.run(
        "run", "--rm", *container_args(env), images.tags["api"],
        "create-super-admin", "--username", "root", "--email", "root@example.com",
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_api_serves_a_real_flow_and_the_worker_mails_the_confirmation(
    images: Images, stack: Stack
) -> None:
    assert wait_for(lambda: _ready(stack.api_url), within=60), stack.api.logs()[-3000:]
    _super_admin(images, stack.services)
    order_id = a_customer_orders(stack.api_url)
    assert wait_for(lambda: len(stack.mailbox.messages()) >= 1, within=30), stack.worker.logs()[
        -3000:
    ]
    message: EmailMessage = stack.mailbox.messages()[0]
    assert message["To"] == "buyer@example.com"
    assert message["Subject"] == "Order confirmed: 25.00 EUR awaiting payment"
    assert order_id in str(message.get_body(preferencelist=("plain",)))


def test_beat_keeps_its_schedule_and_the_worker_probe_passes(stack: Stack) -> None:
    assert wait_for(lambda: "relay-outbox" in stack.beat.logs(), within=30), stack.beat.logs()[
        -3000:
    ]
    assert wait_for(lambda: "platform.relay_outbox" in stack.worker.logs(), within=30)
    probe = stack.worker.images.engine.run(
        "exec", stack.worker.name, "/opt/venv/bin/python", "-m", "app", "worker-check",
        check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr


# Latency is the benchmark's business; here only that the image runs the journeys and its gate.
_LENIENT_SLO = """
[default]
p95_ms = 60000
p99_ms = 60000
fail_ratio = 0.0
"""


def test_the_loadtest_image_browses_the_api_and_passes_its_gate(
    stack: Stack, tmp_path: Path
) -> None:
    assert wait_for(lambda: _ready(stack.api_url), within=60), stack.api.logs()[-3000:]
    slo = tmp_path / "slo.toml"
    slo.write_text(_LENIENT_SLO)
    # Read through a bind mount by the image's user (10001), not by this test's.
    tmp_path.chmod(0o755)
    slo.chmod(0o644)
    images = stack.api.images
    run = images.engine.run(
        "run", "--rm", *container_args({"LOAD_SLO_FILE": "/slo/slo.toml"}),
        "--volume", f"{tmp_path}:/slo:ro", images.loadtest,
        "--headless", "--host", stack.api_url, "--users", "2", "--spawn-rate", "2",
        "--run-time", "6s", "--stop-timeout", "3", "--only-summary",
        "AnonymousBrowser",  # no accounts needed: the stack runs in production, unseeded
        check=False, timeout=120,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "GET /api/v1/products" in output, output[-4000:]
    assert "every request group within its limits" in output, output[-4000:]


def test_every_container_stops_on_sigterm_with_exit_0_inside_its_grace_period(
    stack: Stack,
) -> None:
    engine = stack.api.images.engine
    stopped: dict[str, float] = {}
    for container in stack.containers:
        started = time.monotonic()
        engine.run("stop", "--time", str(GRACE_SECONDS), container.name, timeout=GRACE_SECONDS + 30)
        stopped[container.name] = time.monotonic() - started
        code = engine.run("inspect", "--format", "{{.State.ExitCode}}", container.name).stdout
        assert code.strip() == "0", (container.name, code, container.logs()[-3000:])
        assert stopped[container.name] < GRACE_SECONDS
    print(  # noqa: T201
        "[images] SIGTERM to exit: "
        + ", ".join(f"{n.split('-')[1]} {s:.1f}s" for n, s in stopped.items())
    )
