"""`LoanLedger.installments`: the schedule in force with what was paid of each installment.

JSON-ready rows (amounts as two-decimal strings, dates ISO) built from the pure
`loanledger.domain.installments`; what a servicing desk shows a borrower asking "what do I still
owe of which installment, and which ones are late".
"""

from __future__ import annotations

from datetime import date
from typing import Any

from loanledger.domain.installments import InstallmentStatus, installment_statuses
from loanledger.domain.loan import Loan
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.reports.amounts import amount_text


def installment_rows(loan: Loan, as_of: date, rules: RuleSet = CN_2023) -> list[dict[str, Any]]:
    """One row per installment of the schedule in force at the end of `as_of` (empty before the
    first disbursement: nothing has fallen due and nothing can have been paid)."""
    position = loan.position(as_of, rules)
    if position is None or position.disbursed == 0:
        return []
    money_dates = [fact.on for fact in loan.money_facts() if fact.on <= as_of]
    statuses = installment_statuses(position, money_dates, lambda day: loan.position(day, rules))
    return [_row(status) for status in statuses]


def _row(status: InstallmentStatus) -> dict[str, Any]:
    return {
        "number": status.number,
        "due_date": status.due_date.isoformat(),
        "status": status.status,
        "principal_due": amount_text(status.principal_due),
        "principal_paid": amount_text(status.principal_paid),
        "principal_outstanding": amount_text(status.principal_outstanding),
        "interest_due": amount_text(status.interest_due),
        "interest_paid": amount_text(status.interest_paid),
        "interest_outstanding": amount_text(status.interest_outstanding),
        "penalty_due": amount_text(status.penalty_due),
        "penalty_paid": amount_text(status.penalty_paid),
        "penalty_outstanding": amount_text(status.penalty_outstanding),
        "fee_due": amount_text(status.fee_due),
        "fee_paid": amount_text(status.fee_paid),
        "fee_outstanding": amount_text(status.fee_outstanding),
        "paid_on": status.paid_on.isoformat() if status.paid_on is not None else None,
    }
