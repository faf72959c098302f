"""APR (年化利率, PBoC announcement [2021] No. 3): 12 × the monthly IRR of the contract's flows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from loanledger import LoanLedger
from loanledger.domain.products.apr import apr, monthly_flows
from tests.journal import disburse
from tests.products.builders import loan_on


def test_an_annuity_at_6_percent_has_an_apr_of_6_percent() -> None:
    ledger = LoanLedger.open("memory://")
    for line in loan_on(None):
        ledger.execute(line)
    ledger.execute(disburse("L-1", "2024-01-15", "12000.00"))
    assert ledger.loan("L-1", as_of="2024-01-15")["apr"] == "0.0600"


def test_a_bullet_loan_s_one_installment_is_discounted_over_its_whole_term() -> None:
    # 12000 for 12 months at 6%: 12720 after 12 months; (12720 / 12000)^(1/12) - 1 = 0.4868%
    # a month, 5.84% a year (not 6%: the interest is not compounded monthly).
    ledger = LoanLedger.open("memory://")
    for line in loan_on(None, method="bullet"):
        ledger.execute(line)
    ledger.execute(disburse("L-1", "2024-01-15", "12000.00"))
    assert ledger.schedule("L-1")[0]["installment"] == "12720.00"
    assert ledger.loan("L-1", as_of="2024-01-15")["apr"] == "0.0584"


def test_flows_fall_in_the_month_of_their_due_date() -> None:
    rows = [(date(2024, 2, 15), Decimal("10")), (date(2024, 4, 15), Decimal("20"))]
    assert monthly_flows(rows) == (Decimal("10"), Decimal("0"), Decimal("20"))


def test_flows_that_do_not_repay_the_amount_have_no_apr() -> None:
    assert apr(Decimal("100"), [(date(2024, 2, 1), Decimal("99.99"))]) is None


def test_a_zero_rate_loan_has_an_apr_of_zero() -> None:
    flows = [(date(2024, month, 1), Decimal("100")) for month in range(2, 8)]
    assert apr(Decimal("600"), flows) == Decimal("0.0000")
