"""IFRS 9 stage 2 is a significant increase in credit risk since initial recognition, so a loan
is never stage 2 on the day it is made (issue 23 §2).

The book: L-0001 is 12,000.00 over 12 months at 6%, annuity, disbursed 2024-01-15, with a house
worth 14,000.00 pledged on 2024-01-12 (before disbursement): 12000 / 14000 = 0.8571 at
origination, above the 0.8 warning threshold but not a deterioration.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger import LoanLedger
from tests.journal import disburse, pre_loan


def _pledge(on: str, value: str, collateral_id: str = "C-1") -> dict[str, Any]:
    return {
        "command": "pledge_collateral",
        "loan_id": "L-0001",
        "on": on,
        "collateral_id": collateral_id,
        "kind": "house",
        "value": value,
    }


def _revalue(on: str, value: str) -> dict[str, Any]:
    return {
        "command": "revalue_collateral",
        "loan_id": "L-0001",
        "on": on,
        "collateral_id": "C-1",
        "value": value,
    }


def _book(ledger: LoanLedger, collateral_value: str = "14000.00") -> None:
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(_pledge("2024-01-12", collateral_value))
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))


def test_a_loan_pledged_below_1_25_times_its_amount_is_stage_1_without_ltv_breach_when_made(
    ledger: LoanLedger,
) -> None:
    _book(ledger)

    view = ledger.loan("L-0001", as_of="2024-01-15")
    summary = ledger.report("ifrs9_stages", as_of="2024-01-15")

    assert (view["ltv"], view["warnings"], view["ifrs9_stage"]) == ("0.8571", [], 1)
    assert summary[0] == {"stage": 1, "loans": 1, "principal_outstanding": "12000.00"}
    (row,) = ledger.report("loan_ledger", as_of="2024-01-15")
    assert (row["ifrs9_stage"], row["warnings"]) == (1, [])


def test_a_too_high_ltv_at_origination_is_a_pre_loan_item_on_the_worklist_not_a_stage(
    ledger: LoanLedger,
) -> None:
    _book(ledger)

    worklist = ledger.report("worklist", as_of="2024-01-15")

    assert {
        "loan_id": "L-0001",
        "item": "origination_ltv",
        "detail": "ltv 0.8571 above 0.8 at origination",
    } in worklist
    assert not [item for item in worklist if item["detail"] == "ltv_breach"]


def test_a_revaluation_that_raises_ltv_above_origination_and_the_threshold_is_a_breach(
    ledger: LoanLedger,
) -> None:
    """Revalued to 13,000.00 on 2024-01-20: 12000 / 13000 = 0.9231 > 0.8571 at origination."""
    _book(ledger)
    ledger.execute(_revalue("2024-01-20", "13000.00"))

    view = ledger.loan("L-0001", as_of="2024-01-20")

    assert (view["ltv"], view["warnings"], view["ifrs9_stage"]) == ("0.9231", ["ltv_breach"], 2)
    assert ledger.loan("L-0001", as_of="2024-01-19")["ifrs9_stage"] == 1


def test_a_revaluation_that_lowers_ltv_below_origination_is_no_breach(
    ledger: LoanLedger,
) -> None:
    """Revalued to 14,500.00: 12000 / 14500 = 0.8276, above 0.8 but below 0.8571 at origination:
    no increase in credit risk since initial recognition."""
    _book(ledger)
    ledger.execute(_revalue("2024-01-20", "14500.00"))

    view = ledger.loan("L-0001", as_of="2024-01-20")

    assert (view["ltv"], view["warnings"], view["ifrs9_stage"]) == ("0.8276", [], 1)


def test_the_read_model_agrees_with_a_replay_on_origination_ltv(ledger: LoanLedger) -> None:
    _book(ledger)
    ledger.execute(_revalue("2024-01-20", "13000.00"))

    for day in ("2024-01-15", "2024-01-19", "2024-01-20"):
        (row,) = ledger.report("loan_ledger", as_of=day)
        view = ledger.loan("L-0001", as_of=day)
        assert (row["ifrs9_stage"], row["warnings"]) == (view["ifrs9_stage"], view["warnings"])
    assert ledger.reconcile("2024-01-20") == []


@settings(max_examples=25, deadline=None)
@given(
    ratio=st.decimals(min_value="0.50", max_value="1.50", places=2),
    pledge_days_before=st.integers(min_value=0, max_value=5),
    amount=st.integers(min_value=1_000, max_value=500_000),
)
def test_no_loan_is_stage_2_or_3_on_its_disbursement_date_without_days_past_due(
    ratio: Any, pledge_days_before: int, amount: int
) -> None:
    """Whatever collateral was pledged on or before disbursement (LTV 0.67 to 2.00)."""
    ledger = LoanLedger.open("memory://")
    try:
        principal = f"{amount}.00"
        for command in pre_loan("L-0001", amount=principal):
            ledger.execute(command)
        pledged_on = date(2024, 1, 15) - timedelta(days=pledge_days_before)
        ledger.execute(_pledge(pledged_on.isoformat(), f"{(amount * ratio):.2f}"))
        ledger.execute(disburse("L-0001", "2024-01-15", principal))

        view = ledger.loan("L-0001", as_of="2024-01-15")
        (row,) = ledger.report("loan_ledger", as_of="2024-01-15")

        assert view["days_past_due"] == 0
        assert (view["ifrs9_stage"], row["ifrs9_stage"]) == (1, 1)
        assert "ltv_breach" not in view["warnings"]
    finally:
        ledger.close()


def test_a_guarantor_found_weakened_before_disbursement_does_not_make_day_one_stage_2(
    ledger: LoanLedger,
) -> None:
    """Known at initial recognition, so no increase since it on the day the loan is made; from
    the next day the open warning flags the loan as DESIGN §7 says."""
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(
        {
            "command": "add_guarantor",
            "loan_id": "L-0001",
            "on": "2024-01-12",
            "guarantor": {"id": "G-1", "name": "王五"},
            "guaranteed_amount": "12000.00",
        }
    )
    ledger.execute(
        {
            "command": "assess_guarantor",
            "loan_id": "L-0001",
            "on": "2024-01-13",
            "guarantor_id": "G-1",
            "ability": "weakened",
        }
    )
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))

    day_one = ledger.loan("L-0001", as_of="2024-01-15")
    (row,) = ledger.report("loan_ledger", as_of="2024-01-15")

    assert (day_one["warnings"], day_one["ifrs9_stage"], row["ifrs9_stage"]) == (
        ["guarantor_weakened"],
        1,
        1,
    )
    assert ledger.loan("L-0001", as_of="2024-01-16")["ifrs9_stage"] == 2
