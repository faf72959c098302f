"""An origination fee spread over the schedule (`"collect": "schedule"`, issue 19 item 4): each
installment carries its share (fee / installments rounded down to the fen, the last takes the
remainder), due with it: it counts for days past due, the strategy allocates it, the payoff
includes what is left, and the APR counts it as paid with the installments.

The loan: 12000.00 at 6 % over 12 months (annuity), disbursed 2024-01-15 in full (the fee is
not withheld); installments of 1032.80 due on the 15th from 2024-02-15 (the last 1032.78)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import numpy_financial as npf
from hypothesis import given
from hypothesis import strategies as st

from loanledger import LoanLedger
from tests.journal import disburse, repay
from tests.products.builders import loan_on, product

SPREAD = {"origination": {"flat": "100.00", "collect": "schedule"}}


def _book(fees: dict[str, Any] = SPREAD, *tranches: tuple[str, str], **terms: Any) -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    ledger.execute(product(fees=fees, repayment_methods=["annuity", "equal_principal", "bullet"]))
    for line in loan_on("SME", **terms):
        ledger.execute(line)
    for number, (on, amount) in enumerate(tranches or (("2024-01-15", "12000.00"),), start=1):
        ledger.execute(disburse("L-1", on, amount, reference=f"D-{number}"))
    return ledger


def _balances(ledger: LoanLedger, as_of: str) -> dict[str, str]:
    result = {}
    for row in ledger.report("trial_balance", as_of=as_of):
        net = Decimal(row["debit"]) - Decimal(row["credit"])
        if net and row["account"].startswith(("fee", "cash")):
            result[row["account"]] = f"{net:.2f}"
    return result


def test_the_fee_is_spread_over_12_installments_and_the_last_takes_the_remainder() -> None:
    ledger = _book()
    rows = ledger.schedule("L-1")
    # 100.00 / 12 = 8.333... rounded down to 8.33 eleven times (91.63); the last 8.37.
    assert [row["fee"] for row in rows] == ["8.33"] * 11 + ["8.37"]
    assert sum(Decimal(row["fee"]) for row in rows) == Decimal("100.00")
    # The installments themselves are the contract's, unchanged.
    assert [row["installment"] for row in rows] == ["1032.80"] * 11 + ["1032.78"]


def test_an_approved_loan_s_provisional_schedule_shows_the_fee_already() -> None:
    ledger = LoanLedger.open("memory://")
    ledger.execute(product(fees=SPREAD))
    for line in loan_on("SME"):
        ledger.execute(line)
    assert [row["fee"] for row in ledger.schedule("L-1", as_of="2024-01-10")] == ["8.33"] * 11 + [
        "8.37"
    ]


def test_the_fee_is_a_receivable_from_the_disbursement_and_the_proceeds_are_whole() -> None:
    ledger = _book()
    view = ledger.loan("L-1", as_of="2024-01-15")
    assert (view["fees_charged"], view["fees_outstanding"]) == ("100.00", "100.00")
    assert _balances(ledger, "2024-01-15") == {
        "cash_clearing": "-12000.00",  # nothing withheld
        "fee_receivable": "100.00",
        "fee_income": "-100.00",
    }


def test_an_installment_paid_without_its_fee_share_is_past_due() -> None:
    ledger = _book()
    ledger.execute(repay("L-1", "2024-02-15", "1032.80", "R-1"))
    view = ledger.loan("L-1", as_of="2024-02-16")
    assert (view["days_past_due"], view["status"]) == (1, "overdue")
    ledger.execute(repay("L-1", "2024-02-16", "8.33", "R-2"))
    view = ledger.loan("L-1", as_of="2024-02-16")
    assert (view["days_past_due"], view["fees_outstanding"]) == (0, "91.67")
    assert _balances(ledger, "2024-02-16")["fee_receivable"] == "91.67"
    (first, *_) = ledger.installments("L-1", as_of="2024-02-16")
    assert (first["status"], first["fee_due"], first["fee_paid"], first["paid_on"]) == (
        "paid",
        "8.33",
        "8.33",
        "2024-02-16",
    )


def test_the_next_due_amount_includes_the_fee_share() -> None:
    ledger = _book()
    view = ledger.loan("L-1", as_of="2024-02-01")
    assert (view["next_due_date"], view["next_due_amount"]) == ("2024-02-15", "1041.13")


def test_held_money_meets_interest_then_principal_then_the_fee_share() -> None:
    ledger = _book()
    # 2100.00 on 02-15: the first installment and its share (1041.13), 1058.87 held; on 03-15
    # the held money meets the second (55.14 + 977.66 + 8.33), 17.74 stays held.
    ledger.execute(repay("L-1", "2024-02-15", "2100.00", "R-1"))
    view = ledger.loan("L-1", as_of="2024-03-16")
    assert (view["days_past_due"], view["overpayment"], view["fees_outstanding"]) == (
        0,
        "17.74",
        "83.34",
    )


def test_the_payoff_includes_every_share_left_and_settles_the_loan() -> None:
    ledger = _book()
    ledger.execute(repay("L-1", "2024-02-15", "1041.13", "R-1"))
    quote = ledger.payoff("L-1", "2024-03-01")
    # 11027.20 principal, 15 days' interest (11027.20 × 0.06 × 15 / 360 = 27.568) and the
    # eleven shares not paid (8.33 × 10 + 8.37): 11027.20 + 27.57 + 91.67.
    assert (quote["principal"], quote["interest"], quote["fees"], quote["total"]) == (
        "11027.20",
        "27.57",
        "91.67",
        "11146.44",
    )
    ledger.execute(repay("L-1", "2024-03-01", quote["total"], "P-1", prepay=True))
    view = ledger.loan("L-1", as_of="2024-03-01")
    assert (view["status"], view["fees_outstanding"]) == ("closed", "0.00")
    assert "fee_receivable" not in _balances(ledger, "2024-03-01")


def test_a_prepayment_keeping_the_term_keeps_each_share() -> None:
    ledger = _book()
    ledger.execute(repay("L-1", "2024-02-15", "1041.13", "R-1"))
    ledger.execute(repay("L-1", "2024-03-01", "3000.00", "P-1", prepay=True))
    rows = ledger.schedule("L-1", as_of="2024-03-01")
    assert [row["fee"] for row in rows] == ["8.33"] * 11 + ["8.37"]
    assert rows[2]["installment"] == "754.40"  # the installments fell, the shares did not


def test_a_prepayment_keeping_the_installment_spreads_the_shares_left_again() -> None:
    ledger = _book()
    ledger.execute(repay("L-1", "2024-02-15", "1041.13", "R-1"))
    ledger.execute(repay("L-1", "2024-03-01", "3000.00", "P-1", prepay=True))
    ledger.execute(
        repay("L-1", "2024-03-02", "2000.00", "P-2", prepay=True) | {"keep": "installment"}
    )
    rows = ledger.schedule("L-1", as_of="2024-03-02")
    # The 11 installments left (91.67 of shares) become 9 of the same installment: 91.67 / 9 =
    # 10.185... rounded down to 10.18 eight times, the last 10.23.
    assert [row["fee"] for row in rows] == ["8.33"] + ["10.18"] * 8 + ["10.23"]
    assert [row["installment"] for row in rows[2:4]] == ["754.40", "754.40"]


def test_a_percent_fee_on_a_later_tranche_is_spread_over_the_installments_after_it() -> None:
    ledger = _book(
        {"origination": {"percent": "0.01", "collect": "schedule"}},
        ("2024-01-15", "8000.00"),
        ("2024-03-20", "4000.00"),
    )
    rows = ledger.schedule("L-1", as_of="2024-03-20")
    # 80.00 over 12 (6.66 × 11 + 6.74), then 40.00 over the 10 installments after 03-20.
    assert [row["fee"] for row in rows] == ["6.66", "6.66"] + ["10.66"] * 9 + ["10.74"]
    assert ledger.loan("L-1", as_of="2024-03-20")["fees_charged"] == "120.00"


def test_the_apr_counts_the_shares_paid_with_the_installments() -> None:
    # 12000.00 received; eleven payments of 1041.13 and a last of 1041.15: 12 × the monthly
    # IRR is 0.075077 (numpy-financial's irr of those flows).
    ledger = _book()
    assert ledger.loan("L-1", as_of="2024-01-15")["apr"] == "0.0751"


@given(
    amount=st.integers(100_000, 50_000_000),
    term=st.integers(6, 36),
    rate=st.integers(300, 1200),
    method=st.sampled_from(("annuity", "equal_principal", "bullet")),
    fee=st.sampled_from(
        ({"flat": "99.99"}, {"flat": "500.00"}, {"percent": "0.005"}, {"percent": "0.0199"})
    ),
)
def test_the_apr_is_numpy_financial_s_irr_of_the_flows_with_the_shares(
    amount: int, term: int, rate: int, method: str, fee: dict[str, str]
) -> None:
    principal = f"{Decimal(amount) / 100:.2f}"
    ledger = LoanLedger.open("memory://")
    ledger.execute(
        product(
            fees={"origination": {**fee, "collect": "schedule"}},
            repayment_methods=["annuity", "equal_principal", "bullet"],
            amount_max="1000000.00",
            rate_max="0.2",
        )
    )
    for line in loan_on(
        "SME",
        amount=principal,
        term_months=term,
        annual_rate=f"{Decimal(rate) / 10_000}",
        method=method,
    ):
        ledger.execute(line)
    ledger.execute(disburse("L-1", "2024-01-15", principal))
    rows = ledger.schedule("L-1")
    view = ledger.loan("L-1", as_of="2024-01-15")
    assert sum(Decimal(row["fee"]) for row in rows) == Decimal(view["fees_charged"])
    flows = [-float(principal)] + [0.0] * 40
    for row in rows:
        due = date.fromisoformat(row["due_date"])
        flows[(due.year - 2024) * 12 + due.month - 1] += float(
            Decimal(row["installment"]) + Decimal(row["fee"])
        )
    while flows[-1] == 0.0:
        flows.pop()
    assert abs(Decimal(view["apr"]) - Decimal(str(npf.irr(flows) * 12))) <= Decimal("0.00005")
