"""Builders for the domain tests: a `Loan` made from journal lines, with no store and no clock.

The journal lines are the ones `tests/journal.py` writes for the application tests, so a domain
test reads like the journal a servicing team would load; here each line is parsed
(`parse_command`) and handled by the aggregate itself (`Loan.open_application`, `Loan.handle`).
Recorded times come from a counter, one second apart, so facts are recorded in order.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from loanledger.domain.commands import Apply, Command, parse_command
from loanledger.domain.loan import Loan, Outcome
from tests.journal import disburse, pre_loan, repay

__all__ = ["approved", "disbursed", "line", "loan_from", "pre_loan", "record", "repay"]

LOAN_ID = "L-0001"
STARTED = datetime(2024, 1, 1, tzinfo=UTC)
_SECONDS = itertools.count()


def recorded_at() -> datetime:
    """The next recorded time: one second after the last one handed out."""
    return STARTED + timedelta(seconds=next(_SECONDS))


def line(command: str, on: str, loan_id: str = LOAN_ID, **fields: Any) -> dict[str, Any]:
    """One journal line for `loan_id` (fields as the journal spells them)."""
    return {"command": command, "loan_id": loan_id, "on": on, **fields}


def loan_from(lines: list[dict[str, Any]]) -> Loan:
    """A loan from its journal: the first line applies, every other line is handled in order."""
    first = parse_command(lines[0])
    assert isinstance(first, Apply)
    loan = Loan.open_application(
        uuid.uuid5(uuid.NAMESPACE_URL, first.loan_id), first, recorded_at()
    )
    for each in lines[1:]:
        record(loan, each)
    return loan


def record(loan: Loan, journal_line: dict[str, Any]) -> Outcome:
    """Handle one more journal line on `loan` (refusals raise the rule's DomainError)."""
    command = parse_command(journal_line)
    assert isinstance(command, Command)
    return loan.handle(command, recorded_at())


def approved(**terms: Any) -> Loan:
    """Applied 2024-01-02, investigated by inv-1 and inv-2, reviewed by rev-1 and approved by
    approver-1 on 2024-01-10: 12,000.00 CNY over 12 months at 6% annuity unless told otherwise."""
    return loan_from(pre_loan(LOAN_ID, **terms))


def disbursed(on: str = "2024-01-15", amount: str = "12000.00", **terms: Any) -> Loan:
    """`approved`, then disbursed in full on `on` (first installment due a month later)."""
    return loan_from([*pre_loan(LOAN_ID, amount=amount, **terms), disburse(LOAN_ID, on, amount)])
