"""A demo-like loan for the archive's tests: a large amount, collateral and a guarantor, one
partial repayment, then arrears through every days-past-due threshold to legal recovery, and a
write-off. Its borrower's identity-document number must never reach a masked page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from loanledger import LoanLedger
from tests.journal import disburse, pre_loan, repay

LOAN = "L-0001"
ID_NUMBER = "110101199001011234"
NAMES = ("张三", "王五")
"""The borrower's and the guarantor's names (the test journals' people)."""
CLOSED_THROUGH = "2024-06-30"
WRITTEN_OFF_ON = "2024-07-01"


def journal() -> list[dict[str, Any]]:
    return [
        *pre_loan(LOAN, amount="1234567.89", annual_rate="0.0435"),
        {
            "command": "pledge_collateral",
            "loan_id": LOAN,
            "on": "2024-01-11",
            "collateral_id": "C-1",
            "kind": "property",
            "value": "2000000.00",
            "appraiser": "appraiser-1",
        },
        {
            "command": "add_guarantor",
            "loan_id": LOAN,
            "on": "2024-01-11",
            "guarantor": {"id": "G-1", "name": NAMES[1]},
            "guaranteed_amount": "500000.00",
        },
        disburse(LOAN, "2024-01-15", "1234567.89"),
        repay(LOAN, "2024-02-15", "100000.00", "R-1"),
    ]


def book(ledger: LoanLedger) -> None:
    """Record the loan and close each day through `CLOSED_THROUGH` as a bank does (each fact
    recorded on its day, close of day recording each notice and grade change on its own), then
    write it off."""
    day = date(2024, 1, 2)
    for command in [*journal(), write_off()]:
        on = date.fromisoformat(command["on"])
        while day < on:
            ledger.close_day(day.isoformat())
            day += timedelta(days=1)
        ledger.execute(command)
        if command["command"] == "repay":
            while day <= date.fromisoformat(CLOSED_THROUGH):
                ledger.close_day(day.isoformat())
                day += timedelta(days=1)


def write_off() -> dict[str, Any]:
    return {
        "command": "write_off",
        "loan_id": LOAN,
        "on": WRITTEN_OFF_ON,
        "approver": "approver-2",
        "reason": "collection exhausted (呆账核销)",
    }
