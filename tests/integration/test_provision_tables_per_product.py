"""IFRS 9 PD and LGD tables per product and stage (issue 21): a `set_policy` `provisioning`
object for `IFRS9-ECL-2026` may carry `products`, each product's table overriding the book's
stage by stage; a loan takes the table of the product it is pinned on, and loans on no product
take the book's.

The book: four loans of 12,000.00 over 12 months at 6 %, annuity, disbursed 2024-01-15 (first
due 2024-02-15, installment 1,032.80), each for its own borrower:

* L-M on `mortgage`, both installments paid on time: stage 1 on 2024-03-31;
* L-D on no product, both paid on time: stage 1;
* L-C on `consumer`, nothing paid: 45 days past due on 2024-03-31, stage 2;
* L-E on no product, nothing paid: stage 2.

The policy: the book's table is the rule set's (PD 1 % / 20 % / 100 %, LGD 45 %) with `pd_2`
25 %; `mortgage` sets stage 1 to PD 0.5 %, LGD 20 %; `consumer` sets stage 2 to PD 30 %, LGD
65 %.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import ProvisionRuleError
from tests.journal import disburse, repay
from tests.products.builders import loan_on, product

POLICY: dict[str, Any] = {
    "rule_set": "IFRS9-ECL-2026",
    "pd_2": "0.25",
    "products": {
        "mortgage": {"pd_1": "0.005", "lgd_1": "0.20"},
        "consumer": {"pd_2": "0.30", "lgd_2": "0.65"},
    },
}
LOANS = {"L-M": "mortgage", "L-D": None, "L-C": "consumer", "L-E": None}
PAYING = ("L-M", "L-D")
AS_OF = "2024-03-31"


def _book(ledger: LoanLedger) -> None:
    ledger.execute(product("mortgage", name="Home loans"))
    ledger.execute(product("consumer", name="Consumer loans"))
    for number, (loan_id, product_id) in enumerate(LOANS.items()):
        for command in loan_on(product_id, loan_id, borrower_id=f"B-{number}"):
            ledger.execute(command)
        ledger.execute(disburse(loan_id, "2024-01-15", "12000.00"))
        if loan_id in PAYING:
            ledger.execute(repay(loan_id, "2024-02-15", "1032.80", "R-1"))
            ledger.execute(repay(loan_id, "2024-03-15", "1032.80", "R-2"))


def _adopt(ledger: LoanLedger, provisioning: dict[str, Any], on: str = "2024-01-01") -> None:
    ledger.execute({"command": "set_policy", "on": on, "provisioning": provisioning})


def _loan_rows(ledger: LoanLedger, as_of: str = AS_OF, **kwargs: Any) -> dict[str, Any]:
    rows = ledger.report("provisions", as_of=as_of, **kwargs)
    return {row["loan_id"]: row for row in rows if row["level"] == "loan"}


def _mean_discount(annual_rate: str, months: int) -> Decimal:
    """Written out as the sum it is: the mean over k = 1..n of (1 + rate/12)^-k."""
    with localcontext() as context:
        context.prec = 40
        monthly = Decimal(annual_rate) / 12
        total = sum((1 / (1 + monthly) ** k for k in range(1, months + 1)), Decimal(0))
        return total / months


def _expected(ledger: LoanLedger, loan_id: str, pd: str, lgd: str) -> Decimal:
    """PD × LGD × EAD from the loan's own view (EAD = principal + overdue interest), discounted
    for a lifetime (stage 2-3) loss over the months left to maturity (2025-01-15: ten months
    from 2024-03-31), rounded HALF_UP to the fen once."""
    view = ledger.loan(loan_id, as_of=AS_OF)
    ead = Decimal(view["principal_outstanding"]) + Decimal(view["overdue_interest"])
    loss = Decimal(pd) * Decimal(lgd) * ead
    if view["ifrs9_stage"] > 1:
        loss *= _mean_discount("0.06", 10)
    return loss.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_each_loan_takes_the_pd_and_lgd_of_its_products_table_stage_by_stage(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    _adopt(ledger, POLICY)

    rows = _loan_rows(ledger)

    stages = {loan_id: ledger.loan(loan_id, as_of=AS_OF)["ifrs9_stage"] for loan_id in LOANS}
    assert stages == {"L-M": 1, "L-D": 1, "L-C": 2, "L-E": 2}
    used = {loan_id: (row["pd_lgd_table"], row["pd"], row["lgd"]) for loan_id, row in rows.items()}
    assert used == {
        "L-M": ("mortgage", "0.005", "0.20"),  # the product's stage 1
        "L-D": ("book", "0.01", "0.45"),  # the rule set's stage 1
        "L-C": ("consumer", "0.30", "0.65"),  # the product's stage 2
        "L-E": ("book", "0.25", "0.45"),  # the book's stage 2
    }
    # Paying loans: principal 10,049.54 left, nothing overdue (EAD 10,049.54). Unpaid loans:
    # principal 12,000.00 plus the interest of two installments overdue, 60.00 + 55.14 (EAD
    # 12,115.14), ten months to maturity at 0.5 % a month: mean discount 0.9730411860...
    # L-M: 0.005 x 0.20 x 10,049.54 = 10.04954 -> 10.05
    # L-D: 0.01 x 0.45 x 10,049.54 = 45.22293 -> 45.22
    # L-C: 0.30 x 0.65 x 12,115.14 = 2,362.4523 x 0.9730411860 = 2,298.7636... -> 2,298.76
    # L-E: 0.25 x 0.45 x 12,115.14 = 1,362.95325 x 0.9730411860 = 1,326.2087... -> 1,326.21
    expected = {
        loan_id: _expected(ledger, loan_id, rows[loan_id]["pd"], rows[loan_id]["lgd"])
        for loan_id in LOANS
    }
    assert {loan_id: row["allowance"] for loan_id, row in rows.items()} == {
        loan_id: f"{value}" for loan_id, value in expected.items()
    }
    assert expected == {
        "L-M": Decimal("10.05"),
        "L-D": Decimal("45.22"),
        "L-C": Decimal("2298.76"),
        "L-E": Decimal("1326.21"),
    }
    trial = ledger.report("trial_balance", as_of=AS_OF)
    allowance = next(row for row in trial if row["account"] == "loan_loss_allowance")
    assert (allowance["debit"], Decimal(allowance["credit"])) == ("0.00", sum(expected.values()))


def test_the_settings_in_force_show_each_products_complete_table(ledger: LoanLedger) -> None:
    _book(ledger)
    _adopt(ledger, POLICY)

    settings = ledger.provisioning_on(date(2024, 3, 31)).settings()

    assert settings == {
        "rule_set": "IFRS9-ECL-2026",
        "pd_1": "0.01", "pd_2": "0.25", "pd_3": "1.00",
        "lgd_1": "0.45", "lgd_2": "0.45", "lgd_3": "0.45",
        "products": {
            "consumer": {
                "pd_1": "0.01", "pd_2": "0.30", "pd_3": "1.00",
                "lgd_1": "0.45", "lgd_2": "0.65", "lgd_3": "0.45",
            },
            "mortgage": {
                "pd_1": "0.005", "pd_2": "0.25", "pd_3": "1.00",
                "lgd_1": "0.20", "lgd_2": "0.45", "lgd_3": "0.45",
            },
        },
    }  # fmt: skip


def test_a_backdated_adoption_re_derives_the_allowance_and_leaves_earlier_answers_alone(
    ledger: LoanLedger, clock: Callable[[], datetime]
) -> None:
    """The book first runs on the CN rules; the per-product tables are recorded afterwards,
    effective 2024-03-01: the allowance on 03-31 follows them, the February month end keeps
    the CN figures, and everything as known before the fact is unchanged byte for byte."""
    _book(ledger)

    def snapshot(day: str, known_at: datetime | None) -> str:
        return json.dumps(
            {
                name: ledger.report(name, as_of=day, known_at=known_at)
                for name in ("provisions", "trial_balance", "kpi")
            }
        )

    before = {day: snapshot(day, None) for day in ("2024-02-29", AS_OF)}
    moment = clock()
    _adopt(ledger, POLICY, on="2024-03-01")

    assert {day: snapshot(day, moment) for day in before} == before
    assert snapshot("2024-02-29", None) == before["2024-02-29"]
    rows = _loan_rows(ledger)
    assert rows["L-C"]["rule_set"] == "IFRS9-ECL-2026"
    assert rows["L-C"]["allowance"] == f"{_expected(ledger, 'L-C', '0.30', '0.65')}"
    # The CN allowance held at 02-29 (L-C special mention: 12,000.00 x 3.5 % = 420.00) is
    # trued up to the IFRS 9 one on 03-31.
    assert rows["L-C"]["previous_allowance"] == "420.00"
    trial = ledger.report("trial_balance", as_of=AS_OF)
    allowance = next(row for row in trial if row["account"] == "loan_loss_allowance")
    total = sum(Decimal(row["allowance"]) for row in rows.values())
    assert Decimal(allowance["credit"]) - Decimal(allowance["debit"]) == total


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
@pytest.mark.parametrize(
    ("provisioning", "error", "message"),
    [
        (
            {**POLICY, "products": {"mortgage": {"pd_1": "0.005"}, "car": {"pd_1": "0.02"}}},
            ProvisionRuleError,
            "provisioning: products: unknown product 'car'",
        ),
        (
            {"rule_set": "IFRS9-ECL-2026", "products": {"mortgage": {"pd_4": "0.1"}}},
            ProvisionRuleError,
            "unknown provision rate 'pd_4' for product 'mortgage'",
        ),
        (
            {"rule_set": "IFRS9-ECL-2026", "products": {"mortgage": {"lgd_2": "1.2"}}},
            ProvisionRuleError,
            "rate lgd_2 of product mortgage must be a decimal from 0 to 1, not '1.2'",
        ),
        (
            {"rule_set": "IFRS9-ECL-2026", "products": {"mortgage": {"pd_1": "-0.01"}}},
            ProvisionRuleError,
            "rate pd_1 of product mortgage must be a decimal from 0 to 1",
        ),
        (
            {"rule_set": "IFRS9-ECL-2026", "products": {"mortgage": {}}},
            ProvisionRuleError,
            "'mortgage' must give at least one rate",
        ),
        (
            {"rule_set": "IFRS9-ECL-2026", "products": {"default": {"pd_1": "0.02"}}},
            ProvisionRuleError,
            "'default' is not a product id",
        ),
        (
            {"rule_set": "CN-PROV-2002", "products": {"mortgage": {"pd_1": "0.02"}}},
            ProvisionRuleError,
            "per-product tables are an IFRS9-ECL-2026 setting",
        ),
    ],
)
def test_bad_product_tables_are_refused_by_the_rule_and_nothing_is_recorded(
    ledger: LoanLedger, provisioning: dict[str, Any], error: type[Exception], message: str
) -> None:
    _book(ledger)
    events = ledger.verify().events_checked

    with pytest.raises(error, match=message):
        _adopt(ledger, provisioning)

    assert ledger.verify().events_checked == events
    assert ledger.provisioning_on(date(2024, 3, 31)).version == "CN-PROV-2002"
