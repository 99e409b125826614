"""make mutate's report: which survivors change only a message's words (accepted as a kind) and
which change behaviour (each must be killed or listed with its reason)."""

from __future__ import annotations

import pytest

from tests.mutation_report import ACCEPTED, Survivor, accepted, only_wording, wording_reason

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
