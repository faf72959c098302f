"""Contract-shaped, JSON-ready views of a loan (DESIGN §8 `loan` and `schedule`).

Amounts are strings with exactly two decimals, dates ISO strings, counts integers, `ltv` a
4-decimal string or None. The views are computed from the facts; nothing here is stored.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from loanledger.domain.calendar import default_repayment_day
from loanledger.domain.loan import Loan
from loanledger.domain.money import Money
from loanledger.domain.rules import CN_2023, RuleSet, bucket, classification_floor, ifrs9_stage
from loanledger.domain.schedule import build_schedule


def amount_text(value: Decimal) -> str:
    """An amount as the Contract writes it: exactly two decimals (ROUND_HALF_UP if needed)."""
    return f"{value.quantize(Decimal('0.01'), rounding='ROUND_HALF_UP'):.2f}"


def loan_view(loan: Loan, as_of: date, rules: RuleSet = CN_2023) -> dict[str, Any]:
    """The §8 `loan` fields for `loan` (already restricted to what was known) on `as_of`."""
    position = loan.position(as_of, rules)
    status = loan.status_on(as_of, position)
    figures = position if position is not None and position.disbursed > 0 else None
    zero = Decimal(0)
    days_past_due = figures.days_past_due if figures is not None else 0
    warnings = ["days_past_due"] if days_past_due >= 1 else []
    next_due = figures.next_due if figures is not None else None
    return {
        "loan_id": loan.loan_id,
        "status": status,
        "principal_outstanding": amount_text(figures.principal_outstanding if figures else zero),
        "overdue_principal": amount_text(figures.overdue_principal if figures else zero),
        "overdue_interest": amount_text(figures.overdue_interest if figures else zero),
        "penalty_outstanding": amount_text(figures.penalty_outstanding if figures else zero),
        "days_past_due": days_past_due,
        "bucket": bucket(days_past_due, rules),
        "classification": classification_floor(days_past_due, rules),
        "ifrs9_stage": ifrs9_stage(days_past_due, flagged=False, written_off=False, rules=rules),
        "next_due_date": next_due.due_date.isoformat() if next_due is not None else None,
        "next_due_amount": amount_text(next_due.overdue_base) if next_due is not None else None,
        "ltv": None,
        "warnings": warnings,
        "overpayment": amount_text(figures.overpayment if figures else zero),
        "currency": loan.currency_code,
        "rule_set": rules.version,
        "as_of": as_of.isoformat(),
    }


def schedule_rows(loan: Loan, as_of: date, rules: RuleSet = CN_2023) -> list[dict[str, Any]]:
    """The schedule in force on `as_of`. Approved but not yet disbursed: the provisional schedule
    for the approved amount as if disbursed on the approval date (it is rebuilt from the actual
    disbursement date once money moves)."""
    position = loan.position(as_of, rules)
    if position is None:
        return []
    if position.disbursed > 0:
        return [row.as_row() for row in position.schedule()]
    terms = loan.terms()
    assert loan.approval is not None
    start = loan.approval.effective_date
    rows = build_schedule(
        Money.of(terms.amount.amount, terms.currency),
        terms.annual_rate,
        terms.term_months,
        terms.method,
        start,
        terms.repayment_day or default_repayment_day(start),
        rounding=rules.rounding,
        day_count=rules.irregular_period_day_count,
    )
    return [row.as_row() for row in rows]
