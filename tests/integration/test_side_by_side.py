"""The previous release still works on this release's schema (expand and contract, checked).

`helm upgrade` migrates the database first, then replaces pods one by one: for a while the
previous release's pods serve on the new schema next to the new ones, and after a `helm rollback`
the previous release serves on it for good (migrations go forward only). So the previous release's
code runs its smoke flow (sign-up, log-in, browse, order, pay) against this run's database,
migrated to the current head, while the current code runs the same flow on the same database
and the same Redis, each as a real gunicorn server.

The previous release is the newest tag matching ``v*`` before HEAD; with no tag, the parent of
the newest commit that changed app/migrations/versions, so the old code predates the newest schema
change (the previous commit on main would mostly be code that already knows the newest schema).
Its code comes from ``git archive``, its dependencies from its own requirements/main.txt
(release_support.py). Without git or with a shallow clone the test skips, and fails under CI=true.

A migration that renames or drops a column the previous release uses, or adds a NOT NULL column
it does not fill, fails this test: do it in expand and contract steps (docs/07-database.md).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.bootstrap.settings import Settings
from tests.integration.release_support import previous_release, side_by_side
from tests.integration.server_support import serve_api, serve_code


@pytest.mark.timeout(180)
def test_previous_release_and_this_one_serve_side_by_side_on_the_new_schema(
    settings: Settings, tmp_path: Path
) -> None:
    previous = previous_release(tmp_path)
    # One worker and a small pool each: the flow is one request at a time per release.
    small = {"APP_SERVER_WORKERS": "1", "APP_DB_POOL_SIZE": "2", "APP_DB_MAX_OVERFLOW": "2"}
    with (
        serve_api(settings, tmp_path / "current", **small) as current,
        serve_code(
            settings,
            tmp_path / "previous",
            {**small, "PYTHONPATH": str(previous.root)},
            python=previous.python,
            cwd=previous.root,  # `python -m app` finds the previous app/ first
            log=tmp_path / "previous.log",
        ) as old,
    ):
        try:
            asyncio.run(
                side_by_side(settings.db.url, {"previous": old.base, "current": current.base})
            )
        except AssertionError as error:
            log = (tmp_path / "previous.log").read_text(errors="replace")[-4000:]
            pytest.fail(f"previous release: {previous.why}\n{error}\n--- its log:\n{log}")
