"""A product's late fee (滞纳金, issue 19 item 4): flat or a percentage of the overdue
installment, charged once per installment on the day it is `after_days` days past due, capped
per installment and per loan, booked `fee_receivable` / `fee_income`, allocated by the strategy,
and gone again when a backdated payment shows the installment was paid in time.

Every book here: 12000.00 at 6 % over 12 months (annuity), disbursed 2024-01-15; installments
of 1032.80 (972.80 principal + 60.00 interest first) due on the 15th from 2024-02-15."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from loanledger import LoanLedger
from tests.journal import disburse, repay, write_off
from tests.products.builders import disbursed_with_fees, loan_on, product

ALLOCATIONS = (
    "penalty_interest_principal",
    "interest_principal_penalty",
    "principal_interest_penalty",
    "horizontal",
)


def _book(late: dict[str, Any], **fields: Any) -> LoanLedger:
    return disbursed_with_fees({"late": late}, **fields)


def _balances(ledger: LoanLedger, as_of: str) -> dict[str, str]:
    result = {}
    for row in ledger.report("trial_balance", as_of=as_of):
        net = Decimal(row["debit"]) - Decimal(row["credit"])
        if net and row["account"].startswith(("fee", "offbs", "cash")):
            result[row["account"]] = f"{net:.2f}"
    return result


def _fees(ledger: LoanLedger, as_of: str) -> tuple[str, str]:
    view = ledger.loan("L-1", as_of=as_of)
    return view["fees_charged"], view["fees_outstanding"]


def test_a_flat_late_fee_is_charged_the_day_the_installment_is_after_days_past_due() -> None:
    ledger = _book({"flat": "30.00", "after_days": 15})
    assert _fees(ledger, "2024-02-29") == ("0.00", "0.00")  # 14 days past due
    assert _fees(ledger, "2024-03-01") == ("30.00", "30.00")  # 15 days past due
    assert ledger.loan("L-1", as_of="2024-03-01")["days_past_due"] == 15
    assert _balances(ledger, "2024-03-01") == {
        "cash_clearing": "-12000.00",
        "fee_receivable": "30.00",
        "fee_income": "-30.00",
    }
    (first, second, *_) = ledger.installments("L-1", as_of="2024-03-01")
    assert (first["fee_due"], first["fee_outstanding"], second["fee_due"]) == (
        "30.00",
        "30.00",
        "0.00",
    )
    # Once per installment: the first installment's fee is not charged again.
    assert _fees(ledger, "2024-03-29") == ("30.00", "30.00")
    # The second installment (due 03-15) is 15 days past due on 03-30.
    assert _fees(ledger, "2024-03-30") == ("60.00", "60.00")


def test_a_percent_late_fee_is_of_the_principal_and_interest_unpaid_that_day() -> None:
    ledger = _book({"percent": "0.05", "after_days": 15})
    assert _fees(ledger, "2024-03-01") == ("51.64", "51.64")  # 5 % of 1032.80 = 51.64
    # 532.80 on 02-20 pays 1.03 penalty (02-16..02-19: 1032.80 × 0.06 × 1.5 / 360 × 4 =
    # 1.0328), 60.00 interest and 471.77 principal: 501.03 unpaid, 5 % = 25.0515.
    paid = _book({"percent": "0.05", "after_days": 15})
    paid.execute(repay("L-1", "2024-02-20", "532.80", "R-1"))
    assert _fees(paid, "2024-03-01") == ("25.05", "25.05")


def test_the_fee_stops_at_its_cap_per_installment_and_per_loan() -> None:
    ledger = _book({"percent": "0.05", "after_days": 15, "cap": "50.00", "cap_per_loan": "80.00"})
    # Installment 1: 51.64 capped at 50.00; installment 2: 50.00 cut to the 30.00 left under
    # the loan's 80.00; installment 3 and later: nothing is left.
    assert _fees(ledger, "2024-03-01") == ("50.00", "50.00")
    assert _fees(ledger, "2024-03-30") == ("80.00", "80.00")
    assert _fees(ledger, "2024-05-30") == ("80.00", "80.00")
    rows = ledger.installments("L-1", as_of="2024-05-30")
    assert [row["fee_due"] for row in rows[:4]] == ["50.00", "30.00", "0.00", "0.00"]


def test_paying_the_arrears_on_the_fee_day_itself_avoids_the_fee() -> None:
    ledger = _book({"flat": "30.00", "after_days": 15})
    # Through 02-29: 14 days of penalty, 1032.80 × 0.00025 × 14 = 3.6148.
    ledger.execute(repay("L-1", "2024-03-01", "1036.41", "R-1"))
    assert _fees(ledger, "2024-03-01") == ("0.00", "0.00")


def test_a_backdated_payment_that_cures_in_time_removes_the_fee() -> None:
    on_time = _book({"flat": "30.00", "after_days": 15})
    on_time.execute(repay("L-1", "2024-02-20", "1033.83", "R-1"))  # 1.03 penalty + 1032.80
    late = _book({"flat": "30.00", "after_days": 15})
    before = datetime.now(UTC)
    assert _fees(late, "2024-03-10") == ("30.00", "30.00")
    late.execute(repay("L-1", "2024-02-20", "1033.83", "R-1"))  # learned after 03-01
    assert _fees(late, "2024-03-10") == ("0.00", "0.00")
    assert late.loan("L-1", as_of="2024-03-10") == on_time.loan("L-1", as_of="2024-03-10")
    assert late.report("trial_balance", as_of="2024-03-31") == on_time.report(
        "trial_balance", as_of="2024-03-31"
    )
    # As known before the payment was recorded, the fee stands.
    assert late.loan("L-1", as_of="2024-03-10", known_at=before)["fees_outstanding"] == "30.00"


def test_a_paid_late_fee_posts_cash_against_the_receivable() -> None:
    ledger = _book({"flat": "30.00", "after_days": 15})
    quote = ledger.payoff("L-1", "2024-03-05")
    assert quote["fees"] == "30.00"
    ledger.execute(repay("L-1", "2024-03-05", quote["total"], "R-1", prepay=True))
    view = ledger.loan("L-1", as_of="2024-03-05")
    assert (view["status"], view["fees_outstanding"], view["fees_charged"]) == (
        "closed",
        "0.00",
        "30.00",
    )
    balances = _balances(ledger, "2024-03-05")
    assert (balances.get("fee_receivable"), balances["fee_income"]) == (None, "-30.00")


def test_a_late_fee_arising_past_90_days_is_held_off_balance_sheet_until_paid() -> None:
    ledger = _book({"flat": "30.00", "after_days": 95})
    # Charged on 05-20 (95 days past due): non-accrual, so the memo pair, not income.
    assert _fees(ledger, "2024-05-20") == ("30.00", "30.00")
    balances = _balances(ledger, "2024-05-20")
    assert "fee_income" not in balances and "fee_receivable" not in balances
    quote = ledger.payoff("L-1", "2024-05-21")
    ledger.execute(repay("L-1", "2024-05-21", quote["total"], "R-1", prepay=True))
    assert _balances(ledger, "2024-05-21")["fee_income"] == "-30.00"


def test_a_late_fee_alone_never_makes_the_loan_past_due() -> None:
    ledger = _book({"flat": "30.00", "after_days": 1}, allocation="interest_principal_penalty")
    # 1061.80 meets interest and principal (1032.80), then 29.00 of the 30.00 fee; the fee's
    # last 1.00 and the penalty of 02-16..02-19 (1.03) stay unpaid, the loan is not past due.
    ledger.execute(repay("L-1", "2024-02-20", "1061.80", "R-1"))
    view = ledger.loan("L-1", as_of="2024-02-21")
    assert (view["days_past_due"], view["fees_outstanding"], view["penalty_outstanding"]) == (
        0,
        "1.00",
        "1.03",
    )
    assert view["status"] == "active"


# Two installments past due on 2024-03-17, each charged a 10.00 late fee the day after its due
# date (02-16, 03-16): penalty 7.75 on the first (30 days × 0.2582) and 0.26 on the second;
# 1100.00 paid on 03-17.
STRATEGY_PAYS = {
    # first: 7.75 + 10.00 + 60.00 + 972.80; second: 0.26 penalty, 10.00 fee, 39.19 interest.
    "penalty_interest_principal": {
        "penalty": "8.01",
        "fee": "20.00",
        "interest": "99.19",
        "principal": "972.80",
    },
    # first: 60.00 + 972.80 + 10.00 + 7.75; second: 49.45 interest.
    "interest_principal_penalty": {
        "penalty": "7.75",
        "fee": "10.00",
        "interest": "109.45",
        "principal": "972.80",
    },
    # first: 972.80 + 60.00 + 10.00 + 7.75; second: 49.45 principal.
    "principal_interest_penalty": {
        "penalty": "7.75",
        "fee": "10.00",
        "interest": "60.00",
        "principal": "1022.25",
    },
    # penalty 7.75 + 0.26, fees 10.00 + 10.00, interest 60.00 + 55.14, principal 956.85.
    "horizontal": {"penalty": "8.01", "fee": "20.00", "interest": "115.14", "principal": "956.85"},
}


@pytest.mark.parametrize("strategy", ALLOCATIONS)
def test_each_allocation_strategy_pays_the_fee_beside_the_penalty(strategy: str) -> None:
    ledger = _book({"flat": "10.00", "after_days": 1}, allocation=strategy)
    assert _fees(ledger, "2024-03-16") == ("20.00", "20.00")
    allocation = ledger.execute(repay("L-1", "2024-03-17", "1100.00", "R-1"))["allocation"]
    assert {kind: allocation[kind] for kind in STRATEGY_PAYS[strategy]} == STRATEGY_PAYS[strategy]
    paid = Decimal(STRATEGY_PAYS[strategy]["fee"])
    assert ledger.loan("L-1", as_of="2024-03-17")["fees_outstanding"] == f"{20 - paid:.2f}"
    balances = _balances(ledger, "2024-03-17")
    assert balances.get("fee_receivable", "0.00") == f"{20 - paid:.2f}"


def _restructured(late: dict[str, Any] | None) -> LoanLedger:
    ledger = _book(late) if late is not None else _plain_book()
    ledger.execute(
        {
            "command": "restructure",
            "loan_id": "L-1",
            "on": "2024-03-20",
            "approver": "approver-1",
            "term_months": 12,
            "annual_rate": "0.06",
            "repayment_method": "annuity",
            "reason": "cash-flow strain",
        }
    )
    return ledger


def _plain_book() -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    ledger.execute(product())
    for line in loan_on("SME"):
        ledger.execute(line)
    ledger.execute(disburse("L-1", "2024-01-15", "12000.00"))
    return ledger


def test_a_restructure_capitalises_the_unpaid_late_fee() -> None:
    # By 03-20 one fee is charged (03-01); the second installment's day is 03-30.
    with_fee = _restructured({"flat": "30.00", "after_days": 15})
    without = _restructured(None)
    view = with_fee.loan("L-1", as_of="2024-03-20")
    assert view["fees_outstanding"] == "0.00"
    assert Decimal(view["principal_outstanding"]) - Decimal(
        without.loan("L-1", as_of="2024-03-20")["principal_outstanding"]
    ) == Decimal("30.00")
    balances = _balances(with_fee, "2024-03-20")
    assert (balances.get("fee_receivable"), balances["fee_income"]) == (None, "-30.00")


def test_a_write_off_takes_the_fee_receivable_off_the_books() -> None:
    ledger = _book({"flat": "30.00", "after_days": 15})
    # Charged on balance sheet 03-01, 03-30, 04-30 (days past due 15, 44, 75); 05-30, 06-30,
    # 07-30 past 90 days: in the memo pair.
    assert _balances(ledger, "2024-07-31")["fee_receivable"] == "90.00"
    ledger.execute(write_off("L-1", "2024-08-01"))
    balances = _balances(ledger, "2024-08-01")
    assert ("fee_receivable" in balances, balances["fee_income"]) == (False, "-90.00")
    assert ledger.loan("L-1", as_of="2024-08-01")["fees_outstanding"] == "180.00"
