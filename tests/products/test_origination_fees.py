"""An origination fee (issue 19 item 5, the part built): flat or a percentage of each
disbursement, withheld from the proceeds, posted through `fee_receivable` and `fee_income`, shown
on the loan view and counted in the APR."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loanledger import LoanLedger
from tests.journal import disburse
from tests.products.builders import loan_on, product


def _book(fee: dict[str, str], *tranches: tuple[str, str]) -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    ledger.execute(product(fees={"origination": fee}))
    for line in loan_on("SME"):
        ledger.execute(line)
    for number, (on, amount) in enumerate(tranches, start=1):
        ledger.execute(disburse("L-1", on, amount, reference=f"D-{number}"))
    return ledger


def _balances(rows: list[dict[str, Any]]) -> dict[str, str]:
    result = {}
    for row in rows:
        net = Decimal(row["debit"]) - Decimal(row["credit"])
        if net:
            result[row["account"]] = f"{net:.2f}"
    return result


def test_a_flat_fee_is_withheld_from_the_first_disbursement_and_booked_as_income() -> None:
    ledger = _book({"flat": "240.00"}, ("2024-01-15", "12000.00"))
    assert ledger.loan("L-1", as_of="2024-01-15")["fees_charged"] == "240.00"
    assert _balances(ledger.report("trial_balance", as_of="2024-01-15")) == {
        "loans_principal": "12000.00",
        "cash_clearing": "-11760.00",  # the borrower received 12000.00 less the fee
        "fee_income": "-240.00",
        # The general provision (1.5 % of loans, issue 21) the trial balance as of a date shows.
        "loan_loss_allowance": "-180.00",
        "impairment_expense": "180.00",
    }
    # The principal owed and the schedule are the full amount's.
    assert ledger.loan("L-1", as_of="2024-01-15")["principal_outstanding"] == "12000.00"
    assert ledger.schedule("L-1")[0]["installment"] == "1032.80"


def test_a_percentage_fee_is_charged_on_each_tranche() -> None:
    ledger = _book({"percent": "0.0125"}, ("2024-01-15", "8000.00"), ("2024-01-20", "4000.00"))
    # 8000.00 × 1.25% = 100.00 and 4000.00 × 1.25% = 50.00.
    assert ledger.loan("L-1", as_of="2024-01-20")["fees_charged"] == "150.00"
    balances = _balances(ledger.report("trial_balance", as_of="2024-01-20"))
    assert (balances["fee_income"], balances["cash_clearing"]) == ("-150.00", "-11850.00")
    assert "fee_receivable" not in balances  # collected as it is charged


def test_the_apr_counts_the_fee_as_less_money_received() -> None:
    # 11760.00 received, eleven installments of 1032.80 and a last of 1032.78: 12 × the
    # monthly IRR is 0.098002 (numpy-financial's irr of those flows).
    with_fee = _book({"flat": "240.00"}, ("2024-01-15", "12000.00"))
    without = _book({"percent": "0"}, ("2024-01-15", "12000.00"))
    assert without.loan("L-1", as_of="2024-01-15")["apr"] == "0.0600"
    assert with_fee.loan("L-1", as_of="2024-01-15")["apr"] == "0.0980"
