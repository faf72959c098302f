"""A prepayment fee (issue 19 item 5, built): a percentage of the principal prepaid, on
prepayments within N months of the first disbursement, paid out of the prepayment and posted
through `fee_receivable` / `fee_income`."""

from __future__ import annotations

from decimal import Decimal

from loanledger import LoanLedger
from tests.journal import repay
from tests.products.builders import disbursed_with_fees


def _book() -> LoanLedger:
    return disbursed_with_fees({"prepayment": {"percent": "0.02", "within_months": 6}})


def test_a_prepayment_inside_the_window_pays_the_fee_on_the_principal_it_prepays() -> None:
    ledger = _book()
    result = ledger.execute(repay("L-1", "2024-02-01", "5100.00", "P-1", prepay=True))
    allocation = result["allocation"]
    # 17 days' interest first: 12000.00 × 0.06 × 17 / 360 = 34.00. Of the 5066.00 left, the most
    # principal p with p + 2% of p (rounded) within it: 4966.67 + 99.33 = 5066.00, nothing held.
    assert allocation["interest"] == "34.00"
    assert (allocation["prepaid_principal"], allocation["fee"], allocation["overpayment"]) == (
        "4966.67",
        "99.33",
        "0.00",
    )
    principal, fee = Decimal("4966.67"), Decimal("99.33")
    view = ledger.loan("L-1", as_of="2024-02-01")
    assert view["fees_charged"] == allocation["fee"]
    assert Decimal(view["principal_outstanding"]) == Decimal("12000.00") - principal
    balances = {
        row["account"]: Decimal(row["debit"]) - Decimal(row["credit"])
        for row in ledger.report("trial_balance", as_of="2024-02-01")
    }
    assert balances["fee_income"] == -fee and balances["fee_receivable"] == 0


def test_after_the_window_a_prepayment_pays_no_fee() -> None:
    ledger = _book()
    result = ledger.execute(repay("L-1", "2024-07-15", "5000.00", "P-1", prepay=True))
    assert "fee" not in result["allocation"]


def test_the_payoff_quote_includes_the_fee_and_paying_it_settles_the_loan() -> None:
    ledger = _book()
    quote = ledger.payoff("L-1", "2024-02-01")
    # 12000.00 principal, 34.00 interest, 2% of 12000.00 = 240.00.
    assert (quote["principal"], quote["interest"], quote["fees"], quote["total"]) == (
        "12000.00",
        "34.00",
        "240.00",
        "12274.00",
    )
    ledger.execute(repay("L-1", "2024-02-01", quote["total"], "P-1", prepay=True))
    view = ledger.loan("L-1", as_of="2024-02-01")
    assert (view["status"], view["principal_outstanding"], view["overpayment"]) == (
        "closed",
        "0.00",
        "0.00",
    )
    assert ledger.payoff("L-1", "2024-02-01")["total"] == "0.00"
