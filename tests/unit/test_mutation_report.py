"""make mutate's report: which survivors change only a message's words (accepted as a kind) and
which change behaviour (each must be killed or listed with its reason); make mutate-adapters'
accepted file and the [tool.mutmut] of its scratch copy."""

from __future__ import annotations

import runpy
import tomllib

import pytest

from tests.mutate_adapters import ADAPTERS, TESTS, mutmut_table, redis_slots, with_mutmut_table
from tests.mutation_report import (
    ACCEPTED,
    ROOT,
    Survivor,
    accepted,
    only_wording,
    wording_reason,
)

ADAPTERS_ACCEPTED = ROOT / "tests" / "mutants-accepted-adapters.toml"

WORDING = [
    ('raise MoneyError("An amount is finite.")', 'raise MoneyError("XXAn amount is finite.XX")'),
    ('raise MoneyError("An amount is finite.")', 'raise MoneyError("an amount is finite.")'),
    ('raise MoneyError("An amount is finite.")', "raise MoneyError(None)"),
    (
        'raise MoneyError(f"{amount!r} is not an amount.") from None',
        "raise MoneyError(None) from None",
    ),
    ('raise StockError("x", field="reason")', 'raise StockError("XXxXX", field="reason")'),
    ('error = NotFoundError("No such order.")', 'error = NotFoundError("NO SUCH ORDER.")'),
    (
        '"between them, ending with a letter or digit."',
        '"XXbetween them, ending with a letter or digit.XX"',
    ),
    (
        'f"{self.max_units} may await payment at once.",',
        'f"XX{self.max_units} may await payment at once.XX",',
    ),
    ('f"Cannot combine {self.currency} and {other.currency}."', "None"),
    (
        '"Stock cannot go below zero.", stock_on_hand=self.stock_on_hand',
        '"STOCK CANNOT GO BELOW ZERO.", stock_on_hand=self.stock_on_hand',
    ),
    ('"No such order.", order_id=str(order_id)', "None, order_id=str(order_id)"),
]
BEHAVIOUR = [
    ("return cls(value, code.upper() if code.isascii() else code)",
     "return cls(value, code.upper() if (code.isascii()) or True else code)"),
    ('if status == "paid":', 'if status == "XXpaidXX":'),
    ('"lines": sorted(item.sku for item in it)', '"XXlinesXX": sorted(item.sku for item in it)'),
    ('raise NotFoundError("No such order.", order_id=str(order_id))',
     'raise NotFoundError("No such order.", order_id=str(None))'),
    ('raise StockError("x", field="reason")', 'raise StockError("x", field="XXreasonXX")'),
    ('raise StockError("x", field="reason")', 'raise StockError("x", field=None)'),
    ("raise StockError(detail)", "raise StockError(None)"),
    ('return "paid"', 'return "XXpaidXX"'),
    ('raise MoneyError("A.")', 'raise MoneyError("A.")'),
    ('"No such order.", order_id=str(order_id)', '"No such order.", order_id=None'),
    ('"No such order.", order_id=str(order_id)', '"No such order.", '),
    ('"paid", order_id=str(order_id)', '"paid", order_id=str(None)'),
    ('"lines": sorted(str(i) for i in it)', '"LINES": sorted(str(i) for i in it)'),
    ('"lines", key=item.id', '"XXlinesXX", key=item.id'),
]  # fmt: skip


@pytest.mark.parametrize(("removed", "added"), WORDING)
def test_a_change_of_a_messages_words_is_wording(removed: str, added: str) -> None:
    assert only_wording(Survivor("f", removed, added))


@pytest.mark.parametrize(("removed", "added"), BEHAVIOUR)
def test_a_change_of_code_or_of_an_errors_context_is_not(removed: str, added: str) -> None:
    assert not only_wording(Survivor("f", removed, added))


def test_two_changed_lines_are_never_wording() -> None:
    removed = 'raise MoneyError(\n"An amount is finite.")'
    assert not only_wording(Survivor("f", removed, 'raise MoneyError(\n"XX"'))


def test_the_accepted_file_gives_the_wording_kind_a_reason_and_reads() -> None:
    reason = wording_reason(ACCEPTED)
    assert reason is not None
    assert "problem code" in reason
    assert all(reason for reason in accepted(ACCEPTED).values())


# --- make mutate-adapters: its accepted file and its scratch copy's [tool.mutmut] -------------


def test_the_adapters_accepted_file_reads_and_gives_each_entry_a_reason() -> None:
    reason = wording_reason(ADAPTERS_ACCEPTED)
    assert reason is not None
    assert all(reason for reason in accepted(ADAPTERS_ACCEPTED).values())


def test_the_scratch_copy_swaps_only_the_mutmut_table() -> None:
    project = (ROOT / "pyproject.toml").read_text()
    table = mutmut_table(ADAPTERS, TESTS)
    scratch = tomllib.loads(with_mutmut_table(project, table))
    original = tomllib.loads(project)
    assert scratch["tool"]["mutmut"]["only_mutate"] == ADAPTERS
    assert scratch["tool"]["mutmut"]["pytest_add_cli_args_test_selection"] == TESTS
    assert scratch["tool"]["mutmut"]["pytest_add_cli_args"][-2:] == ["-p", "tests.mutate_adapters"]
    del scratch["tool"]["mutmut"], original["tool"]["mutmut"]
    assert scratch == original  # pytest's options, mypy's... as the project has them


def test_the_sessions_load_the_plugin_by_its_import_name_however_the_script_was_started() -> None:
    """``python -m tests.mutate_adapters`` runs the module as ``__main__``: a table naming the
    plugin by ``__name__`` would make each mutant's session load mutmut's main module instead,
    and the two sessions at once would share (and flush) one Redis database."""
    as_script = runpy.run_path(str(ROOT / "tests" / "mutate_adapters.py"), run_name="as_a_script")
    table = tomllib.loads(as_script["mutmut_table"](ADAPTERS, TESTS))
    assert table["tool"]["mutmut"]["pytest_add_cli_args"][-2:] == ["-p", "tests.mutate_adapters"]


def test_the_adapters_and_tests_it_names_exist() -> None:
    for path in (*ADAPTERS, *TESTS):
        assert (ROOT / path).is_file(), path


@pytest.mark.parametrize(
    ("url", "slots"),
    [
        ("redis://127.0.0.1:6379/14", ["redis://127.0.0.1:6379/14", "redis://127.0.0.1:6379/15"]),
        ("redis://127.0.0.1:6379/15", ["redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/0"]),
        ("unix:///tmp/r.sock?db=0", ["unix:///tmp/r.sock?db=0", "unix:///tmp/r.sock?db=1"]),
    ],
)
def test_each_mutant_process_at_once_gets_a_redis_index_of_its_own(
    url: str, slots: list[str]
) -> None:
    assert redis_slots(url, 2) == slots
