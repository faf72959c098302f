"""Prepayment (提前还款) uses what the loan holds, settles accrued interest first, then principal
(issue 23 §1), and the payoff amount settles a loan exactly."""

from __future__ import annotations

from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import InvalidCommandError
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


def _annuity(ledger: LoanLedger, method: str = "annuity") -> None:
    """12,000.00 over 12 months at 6 %, disbursed 2024-01-15 (annuity installment 1,032.80)."""
    for command in pre_loan("L-1", method=method):
        ledger.execute(command)
    ledger.execute(disburse("L-1", "2024-01-15", "12000.00"))


def test_a_prepayment_keeping_the_installment_shortens_the_term(ledger: LoanLedger) -> None:
    """After installment 1 (02-15), 3,000.00 prepaid the same day leaves 8,027.20; kept at
    1,032.80 a month it is repaid in 8 more installments instead of 11."""
    _annuity(ledger)
    ledger.execute(repay("L-1", "2024-02-15", "1032.80", "R-1"))

    ledger.execute(_prepay("L-1", "2024-02-15", "3000.00", "R-2", keep="installment"))
    rows = ledger.schedule("L-1")

    assert len(rows) == 9
    assert {row["installment"] for row in rows[1:-1]} == {"1032.80"}
    assert rows[-1]["principal_remaining"] == "0.00"
    assert ledger.loan("L-1", as_of="2024-02-15")["principal_outstanding"] == "8027.20"


def test_a_prepayment_keeping_the_term_is_what_keep_defaults_to(ledger: LoanLedger) -> None:
    _annuity(ledger)
    ledger.execute(repay("L-1", "2024-02-15", "1032.80", "R-1"))

    ledger.execute(_prepay("L-1", "2024-02-15", "3000.00", "R-2", keep="term"))
    rows = ledger.schedule("L-1")

    assert len(rows) == 12
    assert rows[1]["installment"] == rows[2]["installment"] != "1032.80"


def test_keep_without_prepay_is_refused(ledger: LoanLedger) -> None:
    _annuity(ledger)

    with pytest.raises(InvalidCommandError, match="keep applies only to a repayment with prepay"):
        ledger.execute({**repay("L-1", "2024-02-15", "1032.80", "R-1"), "keep": "term"})


HELD_ON_MARCH_1 = {
    "annuity": "0.00",
    "equal_principal": "0.00",
    "interest_only": "440.00",
    "bullet": "500.00",
}


@pytest.mark.parametrize("method", ["annuity", "equal_principal", "interest_only", "bullet"])
def test_paying_the_payoff_total_with_what_is_held_settles_every_kind_of_loan(
    ledger: LoanLedger, method: str
) -> None:
    """500.00 held since 01-20 counts toward the payoff on 03-01, mid-period, less what installment
    1 (02-15) took of it: all of it for the amortising loans, the 60.00 interest of the
    interest-only one, nothing of the bullet one."""
    _annuity(ledger, method)
    ledger.execute(repay("L-1", "2024-01-20", "500.00", "R-1"))
    quote = ledger.payoff("L-1", "2024-03-01")

    ledger.execute(_prepay("L-1", "2024-03-01", quote["total"], "R-2"))
    view = ledger.loan("L-1", as_of="2024-03-01")

    assert quote["held"] == HELD_ON_MARCH_1[method]
    assert (view["status"], view["principal_outstanding"], view["overpayment"]) == (
        "closed",
        "0.00",
        "0.00",
    )
    assert ledger.payoff("L-1", "2024-03-01")["total"] == "0.00"
    assert ledger.reconcile("2024-03-01") == []


def test_the_payoff_quote_names_its_parts(ledger: LoanLedger) -> None:
    """On 2026-09-19 the issue's loan owes principal 89,964.70 and 243 days' interest 10,681.73;
    32,625.70 is held, so 68,020.73 is still to pay."""
    _bullet(ledger)
    ledger.execute(repay("L-1", "2026-05-19", "32625.70", "R-1"))

    assert ledger.payoff("L-1", "2026-09-19") == {
        "loan_id": "L-1",
        "on": "2026-09-19",
        "principal": "89964.70",
        "interest": "10681.73",
        "penalty": "0.00",
        "fees": "0.00",
        "held": "32625.70",
        "total": "68020.73",
    }
