"""How the `loan_loss_allowance` moves with a loan's life, through the ledger (issue 21): charged
at each month end, released when the loan cures, drawn down first when it is written off, and a
recovery after the write-off credited back (then released, since a written-off loan needs none);
`kpi` shows the previous month end beside the date.

CN rules (the default): allowance = principal x (grade rate + general 1.5 %)."""

from __future__ import annotations

from typing import Any

import pytest

from loanledger import LoanLedger
from tests.integration.test_rule_set_adoption import _book as _loss_book
from tests.journal import disburse, pre_loan, repay

STORE_KINDS = ("memory", "sqlite")


def _allowance_lines(ledger: LoanLedger, as_of: str, since: str) -> list[tuple[str, ...]]:
    return [
        (line["on"], line["kind"], line["account"], line["debit"], line["credit"])
        for line in ledger.report("journal", as_of=as_of, since=since)
        if line["kind"] in ("provision", "allowance_use", "recovery_credit")
    ]


def _balance(ledger: LoanLedger, as_of: str, account: str) -> tuple[str, str]:
    row = next(r for r in ledger.report("trial_balance", as_of=as_of) if r["account"] == account)
    return row["debit"], row["credit"]


def test_a_loan_that_cures_releases_what_its_grade_no_longer_needs(ledger: LoanLedger) -> None:
    """L-1 (12,000.00, 12 months at 6 %, annuity, disbursed 2024-01-15) pays nothing until
    2024-03-10: 14 days past due on 02-29, special mention. On 03-10 it pays 2,200.00, enough
    for both installments due by 03-15 (the remainder is held and applied then): normal on
    03-31 with 10,049.54 principal left."""
    for command in pre_loan("L-1"):
        ledger.execute(command)
    ledger.execute(disburse("L-1", "2024-01-15", "12000.00"))
    ledger.execute(repay("L-1", "2024-03-10", "2200.00", "R-1"))

    rows = {
        day: next(r for r in ledger.report("provisions", as_of=day) if r["level"] == "loan")
        for day in ("2024-02-29", "2024-03-31")
    }

    # 02-29: 12,000.00 x (2 % + 1.5 %) = 420.00; 03-31: 10,049.54 x 1.5 % = 150.7431 -> 150.74
    assert [(r["classification"], r["allowance"]) for r in rows.values()] == [
        ("special_mention", "420.00"),
        ("normal", "150.74"),
    ]
    assert rows["2024-03-31"]["change"] == "-269.26"
    # 01-31: normal (not yet due), 12,000.00 x 1.5 % = 180.00; 02-29: 240.00 more
    assert _allowance_lines(ledger, "2024-03-31", "2024-01-01") == [
        ("2024-01-31", "provision", "impairment_expense", "180.00", "0.00"),
        ("2024-01-31", "provision", "loan_loss_allowance", "0.00", "180.00"),
        ("2024-02-29", "provision", "impairment_expense", "240.00", "0.00"),
        ("2024-02-29", "provision", "loan_loss_allowance", "0.00", "240.00"),
        ("2024-03-31", "provision", "loan_loss_allowance", "269.26", "0.00"),
        ("2024-03-31", "provision", "impairment_expense", "0.00", "269.26"),
    ]
    assert _balance(ledger, "2024-03-31", "loan_loss_allowance") == ("0.00", "150.74")


def test_a_write_off_draws_the_allowance_down_first_and_a_recovery_is_credited_back(
    ledger: LoanLedger,
) -> None:
    """L-0001 (see test_rule_set_adoption) is graded loss on 2024-02-20 with 11,027.20 of
    principal: its allowance at 02-29 is all of it (101.5 %, capped at the principal). Written
    off on 03-05, the 11,027.20 written off is met by the allowance, not expense; of 500.00 paid
    on 03-20, 443.83 recovers principal written off (the rest meets the interest and penalty
    held off balance sheet, income when paid) and is credited back to the allowance, which is
    released at the month end."""
    _loss_book(ledger)
    ledger.execute(
        {
            "command": "write_off",
            "loan_id": "L-0001",
            "on": "2024-03-05",
            "approver": "board",
            "reason": "borrower absconded",
        }
    )
    ledger.execute(repay("L-0001", "2024-03-20", "500.00", "R-9"))

    assert _allowance_lines(ledger, "2024-03-31", "2024-03-01") == [
        ("2024-03-05", "allowance_use", "loan_loss_allowance", "11027.20", "0.00"),
        ("2024-03-05", "allowance_use", "write_off_expense", "0.00", "11027.20"),
        ("2024-03-20", "recovery_credit", "write_off_expense", "443.83", "0.00"),
        ("2024-03-20", "recovery_credit", "loan_loss_allowance", "0.00", "443.83"),
        ("2024-03-31", "provision", "loan_loss_allowance", "443.83", "0.00"),
        ("2024-03-31", "provision", "impairment_expense", "0.00", "443.83"),
    ]
    # Written off 11,027.20, all of it met by the allowance: nothing left in write_off_expense;
    # the expense is the impairment charged before, less the recovery released.
    assert _balance(ledger, "2024-03-31", "write_off_expense") == ("0.00", "0.00")
    assert _balance(ledger, "2024-03-31", "loan_loss_allowance") == ("0.00", "0.00")
    assert _balance(ledger, "2024-03-31", "impairment_expense") == ("10583.37", "0.00")


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
def test_kpi_shows_the_previous_month_end_beside_the_date(ledger: LoanLedger) -> None:
    """The same loss book: on 03-31 it is written off (no portfolio left), with the write-off
    and recovery of March; the previous month end (02-29) shows it fully provided."""
    _loss_book(ledger)
    ledger.execute(
        {
            "command": "write_off",
            "loan_id": "L-0001",
            "on": "2024-03-05",
            "approver": "board",
            "reason": "borrower absconded",
        }
    )
    ledger.execute(repay("L-0001", "2024-03-20", "500.00", "R-9"))

    row: dict[str, Any] = ledger.report("kpi", as_of="2024-03-31")[0]
    at_month_end = ledger.report("kpi", as_of="2024-02-29")[0]

    assert (row["loans"], row["allowance"], row["write_offs"], row["recoveries"]) == (
        0,
        "0.00",
        "11027.20",
        "443.83",
    )
    assert row["npl_ratio"] is None and row["provision_coverage_ratio"] is None
    assert row["previous_month_end"] == "2024-02-29"
    previous = {
        name[len("previous_") :]: value
        for name, value in row.items()
        if name.startswith("previous_") and name != "previous_month_end"
    }
    assert previous == {
        name: value
        for name, value in at_month_end.items()
        if name not in ("as_of", "previous_month_end") and not name.startswith("previous_")
    }
    assert (
        previous["loans"],
        previous["npl_ratio"],
        previous["allowance"],
        previous["provision_coverage_ratio"],
        previous["loan_provision_ratio"],
    ) == (1, "1.0000", "11027.20", "1.0000", "1.0000")
