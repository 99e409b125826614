"""The previous release, ready to serve: its code from git, its own pinned dependencies, and the
smoke flow (sign-up, log-in, browse, order, pay) that each release runs over real HTTP.

Which release is "previous": the newest tag matching ``v*`` reachable from the commit before
HEAD (a tag on HEAD itself is this release, not the previous one); with no such tag, the parent
of the newest commit that changed app/migrations/versions, so the old code really predates the
newest schema change. Its code comes from ``git archive <rev> app``; its dependencies are its
own requirements/main.txt (what its image held), installed with uv into a venv under
.local/releases/ keyed by the file's digest, and the current venv when the pins are the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from tests.integration.helpers import PASSWORD, bearer
from tests.integration.order_support import APPROVED_CARD
from tests.integration.support import asyncpg_dsn

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = "app/migrations/versions"
RELEASE_VENVS = ROOT / ".local" / "releases"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    if _in_ci():
        pytest.fail(f"{reason} (CI is set: the side-by-side test must run)")
    pytest.skip(reason)


def _git(*args: str) -> str:
    run = subprocess.run(  # noqa: S603 - fixed git argv
        ["git", *args],  # noqa: S607 - git from PATH
        cwd=ROOT,
        capture_output=True,
        check=False,
        timeout=60,
    )
    if run.returncode != 0:
        raise LookupError(run.stderr.decode(errors="replace").strip())
    return run.stdout.decode().strip()


@dataclass(frozen=True, slots=True)
class Release:
    revision: str  # a commit id
    why: str  # how it was chosen, for messages
    root: Path  # the directory holding its app/ package
    python: str  # the interpreter of a venv with its pinned dependencies


def previous_revision() -> tuple[str, str]:
    """The previous release's commit and why it was chosen; skips (fails under CI) without git
    or without the history to choose from."""
    if shutil.which("git") is None:
        _unavailable("git is not installed: the previous release cannot be read")
    try:
        if _git("rev-parse", "--is-shallow-repository") == "true":
            _unavailable("a shallow clone: the previous release needs the full history")
        try:
            tag = _git("describe", "--tags", "--abbrev=0", "--match", "v*", "HEAD~1")
        except LookupError:
            tag = ""
        if tag:
            return _git("rev-parse", f"{tag}^{{commit}}"), f"the newest release tag {tag}"
        changed = _git("log", "-1", "--format=%H", "--", MIGRATIONS)
        if not changed:
            _unavailable(f"no commit changed {MIGRATIONS}")
        parent = _git("rev-parse", "--verify", "--quiet", f"{changed}^")
    except LookupError as error:
        _unavailable(f"no git history to read the previous release from: {error}")
    return parent, f"{parent[:12]}, the parent of {changed[:12]} (the newest schema change)"


def previous_release(workdir: Path) -> Release:
    revision, why = previous_revision()
    archive = subprocess.run(  # noqa: S603 - fixed git argv
        ["git", "archive", revision, "app", "requirements/main.txt"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    code = workdir / "previous"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(code, filter="data")
    return Release(revision, why, code, _python_for(code / "requirements" / "main.txt"))


def _python_for(pins: Path) -> str:
    """An interpreter with exactly these pins: the current venv's when they are the current
    ones, else a venv of their own, made once per digest (uv's cache makes it quick)."""
    if pins.read_bytes() == (ROOT / "requirements" / "main.txt").read_bytes():
        return sys.executable
    venv = RELEASE_VENVS / hashlib.sha256(pins.read_bytes()).hexdigest()[:16]
    python = venv / "bin" / "python"
    if (venv / ".synced").exists():
        return str(python)
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    shutil.rmtree(venv, ignore_errors=True)
    for command in (
        [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
        [uv, "pip", "install", "--quiet", "--python", str(python), "--require-hashes", "-r",
         str(pins)],
    ):  # fmt: skip
        run = subprocess.run(command, capture_output=True, check=False, timeout=600)  # noqa: S603
        if run.returncode != 0:
            _unavailable(
                "the previous release's pins could not be installed: "
                + run.stderr.decode(errors="replace")[-2000:]
            )
    (venv / ".synced").touch()
    return str(python)


# The smoke flow -----------------------------------------------------------------------------


class FlowError(AssertionError):
    pass


def _expect(response: httpx.Response, status: int, release: str, step: str) -> Any:
    if response.status_code != status:
        msg = (
            f"{release} release, {step}: {response.request.method} {response.request.url.path} "
            f"answered {response.status_code}, not {status}: {response.text[:2000]}"
        )
        raise FlowError(msg)
    return response.json() if response.content else None


@dataclass(slots=True)
class Run:
    """One release's actors and what they made."""

    name: str
    client: httpx.AsyncClient
    tag: str = ""
    staff_headers: dict[str, str] | None = None
    shopper_headers: dict[str, str] | None = None
    product: str = ""
    order: str = ""

    async def sign_up(self, username: str) -> str:
        body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        created = _expect(
            await self.client.post("/api/v1/users", json=body), 201, self.name, "sign-up"
        )
        return str(created["id"])

    async def log_in(self, login: str) -> dict[str, str]:
        body = {"login": login, "password": PASSWORD}
        tokens = _expect(
            await self.client.post("/api/v1/auth/login", json=body), 200, self.name, "log-in"
        )
        return bearer(tokens)


async def _promote(database_url: str, username: str) -> None:
    import asyncpg  # noqa: PLC0415

    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute(
            "UPDATE users SET role = 'super_admin' WHERE username = $1", username
        )
    finally:
        await connection.close()


async def _staff_and_product(run: Run) -> None:
    """A staff member (granted by the root admin logged in on this release) adds a product."""
    root = await run.log_in("root")
    staff_id = await run.sign_up(f"staff-{run.tag}")
    _expect(
        await run.client.put(f"/api/v1/users/{staff_id}/roles/staff", headers=root),
        204, run.name, "granting the staff role",
    )  # fmt: skip
    run.staff_headers = await run.log_in(f"staff-{run.tag}")
    product = {
        "sku": f"SIDE-{run.tag}".upper(),
        "name": f"Side by side {run.tag}",
        "description": f"Made by the {run.name} release.",
        "price_amount": "12.50",
        "currency": "EUR",
        "stock_on_hand": 10,
    }
    created = _expect(
        await run.client.post("/api/v1/products", json=product, headers=run.staff_headers),
        201, run.name, "adding a product",
    )  # fmt: skip
    run.product = str(created["id"])


async def _shop(run: Run, products: list[str]) -> None:
    """A new customer signs up, logs in, browses, orders every release's product and pays."""
    await run.sign_up(f"shopper-{run.tag}")
    run.shopper_headers = await run.log_in(f"shopper-{run.tag}")
    listing = _expect(
        await run.client.get("/api/v1/products", params={"in_stock": "true"}),
        200, run.name, "browsing",
    )  # fmt: skip
    listed = {item["id"] for item in listing["items"]}
    if missing := set(products) - listed:
        msg = f"{run.name} release, browsing: products {sorted(missing)} are not listed"
        raise FlowError(msg)
    for product in products:
        _expect(await run.client.get(f"/api/v1/products/{product}"), 200, run.name, "a product")
    lines = [{"product_id": product, "quantity": 1} for product in products]
    placed = _expect(
        await run.client.post(
            "/api/v1/orders",
            json={"lines": lines},
            headers={**run.shopper_headers, "Idempotency-Key": str(uuid.uuid4())},
        ),
        201, run.name, "placing an order",
    )  # fmt: skip
    run.order = str(placed["id"])
    paid = _expect(
        await run.client.post(
            f"/api/v1/orders/{run.order}/pay",
            json={"card_number": APPROVED_CARD},
            headers={**run.shopper_headers, "Idempotency-Key": str(uuid.uuid4())},
        ),
        200, run.name, "paying",
    )  # fmt: skip
    if paid["status"] != "paid":
        msg = f"{run.name} release, paying: the order is {paid['status']}, not paid"
        raise FlowError(msg)
    mine = _expect(
        await run.client.get("/api/v1/orders", headers=run.shopper_headers),
        200, run.name, "listing my orders",
    )  # fmt: skip
    if [item["id"] for item in mine["items"]] != [run.order]:
        msg = f"{run.name} release, listing my orders: {mine['items']}"
        raise FlowError(msg)


async def _read_through(run: Run, other: Run) -> None:
    """The customer's session and order, opened on one release, read through the other."""
    order = _expect(
        await other.client.get(f"/api/v1/orders/{run.order}", headers=run.shopper_headers),
        200, other.name, f"reading an order the {run.name} release took",
    )  # fmt: skip
    if order["status"] != "paid":
        msg = f"{other.name} release reads the {run.name} release's order as {order['status']}"
        raise FlowError(msg)


async def side_by_side(database_url: str, bases: dict[str, str]) -> list[Run]:
    """Both releases run the smoke flow at once on one database and one Redis; each step waits
    for both, so each release's customer orders the other release's product too."""
    async with httpx.AsyncClient(base_url=next(iter(bases.values())), timeout=30) as first:
        body = {"username": "root", "email": "root@example.com", "password": PASSWORD}
        _expect(await first.post("/api/v1/users", json=body), 201, "the first", "sign-up")
    await _promote(database_url, "root")
    clients = [httpx.AsyncClient(base_url=base, timeout=30) for base in bases.values()]
    try:
        runs = [
            Run(name, client, tag=name[:4]) for name, client in zip(bases, clients, strict=True)
        ]
        await asyncio.gather(*(_staff_and_product(run) for run in runs))
        products = [run.product for run in runs]
        await asyncio.gather(*(_shop(run, products) for run in runs))
        # During a rolling update a client's next request may reach the other release.
        await asyncio.gather(
            *(_read_through(run, other) for run, other in zip(runs, runs[::-1], strict=True))
        )
        return runs
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
