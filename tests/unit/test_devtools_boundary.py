"""Development tooling (``app/bootstrap/devtools``) stays out of the production code paths.

import-linter's devtools contract forbids static imports of it; the first test keeps that
contract's sources complete, so a new module in ``app/`` or ``app/bootstrap/`` is covered without
anyone remembering to list it. The CLI names the devtools modules as strings (imported only when
``seed-demo``, ``dev`` or ``smtp-sink`` runs), which import-linter cannot see: the second test
proves at run time that the entry points load none of them.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
DEVTOOLS = "app.bootstrap.devtools"


def _modules(package: Path, prefix: str) -> set[str]:
    """The direct submodules and subpackages of a package, as dotted names."""
    names = {path.stem for path in package.glob("*.py") if not path.stem.startswith("__")}
    names |= {path.parent.name for path in package.glob("*/__init__.py")}
    return {f"{prefix}.{name}" for name in names}


def test_the_devtools_contract_covers_every_production_module() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [contract] = [
        contract
        for contract in config["tool"]["importlinter"]["contracts"]
        if contract.get("forbidden_modules") == [DEVTOOLS]
    ]
    production = _modules(APP, "app") - {"app.bootstrap"}
    production |= _modules(APP / "bootstrap", "app.bootstrap") - {DEVTOOLS}

    assert production - set(contract["source_modules"]) == set()


def test_the_entry_points_load_no_devtools_module() -> None:
    script = (
        "import sys\n"
        "import app.bootstrap.api, app.bootstrap.cli, app.bootstrap.gunicorn_conf\n"
        "import app.bootstrap.migrations, app.bootstrap.worker.app, app.bootstrap.worker.commands\n"
        "app.bootstrap.cli._parser()\n"
        f"sys.stdout.write(' '.join(m for m in sys.modules if m.startswith({DEVTOOLS!r})))\n"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout == ""
