"""Prepayment (提前还款) uses what the loan holds, settles accrued interest first, then principal
(issue 23 §1), and the payoff amount settles a loan exactly."""

from __future__ import annotations

from typing import Any

import pytest

from loanledger import LoanLedger
from tests.journal import disburse, pre_loan, repay

STORE_KINDS = ("memory", "sqlite")


def _bullet(ledger: LoanLedger, method: str = "bullet", *, loan_id: str = "L-1") -> None:
    """The issue's loan: 89,964.70 at 17.59 % for 12 months, disbursed 2026-01-19."""
    for command in pre_loan(
        loan_id,
        amount="89964.70",
        annual_rate="0.1759",
        method=method,
        applied_on="2026-01-05",
        approved_on="2026-01-12",
    ):
        ledger.execute(command)
    ledger.execute(disburse(loan_id, "2026-01-19", "89964.70"))


def _prepay(loan_id: str, on: str, amount: str, reference: str, **extra: Any) -> dict[str, Any]:
    return {**repay(loan_id, on, amount, reference, prepay=True), **extra}


def test_a_prepayment_with_what_is_held_that_covers_the_payoff_settles_the_loan(
    ledger: LoanLedger,
) -> None:
    """32,625.70 held since 05-19 plus 92,177.24 prepaid on 09-19 is 124,802.94; the payoff on
    09-19 is principal 89,964.70 plus interest 89,964.70 × 0.1759 × 243 / 360 = 10,681.73
    (100,646.43), so the loan is settled that day: 8,469.19 of what was held goes to it and
    24,156.51 stays held for the borrower."""
    _bullet(ledger)
    ledger.execute(repay("L-1", "2026-05-19", "32625.70", "R-1"))

    result = ledger.execute(_prepay("L-1", "2026-09-19", "92177.24", "R-2"))
    view = ledger.loan("L-1", as_of="2026-09-19")

    assert result["allocation"] == {
        "interest": "10681.73",
        "overpayment": "0.00",
        "overpayment_applied": "8469.19",
        "penalty": "0.00",
        "prepaid_principal": "89964.70",
        "principal": "0.00",
    }
    assert (view["status"], view["principal_outstanding"], view["overpayment"]) == (
        "overpaid",
        "0.00",
        "24156.51",
    )
    assert view["next_due_date"] is None
    assert ledger.payoff("L-1", "2026-09-19")["total"] == "0.00"


def test_a_prepayment_of_95000_reduces_principal_as_one_of_85000_does(ledger: LoanLedger) -> None:
    """Interest accrued to 09-19 (10,681.73) is settled first, then principal: 85,000 leaves
    15,646.43 outstanding, 95,000 leaves 5,646.43, and neither holds anything."""
    outstanding = {}
    for amount in ("85000.00", "95000.00"):
        loan_id = f"L-{amount[:2]}"
        _bullet(ledger, loan_id=loan_id)
        result = ledger.execute(_prepay(loan_id, "2026-09-19", amount, "R-1"))
        assert result["allocation"]["interest"] == "10681.73"
        assert result["allocation"]["overpayment"] == "0.00"
        view = ledger.loan(loan_id, as_of="2026-09-19")
        outstanding[amount] = (view["principal_outstanding"], view["overpayment"], view["status"])

    assert outstanding == {
        "85000.00": ("15646.43", "0.00", "active"),
        "95000.00": ("5646.43", "0.00", "active"),
    }
