"""The regulator's report builders (reports/risk.py) on states handed in."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from loanledger.reports.risk import kpi_figures, month_ends, previous_month_end, ratio, roll_rates


def _state(status: str, classification: str, bucket: str, principal: str) -> dict[str, Any]:
    return {
        "status": status,
        "classification": classification,
        "ifrs9_stage": 1,
        "bucket": bucket,
        "principal_outstanding": principal,
        "overdue_principal": "0.00",
        "overdue_interest": "0.00",
    }


def test_ratios_are_four_decimal_strings_rounded_half_up_and_null_over_zero() -> None:
    assert ratio(Decimal(1), Decimal(3)) == "0.3333"
    assert ratio(Decimal(2), Decimal(3)) == "0.6667"
    assert ratio(Decimal("0.00005"), Decimal(1)) == "0.0001"
    assert ratio(Decimal(1), Decimal(0)) is None


def test_month_ends_run_from_the_first_months_end_through_the_date() -> None:
    assert month_ends(date(2024, 1, 15), date(2024, 3, 30)) == [
        date(2024, 1, 31),
        date(2024, 2, 29),
    ]
    assert previous_month_end(date(2024, 3, 31)) == date(2024, 2, 29)
    assert previous_month_end(date(2024, 1, 1)) == date(2023, 12, 31)


def test_kpi_counts_the_portfolio_only_and_nulls_ratios_without_npl() -> None:
    states = [
        _state("active", "normal", "M0", "1000.00"),
        _state("overdue", "special_mention", "M2", "500.00"),
        _state("written_off", "loss", "M7+", "900.00"),
        _state("closed", "normal", "M0", "0.00"),
    ]

    figures = kpi_figures(states, Decimal("32.50"))

    assert (figures["loans"], figures["principal_outstanding"]) == (2, "1500.00")
    assert (figures["npl_ratio"], figures["par1"], figures["par30"], figures["par90"]) == (
        "0.0000",
        "0.3333",
        "0.3333",
        "0.0000",
    )
    assert figures["overdue90_to_npl"] is None
    assert figures["provision_coverage_ratio"] is None
    assert figures["loan_provision_ratio"] == "0.0217"


def test_a_loan_gone_by_the_next_month_end_rolls_to_settled_and_a_written_off_one_says_so() -> None:
    before = {
        "A": _state("overdue", "substandard", "M4", "100.00"),
        "B": _state("overdue", "substandard", "M4", "300.00"),
        "C": _state("active", "normal", "M0", "50.00"),
    }
    after = {
        "B": _state("written_off", "loss", "M5", "300.00"),
        "C": _state("closed", "normal", "M0", "0.00"),
    }

    rows = {
        row["bucket"]: row
        for row in roll_rates(date(2024, 1, 31), before, date(2024, 2, 29), after)
    }

    m4 = rows["M4"]
    assert (m4["loans"], m4["to_settled_loans"], m4["to_written_off_loans"]) == (2, 1, 1)
    assert (m4["to_settled_principal"], m4["to_written_off_principal"]) == ("100.00", "300.00")
    assert m4["to_written_off_rate"] == "0.5000"
    assert (rows["M0"]["loans"], rows["M0"]["to_settled_loans"]) == (1, 1)
    assert rows["M1"]["to_M0_rate"] is None
