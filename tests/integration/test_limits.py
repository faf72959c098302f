"""Every input that can grow has a limit with a clear error, and refusing records nothing."""

from __future__ import annotations

import pytest

from loanledger import LoanLedger
from loanledger.application.journal import MAX_LINE_BYTES
from loanledger.domain.errors import LimitExceededError
from loanledger.domain.loan import MAX_COLLATERAL_ITEMS, MAX_TRANCHES
from tests.journal import disburse, pre_loan

STORE_KINDS = ("memory",)


def test_a_loan_takes_at_most_100_collateral_items(ledger: LoanLedger) -> None:
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    for number in range(MAX_COLLATERAL_ITEMS):
        ledger.execute(
            {
                "command": "pledge_collateral",
                "loan_id": "L-0001",
                "on": "2024-01-10",
                "collateral_id": f"C-{number}",
                "kind": "car",
                "value": "10.00",
            }
        )
    before = ledger.verify().events_checked

    with pytest.raises(LimitExceededError, match="at most 100 collateral items"):
        ledger.execute(
            {
                "command": "pledge_collateral",
                "loan_id": "L-0001",
                "on": "2024-01-10",
                "collateral_id": "C-one-too-many",
                "kind": "car",
                "value": "10.00",
            }
        )
    assert ledger.verify().events_checked == before


def test_a_loan_takes_at_most_120_tranches(ledger: LoanLedger) -> None:
    for command in pre_loan("L-0001", amount="1000.00", term_months=24):
        ledger.execute(command)
    for number in range(MAX_TRANCHES):
        ledger.execute(disburse("L-0001", "2024-01-15", "1.00", reference=f"D-{number}"))

    with pytest.raises(LimitExceededError, match="at most 120 disbursement tranches"):
        ledger.execute(disburse("L-0001", "2024-01-15", "1.00", reference="D-more"))


def test_a_journal_line_above_64_kib_is_refused_before_it_is_parsed(ledger: LoanLedger) -> None:
    line = '{"command": "close_day", "on": "2024-01-01", "pad": "' + "x" * MAX_LINE_BYTES + '"}'

    with pytest.raises(LimitExceededError, match=r"^line 1: line is \d+ bytes, above the limit"):
        ledger.load([line])
