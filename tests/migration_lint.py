"""The migration lint of ``make lint``: squawk over the SQL of every Alembic revision.

Each revision's SQL is what ``alembic upgrade <previous>:<revision> --sql`` writes (offline mode:
no database), timeouts included. squawk checks it with the project's rule set (``.squawk.toml``,
each excluded rule justified there). Revisions already released keep their findings, listed with
a reason in ``app/migrations/squawk-accepted.toml``; any other finding fails, and so does an
accepted finding that is no longer found (the list stays true).

    python -m tests.migration_lint [--squawk PATH]

Exit 0 when clean, 1 with the findings, 2 when squawk is missing.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess  # nosec B404 - runs the pinned squawk binary on files this module wrote
import sys
import tempfile
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.bootstrap.migrations import alembic_config

ROOT = Path(__file__).resolve().parents[1]
SQUAWK_CONFIG = ROOT / ".squawk.toml"
ACCEPTED = ROOT / "app" / "migrations" / "squawk-accepted.toml"
DEFAULT_SQUAWK = ROOT / ".local" / "lint-tools" / "venv" / "bin" / "squawk"
_STATEMENT_CHARS = 100


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    revision: str
    rule: str
    # The statement squawk points at, whitespace collapsed, cut to 100 characters: line numbers
    # move whenever the environment writes another line; the statement does not.
    statement: str
    message: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.revision, self.rule, self.statement)


def revision_sql(config: Config) -> dict[str, str]:
    """Each revision's upgrade SQL, base to head: ``upgrade <down_revision>:<revision> --sql``."""
    script = ScriptDirectory.from_config(config)
    sql: dict[str, str] = {}
    for revision in reversed(list(script.walk_revisions("base", "heads"))):
        below = revision.down_revision
        if below is not None and not isinstance(below, str):
            msg = f"{revision.revision}: a merge revision; the lint expects a linear history"
            raise SystemExit(msg)
        buffer = io.StringIO()
        config.output_buffer = buffer
        command.upgrade(config, f"{below or 'base'}:{revision.revision}", sql=True)
        sql[revision.revision] = buffer.getvalue()
    config.output_buffer = None
    return sql


def _statements(sql: str) -> list[tuple[int, int, str]]:
    """(first line, last line, text) of each statement, lines counted from 0 as squawk does."""
    spans: list[tuple[int, int, str]] = []
    start: int | None = None
    lines: list[str] = []
    for number, line in enumerate(sql.splitlines()):
        if start is None:
            if not line.strip() or line.lstrip().startswith("--"):
                continue
            start, lines = number, []
        lines.append(line)
        if line.rstrip().endswith(";"):
            spans.append((start, number, " ".join(" ".join(lines).split())))
            start = None
    return spans


def run_squawk(squawk: Path, sql: dict[str, str]) -> list[Finding]:
    with tempfile.TemporaryDirectory(prefix="migration-lint-") as directory:
        files = []
        for revision, text in sql.items():
            path = Path(directory) / f"{revision}.sql"
            path.write_text(text)
            files.append(str(path))
        result = subprocess.run(  # noqa: S603 - fixed argv  # nosec B603
            [str(squawk), "--config", str(SQUAWK_CONFIG), "--reporter", "json", *files],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode not in (0, 1) or not result.stdout.strip().startswith("["):
        msg = f"squawk failed (exit {result.returncode}): {result.stderr or result.stdout}"
        raise SystemExit(msg)
    findings = []
    for item in json.loads(result.stdout):
        revision = Path(item["file"]).stem
        statement = next(
            (
                text
                for first, last, text in _statements(sql[revision])
                if first <= item["line"] <= last
            ),
            f"line {item['line']}",
        )
        findings.append(
            Finding(
                revision=revision,
                rule=item["rule_name"],
                statement=statement[:_STATEMENT_CHARS],
                message=item["message"],
            )
        )
    return sorted(findings)


def load_accepted(path: Path = ACCEPTED) -> list[Finding]:
    data = tomllib.loads(path.read_text())
    accepted = []
    for entry in data.get("finding", []):
        if not entry.get("reason", "").strip():
            msg = f"{path.name}: {entry}: every accepted finding needs a reason"
            raise SystemExit(msg)
        accepted.append(Finding(entry["revision"], entry["rule"], entry["statement"]))
    return accepted


def compare(found: list[Finding], accepted: list[Finding]) -> list[str]:
    """Problems: findings not accepted, and accepted findings no longer found."""
    left = Counter(finding.key for finding in accepted)
    problems = []
    for finding in found:
        if left[finding.key] > 0:
            left[finding.key] -= 1
            continue
        problems.append(
            f"{finding.revision}: {finding.rule}: {finding.message}\n"
            f"    statement: {finding.statement}"
        )
    for (revision, rule, statement), count in sorted(left.items()):
        if count > 0:
            problems.append(
                f"{revision}: {rule}: accepted in {ACCEPTED.name} but no longer found; "
                f"remove it\n    statement: {statement}"
            )
    return problems


def lint(
    squawk: Path, config: Config | None = None, accepted: list[Finding] | None = None
) -> list[str]:
    config = config or alembic_config()
    found = run_squawk(squawk, revision_sql(config))
    return compare(found, load_accepted() if accepted is None else accepted)


def _squawk_path(given: str | None) -> Path | None:
    if given:
        return Path(given)
    if DEFAULT_SQUAWK.exists():
        return DEFAULT_SQUAWK
    found = shutil.which("squawk")
    return Path(found) if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.migration_lint", description=__doc__)
    parser.add_argument("--squawk", help="the squawk binary (default: make install's)")
    args = parser.parse_args(argv)
    squawk = _squawk_path(args.squawk)
    if squawk is None or not squawk.exists():
        print("squawk not found: run make install (requirements/lint-tools.txt)", file=sys.stderr)  # noqa: T201
        return 2
    problems = lint(squawk)
    for problem in problems:
        print(problem, file=sys.stderr)  # noqa: T201
    if problems:
        print(  # noqa: T201
            f"migration lint: {len(problems)} problem(s). Make the revision safe under load "
            "(docs/07-database.md#changing-the-schema-without-downtime)",
            file=sys.stderr,
        )
        return 1
    accepted = len(load_accepted())
    print(f"migration lint: clean ({accepted} accepted finding(s) of released revisions)")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
