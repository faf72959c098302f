"""Small journals for tests, so that fixtures read like the lines a servicing team would load."""

from __future__ import annotations

import json
from typing import Any

FINDINGS = {
    "basic": "营业执照 valid; registered 2015",
    "operations": "steady orders",
    "finances": "debt ratio 42%",
    "credit_record": "no defaults in PBoC report",
    "management": "experienced owner",
    "guarantees": "house pledged",
}


def pre_loan(
    loan_id: str,
    *,
    amount: str = "12000.00",
    term_months: int = 12,
    annual_rate: str = "0.06",
    method: str = "annuity",
    applied_on: str = "2024-01-02",
    approved_on: str = "2024-01-10",
    repayment_day: int | None = None,
    borrower_id: str = "B-1",
) -> list[dict[str, Any]]:
    """apply → investigation → review → approval, with four distinct people."""
    approve: dict[str, Any] = {
        "command": "approve",
        "loan_id": loan_id,
        "on": approved_on,
        "approver": "approver-1",
        "authority_limit": "5000000.00",
        "amount": amount,
        "term_months": term_months,
        "annual_rate": annual_rate,
        "repayment_method": method,
    }
    if repayment_day is not None:
        approve["repayment_day"] = repayment_day
    return [
        {
            "command": "apply",
            "loan_id": loan_id,
            "on": applied_on,
            "borrower": {"id": borrower_id, "name": "张三", "id_number": "110101199001011234"},
            "amount": amount,
            "term_months": term_months,
            "annual_rate": annual_rate,
            "repayment_method": method,
            "purpose": "working capital",
        },
        {
            "command": "record_investigation",
            "loan_id": loan_id,
            "on": applied_on,
            "investigators": ["inv-1", "inv-2"],
            "findings": FINDINGS,
            "conclusion": "recommend",
        },
        {
            "command": "review",
            "loan_id": loan_id,
            "on": approved_on,
            "reviewer": "rev-1",
            "passed": True,
            "notes": "complete",
        },
        approve,
    ]


def disburse(loan_id: str, on: str, amount: str, reference: str = "D-1") -> dict[str, Any]:
    return {
        "command": "disburse",
        "loan_id": loan_id,
        "on": on,
        "amount": amount,
        "reference": reference,
    }


def write_off(
    loan_id: str, on: str, *, approver: str = "approver-1", reason: str = "uncollectable"
) -> dict[str, Any]:
    return {
        "command": "write_off",
        "loan_id": loan_id,
        "on": on,
        "approver": approver,
        "reason": reason,
    }


def repay(
    loan_id: str, on: str, amount: str, reference: str, *, prepay: bool = False
) -> dict[str, Any]:
    command: dict[str, Any] = {
        "command": "repay",
        "loan_id": loan_id,
        "on": on,
        "amount": amount,
        "reference": reference,
    }
    if prepay:
        command["prepay"] = True
    return command


def lines(commands: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(command, ensure_ascii=False) for command in commands]
