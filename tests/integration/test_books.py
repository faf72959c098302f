"""The general ledger projected from a loan's facts (DESIGN §9), with hand-checked figures.

The loan: 12,000.00, 12 months, 6%, annuity, disbursed 2024-01-15, collateral C-1 of 20,000.00;
1,000.00 paid 2024-03-20 and 5,000.00 prepaid 2024-04-15 (see test_lifecycle for the
allocations). Installment 1's interest is 60.00 over 2024-01-15..02-15 (31 days).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import UnknownReportError
from tests.journal import disburse, pre_loan, repay


@pytest.fixture
def booked(ledger: LoanLedger) -> LoanLedger:
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    ledger.execute(
        {
            "command": "pledge_collateral",
            "loan_id": "L-0001",
            "on": "2024-01-15",
            "collateral_id": "C-1",
            "kind": "house",
            "value": "20000.00",
        }
    )
    ledger.execute(repay("L-0001", "2024-03-20", "1000.00", "R-1"))
    ledger.execute(repay("L-0001", "2024-04-15", "5000.00", "R-2", prepay=True))
    return ledger


def _balances(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Non-zero balances as signed strings (debit positive)."""
    result = {}
    for row in rows:
        net = Decimal(row["debit"]) - Decimal(row["credit"])
        if net:
            result[row["account"]] = f"{net:.2f}"
    return result


def _totals_equal(rows: list[dict[str, Any]]) -> bool:
    debits = sum(Decimal(row["debit"]) for row in rows)
    credits = sum(Decimal(row["credit"]) for row in rows)
    return debits == credits


def test_a_month_end_accrues_interest_earned_but_not_yet_due(booked: LoanLedger) -> None:
    """16 of installment 1's 31 days have run by 01-31: 60.00 × 16 / 31 = 30.97. The month end
    also provides for the normal loan: the general provision 1.5 % of 12,000.00 = 180.00."""
    rows = booked.report("trial_balance", as_of="2024-01-31")

    assert _balances(rows) == {
        "loans_principal": "12000.00",
        "interest_receivable": "30.97",
        "cash_clearing": "-12000.00",
        "interest_income": "-30.97",
        "loan_loss_allowance": "-180.00",
        "impairment_expense": "180.00",
        "offbs_collateral": "20000.00",
        "offbs_contra": "-20000.00",
    }
    assert _totals_equal(rows)
    assert [row["account"] for row in rows][:4] == [
        "loans_principal",
        "interest_receivable",
        "penalty_receivable",
        "cash_clearing",
    ]


def test_the_next_day_reverses_the_accrual(booked: LoanLedger) -> None:
    assert "interest_receivable" not in _balances(
        booked.report("trial_balance", as_of="2024-02-01")
    )


def test_interest_falls_due_and_penalty_is_recognised_at_month_end(booked: LoanLedger) -> None:
    """02-29: installment 1's 60.00 is due and unpaid; installment 2 has earned 14 of 29 days of
    55.14 = 26.62; penalty for 02-16..02-29 is 14 × 0.2582 = 3.6148 → 3.61."""
    balances = _balances(booked.report("trial_balance", as_of="2024-02-29"))

    assert balances["interest_receivable"] == "86.62"
    assert balances["interest_income"] == "-86.62"
    assert (balances["penalty_receivable"], balances["penalty_income"]) == ("3.61", "-3.61")


def test_a_repayment_clears_what_it_paid_by_its_allocation(booked: LoanLedger) -> None:
    """After 03-20's 1,000.00 (penalty 8.52, interest 60.00, principal 931.48) the ledger holds
    principal 11,068.52 and installment 2's interest 55.14, and cash shows 11,000.00 out."""
    balances = _balances(booked.report("trial_balance", as_of="2024-03-20"))

    assert balances["loans_principal"] == "11068.52"
    assert balances["interest_receivable"] == "55.14"
    assert balances["cash_clearing"] == "-11000.00"
    assert (balances["interest_income"], balances["penalty_income"]) == ("-115.14", "-8.52")
    assert "penalty_receivable" not in balances


def test_the_journal_lists_balanced_entries_for_a_date_range(booked: LoanLedger) -> None:
    from datetime import date

    lines = booked.report("journal", as_of="2024-03-20", since=date(2024, 3, 20))

    # The on-demand provision of the report date: special mention 2 % + general 1.5 % of
    # 11,068.52 = 387.40, after 420.00 held since 02-29 (of 12,000.00): 32.60 released.
    assert {line["kind"] for line in lines} == {"penalty_accrual", "repayment", "provision"}
    provision = [line for line in lines if line["kind"] == "provision"]
    assert [(line["account"], line["debit"], line["credit"]) for line in provision] == [
        ("loan_loss_allowance", "32.60", "0.00"),
        ("impairment_expense", "0.00", "32.60"),
    ]
    repayment = [line for line in lines if line["kind"] == "repayment"]
    assert [(line["account"], line["debit"], line["credit"]) for line in repayment] == [
        ("cash_clearing", "1000.00", "0.00"),
        ("penalty_receivable", "0.00", "8.52"),
        ("interest_receivable", "0.00", "60.00"),
        ("loans_principal", "0.00", "931.48"),
    ]


def test_every_loan_subledger_ties_to_its_own_figures(booked: LoanLedger) -> None:
    for day in ("2024-01-31", "2024-03-20", "2024-04-15", "2024-09-30"):
        assert booked.reconcile(day) == []


def test_non_accrual_interest_goes_off_balance_sheet(booked: LoanLedger) -> None:
    """Unpaid since 04-15, installment 4 (due 05-15) is 91 days late on 08-14: interest falling
    due from then on, and penalty recognised, sit in the memo pair, not in income. On 09-30 the
    on- and off-balance interest together are the view's overdue interest 120.71."""
    balances = _balances(booked.report("trial_balance", as_of="2024-09-30"))
    view = booked.loan("L-0001", as_of="2024-09-30")

    assert balances["offbs_interest"] == "81.05"
    assert view["overdue_interest"] == "120.71"
    assert balances["interest_receivable"] == "82.61"
    assert _totals_equal(booked.report("trial_balance", as_of="2024-09-30"))


def test_a_write_off_moves_balances_to_expense_and_memo(booked: LoanLedger) -> None:
    booked.execute(
        {
            "command": "write_off",
            "loan_id": "L-0001",
            "on": "2024-10-31",
            "approver": "board",
            "reason": "uncollectable",
        }
    )

    balances = _balances(booked.report("trial_balance", as_of="2024-10-31"))

    assert "loans_principal" not in balances
    assert "interest_receivable" not in balances and "penalty_receivable" not in balances
    assert "loan_loss_allowance" not in balances
    # 6,289.02 written off (principal 6,181.93 and receivables), of which the allowance held
    # since 09-30 (substandard 25 % + general 1.5 % of 6,181.93 = 1,638.21) is used first.
    assert balances["offbs_written_off"] == "6289.02"
    assert balances["write_off_expense"] == "4650.81"
    assert booked.reconcile("2024-10-31") == []


def test_an_unknown_report_is_refused_with_the_list_of_reports(booked: LoanLedger) -> None:
    with pytest.raises(UnknownReportError, match="unknown report 'balance'; reports: aging"):
        booked.report("balance", as_of="2024-01-31")
