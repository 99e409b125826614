"""The migration lint (tests/migration_lint.py, part of `make lint`): the released revisions pass
with their accepted findings, and a new revision that would block traffic fails.

No database: the SQL is Alembic's offline (``--sql``) output. squawk comes from
requirements/lint-tools.txt (`make install`); without it these tests skip, except under CI.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from app.bootstrap.migrations import alembic_config
from tests import migration_lint
from tests.migration_lint import Finding, compare, load_accepted, revision_sql, run_squawk

VERSIONS = Path(migration_lint.__file__).resolve().parents[1] / "app" / "migrations" / "versions"


@pytest.fixture(scope="module")
def squawk() -> Path:
    if not migration_lint.DEFAULT_SQUAWK.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("squawk missing: make install builds .local/lint-tools")
        pytest.skip("squawk not installed (make install)")
    return migration_lint.DEFAULT_SQUAWK


def _with_new_revisions(tmp_path: Path, *bodies: str) -> Config:
    """The project's revisions plus new ones after head (0009, 0010...), bodies of upgrade()."""
    down = "0008"
    for number, body in enumerate(bodies, start=9):
        rev = f"{number:04d}"
        (tmp_path / f"{rev}_new.py").write_text(
            textwrap.dedent(
                f'''
                """A new revision."""
                import sqlalchemy as sa
                from alembic import op

                from app.migrations.timeouts import set_timeouts

                revision = {rev!r}
                down_revision = {down!r}
                branch_labels = None
                depends_on = None


                def upgrade() -> None:
                '''
            )
            + textwrap.indent(textwrap.dedent(body).strip(), "    ")
            + "\n\n\ndef downgrade() -> None:\n    pass\n"
        )
        down = rev
    config = alembic_config()
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join([str(VERSIONS), str(tmp_path)]))
    return config


def _lint_new(squawk: Path, config: Config, tmp_path: Path) -> list[str]:
    new = {path.name.split("_", 1)[0] for path in tmp_path.glob("*.py")}
    sql = {rev: text for rev, text in revision_sql(config).items() if rev in new}
    return compare(run_squawk(squawk, sql), [])


def test_released_revisions_pass_with_exactly_their_accepted_findings(squawk: Path) -> None:
    assert migration_lint.lint(squawk) == []


def test_the_accepted_history_is_0004s_and_0007s_findings() -> None:
    accepted = load_accepted()
    assert {(finding.revision, finding.rule) for finding in accepted} == {
        ("0004", "adding-field-with-default"),
        ("0004", "require-concurrent-index-deletion"),
        ("0004", "require-concurrent-index-creation"),
        ("0004", "constraint-missing-not-valid"),
        ("0004", "disallowed-unique-constraint"),
        ("0007", "require-concurrent-index-creation"),
    }


def test_a_new_finding_in_a_released_revision_fails_and_a_stale_entry_fails(
    squawk: Path,
) -> None:
    found = run_squawk(squawk, revision_sql(alembic_config()))
    accepted = load_accepted()
    missing_one = [entry for entry in accepted if "ix_orders_paid_at" not in entry.statement]

    problems = compare(found, missing_one)

    assert len(problems) == 1
    assert problems[0].startswith("0007: require-concurrent-index-creation")
    assert "ix_orders_paid_at" in problems[0]
    stale = compare(found, [*accepted, Finding("0002", "ban-drop-table", "DROP TABLE x;")])
    assert len(stale) == 1
    assert "no longer found" in stale[0]


def test_a_new_index_on_an_existing_table_without_concurrently_fails(
    squawk: Path, tmp_path: Path
) -> None:
    config = _with_new_revisions(
        tmp_path, 'op.create_index("ix_orders_currency", "orders", ["currency"])'
    )

    problems = _lint_new(squawk, config, tmp_path)

    assert len(problems) == 1
    assert problems[0].startswith("0009: require-concurrent-index-creation")
    assert "CREATE INDEX ix_orders_currency ON orders (currency);" in problems[0]


def test_a_new_not_null_column_without_a_default_fails(squawk: Path, tmp_path: Path) -> None:
    config = _with_new_revisions(
        tmp_path, 'op.add_column("orders", sa.Column("note", sa.Text(), nullable=False))'
    )

    problems = _lint_new(squawk, config, tmp_path)

    assert [problem.split(":")[1].strip() for problem in problems] == ["adding-required-field"]
    assert problems[0].startswith("0009: ")


def test_the_safe_patterns_of_chapter_07_pass(squawk: Path, tmp_path: Path) -> None:
    """What docs/07 teaches: a nullable column and one with a constant default, a constraint
    added NOT VALID; an index built CONCURRENTLY in an autocommit block, in a revision of its own
    (it commits as it goes, so it must be safe to run again: any invalid leftover of a failed
    build is dropped first); the constraint validated in a later revision."""
    config = _with_new_revisions(
        tmp_path,
        """
        op.add_column("orders", sa.Column("note", sa.Text(), nullable=True))
        op.add_column(
            "orders", sa.Column("priority", sa.Integer(), server_default="0", nullable=False)
        )
        op.create_check_constraint(
            "note_length", "orders", "length(note) <= 500", postgresql_not_valid=True
        )
        """,
        """
        set_timeouts(statement_timeout_ms=30 * 60_000)
        with op.get_context().autocommit_block():
            op.drop_index(
                "ix_orders_currency",
                table_name="orders",
                postgresql_concurrently=True,
                if_exists=True,
            )
            op.create_index(
                "ix_orders_currency",
                "orders",
                ["currency"],
                postgresql_concurrently=True,
                if_not_exists=True,
            )
        """,
        'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_note_length")',
    )

    problems = _lint_new(squawk, config, tmp_path)

    assert problems == [], "\n".join(problems)


def test_a_new_revision_starts_from_a_template_that_shows_the_timeouts_hook(
    squawk: Path, tmp_path: Path
) -> None:
    config = _with_new_revisions(tmp_path)
    command.revision(config, "add a thing", rev_id="0009", version_path=str(tmp_path))

    (written,) = tmp_path.glob("0009_*.py")
    source = written.read_text()
    compile(source, str(written), "exec")
    assert "from app.migrations.timeouts import set_timeouts" in source
    assert "set_timeouts(lock_timeout_ms=..., statement_timeout_ms=...)" in source
    assert "autocommit_block()" in source
    assert _lint_new(squawk, config, tmp_path) == []
