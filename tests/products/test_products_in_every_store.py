"""A product loan answers every query the servicing desk asks, with the pinned pricing, on every
store kind."""

from __future__ import annotations

from loanledger import LoanLedger
from tests.journal import disburse, repay
from tests.products.builders import loan_on, product


def test_the_desk_answers_for_a_product_loan(ledger: LoanLedger) -> None:
    for line in [
        product(penalty_multiplier="2", misuse_multiplier="2"),
        *loan_on("SME"),
        disburse("L-1", "2024-01-15", "12000.00"),
    ]:
        ledger.execute(line)
    why = ledger.explain("L-1", "penalty_outstanding", as_of="2024-03-20")
    assert "× 2 / 360" in why["rule"]
    # 1032.80 overdue from 02-16 through 03-20 (34 days) and 1032.80 from 03-16 (5 days), at
    # 0.06 × 2 / 360 a day: 11.7051 -> 11.71 and 1.7213 -> 1.72.
    assert why["value"] == "13.43"
    assert [part["amount"] for part in why["parts"]] == ["11.71", "1.72"]
    # Paying on 03-20 meets the penalty through 03-19: 33 and 4 days, 11.3608 + 1.3771.
    quote = ledger.payoff("L-1", "2024-03-20")
    assert quote["penalty"] == "12.74"
    preview = ledger.preview([repay("L-1", "2024-03-20", quote["total"], "P-1") | {"prepay": True}])
    assert preview["loans"]["L-1"]["after"]["loan"]["principal_outstanding"] == "0.00"
    with ledger.what_if() as branch:
        for line in loan_on("SME", loan_id="L-2"):
            branch.execute(line)
        assert branch.loan("L-2", as_of="2024-01-10")["product_version"] == 1
