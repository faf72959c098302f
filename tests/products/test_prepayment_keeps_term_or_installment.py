"""`repay` with `prepay: true` takes `keep` (issue 19 item 8): `term` (the default) lowers the
installments over the same term; `installment` keeps the installment and shortens the term. On a
product loan the re-amortised rows are priced by the pinned product."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import InvalidCommandError
from tests.journal import disburse, repay
from tests.products.builders import loan_on, product


def _prepaid(keep: str | None) -> list[dict[str, Any]]:
    ledger = LoanLedger.open("memory://")
    ledger.execute(product(day_count="ACT/365F", rounding="HALF_EVEN"))
    for line in loan_on("SME", term_months=24):
        ledger.execute(line)
    ledger.execute(disburse("L-1", "2024-01-15", "12000.00"))
    ledger.execute(repay("L-1", "2024-02-15", "531.85", "R-1"))
    prepay = repay("L-1", "2024-03-01", "3000.00", "P-1", prepay=True)
    if keep is not None:
        prepay["keep"] = keep
    ledger.execute(prepay)
    return ledger.schedule("L-1")


# After installment 1 (531.85), 11528.15 is outstanding. On 03-01 the prepayment first pays the
# 15 days' interest since 02-15, ACT/365F: 11528.15 × 0.06 × 15 / 365 = 28.4256 -> 28.43; the
# other 2971.57 is principal, leaving 8556.58.
PREPAID_PRINCIPAL = Decimal("2971.57")


def test_keeping_the_term_lowers_the_installments() -> None:
    rows = _prepaid("term")
    assert len(rows) == 24
    # 8556.58 over the 23 installments left at 0.5% a month: 394.7548 -> 394.75.
    assert rows[2]["installment"] == "394.75"
    assert sum(Decimal(row["principal"]) for row in rows) == Decimal("12000.00") - PREPAID_PRINCIPAL
    assert rows == _prepaid(None)  # the default keeps the term


def test_keeping_the_installment_shortens_the_term() -> None:
    rows = _prepaid("installment")
    assert len(rows) == 18
    assert {row["installment"] for row in rows[2:-1]} == {"531.85"}
    assert sum(Decimal(row["principal"]) for row in rows) == Decimal("12000.00") - PREPAID_PRINCIPAL
    assert rows[-1]["principal_remaining"] == "0.00"


def test_keep_without_prepay_is_refused() -> None:
    ledger = LoanLedger.open("memory://")
    line = repay("L-1", "2024-03-01", "3000.00", "P-1")
    line["keep"] = "installment"
    with pytest.raises(InvalidCommandError, match="keep applies only to a repayment with prepay"):
        ledger.execute(line)
