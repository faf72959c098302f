"""A fast, deterministic journal generator for the benchmarks.

Each loan runs apply → record_investigation → review → approve → disburse, then pays its
installments (the annuity schedule's amounts, computed with the library's own pure
`build_schedule`) on their due dates: about ten commands, and ten events, per loan. Repayment
days are spread over 1..28 (or fixed with `repayment_day`), so on any given day about 1/28 of a
large book has something falling due. Lines come out in effective-date order.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from loanledger.domain.money import Money
from loanledger.domain.rates import AnnualRate
from loanledger.domain.schedule import build_schedule

START = date(2024, 1, 2)

FINDINGS = {
    "basic": "营业执照 valid; registered 2015",
    "operations": "steady orders",
    "finances": "debt ratio 42%",
    "credit_record": "no defaults in PBoC report",
    "management": "experienced owner",
    "guarantees": "unsecured",
}


@dataclass(frozen=True)
class Book:
    """A generated journal: its commands in order and what it holds."""

    commands: list[dict[str, Any]]
    loans: int
    last_day: date

    def write(self, path: Path) -> Path:
        with path.open("w", encoding="utf-8") as out:
            for command in self.commands:
                out.write(json.dumps(command, ensure_ascii=False) + "\n")
        return path


def loan_commands(
    loan_id: str,
    applied_on: date,
    *,
    term_months: int,
    repayments: int,
    repayment_day: int,
    amount: str = "120000.00",
    annual_rate: str = "0.0600",
    borrower_id: str | None = None,
) -> list[dict[str, Any]]:
    """The commands of one loan: pre-loan, disbursement and `repayments` on-time installments."""
    base = {"loan_id": loan_id}
    approved_on = applied_on + timedelta(days=2)
    disbursed_on = applied_on + timedelta(days=3)
    commands: list[dict[str, Any]] = [
        {
            "command": "apply",
            **base,
            "on": applied_on.isoformat(),
            "borrower": {"id": borrower_id or f"B-{loan_id}", "name": "张三"},
            "amount": amount,
            "term_months": term_months,
            "annual_rate": annual_rate,
            "repayment_method": "annuity",
            "purpose": "working capital 流动资金",
        },
        {
            "command": "record_investigation",
            **base,
            "on": applied_on.isoformat(),
            "investigators": ["inv-01", "inv-02"],
            "findings": FINDINGS,
            "conclusion": "recommend",
        },
        {
            "command": "review",
            **base,
            "on": (applied_on + timedelta(days=1)).isoformat(),
            "reviewer": "rev-01",
            "passed": True,
            "notes": "dossier complete",
        },
        {
            "command": "approve",
            **base,
            "on": approved_on.isoformat(),
            "approver": "apr-04",
            "authority_limit": "5000000.00",
            "amount": amount,
            "term_months": term_months,
            "annual_rate": annual_rate,
            "repayment_method": "annuity",
            "repayment_day": repayment_day,
        },
        {
            "command": "disburse",
            **base,
            "on": disbursed_on.isoformat(),
            "amount": amount,
            "reference": f"{loan_id}-D1",
        },
    ]
    rows = build_schedule(
        Money.of(amount),
        AnnualRate.of(annual_rate),
        term_months,
        "annuity",
        disbursed_on,
        repayment_day,
    )
    for number, row in enumerate(rows[:repayments], start=1):
        fields = row.as_row()
        commands.append(
            {
                "command": "repay",
                **base,
                "on": fields["due_date"],
                "amount": fields["installment"],
                "reference": f"{loan_id}-R{number:03d}",
            }
        )
    return commands


def generate(
    loans: int,
    *,
    seed: int = 7,
    repayments: int = 5,
    term_months: int = 24,
    repayment_day: int | None = None,
    window_days: int = 20,
) -> Book:
    """`loans` loans applied over `window_days` days, each with `repayments` installments paid.

    Loan n pays on day `repayment_day`, else on day ((n - 1) mod 28) + 1, so the days are spread
    evenly (about 1/28 of the book on each)."""
    rng = random.Random(seed)
    dated: list[tuple[str, int, dict[str, Any]]] = []
    for number in range(1, loans + 1):
        loan_id = f"L-{number:07d}"
        applied_on = START + timedelta(days=rng.randrange(window_days))
        day = repayment_day if repayment_day is not None else (number - 1) % 28 + 1
        commands = loan_commands(
            loan_id,
            applied_on,
            term_months=term_months,
            repayments=repayments,
            repayment_day=day,
            amount=f"{rng.randrange(20, 500) * 1000}.00",
        )
        for index, command in enumerate(commands):
            dated.append((command["on"], number * 100 + index, command))
    dated.sort(key=lambda item: (item[0], item[1]))
    last = date.fromisoformat(dated[-1][0])
    return Book([command for _, _, command in dated], loans, last)
