"""A product's grace days: no penalty and no days past due inside them (issue 19 item 1)."""

from __future__ import annotations

from loanledger import LoanLedger
from tests.journal import disburse, repay
from tests.products.builders import loan_on, product


def _book(grace: int) -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    ledger.execute(product(grace_days=grace))
    for line in loan_on("SME"):
        ledger.execute(line)
    ledger.execute(disburse("L-1", "2024-01-15", "12000.00"))
    return ledger


def test_inside_the_grace_an_unpaid_installment_is_overdue_but_not_past_due() -> None:
    ledger = _book(grace=5)
    view = ledger.loan("L-1", as_of="2024-02-20")  # due 02-15, grace through 02-20
    assert (view["status"], view["days_past_due"], view["penalty_outstanding"]) == (
        "active",
        0,
        "0.00",
    )
    assert view["overdue_principal"] == "972.80"  # the amount is overdue all the same
    view = ledger.loan("L-1", as_of="2024-02-21")
    # Day one past the grace: 1032.80 × 0.06 × 1.5 / 360 = 0.2582.
    assert (view["status"], view["days_past_due"], view["penalty_outstanding"]) == (
        "overdue",
        1,
        "0.26",
    )
    assert ledger.report("loan_ledger", as_of="2024-02-21")[0]["days_past_due"] == 1


def test_the_first_dunning_notice_is_sent_the_day_after_the_grace() -> None:
    ledger = _book(grace=5)
    ledger.close_day("2024-02-21")
    dunning = [n for n in ledger.report("notices", as_of="2024-02-21") if n["kind"] == "dunning"]
    assert [n["issued_on"] for n in dunning] == ["2024-02-21"]


def test_paying_inside_the_grace_costs_no_penalty() -> None:
    ledger = _book(grace=5)
    result = ledger.execute(repay("L-1", "2024-02-20", "1032.80", "R-1"))
    assert result["allocation"]["penalty"] == "0.00"
    assert ledger.loan("L-1", as_of="2024-02-21")["days_past_due"] == 0


def test_without_grace_the_day_after_the_due_date_is_past_due() -> None:
    ledger = _book(grace=0)
    view = ledger.loan("L-1", as_of="2024-02-16")
    assert (view["days_past_due"], view["penalty_outstanding"]) == (1, "0.26")
