"""Issue 21: the loan view's `on_balance_outstanding` / `off_balance_outstanding` count the
loan's unpaid fees where the general ledger keeps them: a fee charged on the balance sheet
(`fee_receivable`) is on balance, a late fee charged past 90 days past due (the memo pair
`offbs_interest` / `offbs_contra`, docs/products.md "Fees") is off balance, and after a write-off
every unpaid fee is off balance.

The book: 12000.00 at 6 % over 12 months, disbursed 2024-01-15, never repaid; a flat late fee
of 30.00 at 15 days past due (charged 03-01, 03-30, 04-30 on balance; 05-30, 06-30, 07-30 past
90 days, in the memo pair)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loanledger import LoanLedger
from tests.journal import write_off
from tests.products.builders import disbursed_with_fees

LOAN_ASSETS = ("loans_principal", "interest_receivable", "penalty_receivable", "fee_receivable")


def _book() -> LoanLedger:
    return disbursed_with_fees({"late": {"flat": "30.00", "after_days": 15}})


def _balances(ledger: LoanLedger, as_of: str) -> dict[str, Decimal]:
    return {
        row["account"]: Decimal(row["debit"]) - Decimal(row["credit"])
        for row in ledger.report("trial_balance", as_of=as_of)
    }


def _figures(ledger: LoanLedger, as_of: str) -> tuple[Any, ...]:
    view = ledger.loan("L-1", as_of=as_of)
    return tuple(
        view[key]
        for key in (
            "days_past_due",
            "fees_outstanding",
            "balance_sheet",
            "on_balance_outstanding",
            "off_balance_outstanding",
        )
    )


def test_fees_charged_before_90_days_past_due_are_on_balance_and_tie_to_the_ledger() -> None:
    ledger = _book()

    figures = _figures(ledger, "2024-05-01")
    balances = _balances(ledger, "2024-05-01")

    assert figures == (76, "90.00", "on", "12291.28", "0.00")
    assert balances["fee_receivable"] == Decimal("90.00")
    # The ledger recognises penalty at month ends: 05-01's 0.77 (35.89 owed, 35.12 booked on
    # 04-30) is the only difference from its loan asset accounts.
    assert sum(balances[account] for account in LOAN_ASSETS) == Decimal("12290.51")
    assert ledger.loan("L-1", as_of="2024-05-01")["penalty_outstanding"] == "35.89"
    assert balances["penalty_receivable"] == Decimal("35.12")
    assert Decimal("12290.51") + Decimal("0.77") == Decimal(figures[3])


def test_a_late_fee_charged_past_90_days_is_off_balance_as_in_the_ledger() -> None:
    ledger = _book()

    figures = _figures(ledger, "2024-08-01")
    balances = _balances(ledger, "2024-08-01")
    view = ledger.loan("L-1", as_of="2024-08-01")
    owed = sum(
        Decimal(view[key])
        for key in ("principal_outstanding", "overdue_interest", "penalty_outstanding")
    )

    assert figures == (168, "180.00", "on", "12520.39", "90.00")
    assert balances["fee_receivable"] == Decimal("90.00")
    assert Decimal(figures[3]) - owed == balances["fee_receivable"]


def test_after_a_write_off_every_unpaid_fee_is_off_balance() -> None:
    ledger = _book()
    ledger.execute(write_off("L-1", "2024-08-01"))

    assert _figures(ledger, "2024-08-01") == (168, "180.00", "off", "0.00", "12610.39")
