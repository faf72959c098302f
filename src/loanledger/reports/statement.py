"""`LoanLedger.statement`: a loan's account statement (对账单) between two business dates.

Opening balances at the end of the day before `from_date`; each money movement effective in the
period in business-date order (disbursements; repayments with their allocation and, for money
recovered through a legal case, the case; refunds of money held; the write-off); the balances at
the end of each movement's business day; and closing balances equal to the loan view on
`to_date` (one walk gives both, so they cannot disagree).

A movement recorded after its business date (backdated) is marked `recorded_late`, with the
repayments whose allocation it revised; the allocation shown is the one in force with every fact
known (as of `known_at`), which is what the figures rest on. Balances are those at the end of a
movement's business day: when several movements share a day, they share its closing balances.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.domain.loan_events import (
    AllocationRevised,
    LoanDisbursed,
    LoanWrittenOff,
    OverpaymentRefunded,
    RecoveryRecorded,
    RepaymentReceived,
)
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.domain.servicing import Position
from loanledger.reports.amounts import amount_text

BALANCE_FIELDS = (
    "principal_outstanding",
    "overdue_principal",
    "overdue_interest",
    "penalty_outstanding",
    "overpayment",
    "fees_outstanding",
)
"""The balances a statement carries: the money fields of the loan view."""


def balances(position: Position | None) -> dict[str, str]:
    """The statement's balances from a walk (zeros before any money moved)."""
    if position is None or position.disbursed == 0:
        return {name: amount_text(Decimal(0)) for name in BALANCE_FIELDS}
    return {
        "principal_outstanding": amount_text(position.principal_outstanding),
        "overdue_principal": amount_text(position.overdue_principal),
        "overdue_interest": amount_text(position.overdue_interest),
        "penalty_outstanding": amount_text(position.penalty_outstanding),
        "overpayment": amount_text(position.overpayment),
        "fees_outstanding": amount_text(position.fees_outstanding),
    }


def build_statement(
    loan: Loan, from_date: date, to_date: date, rules: RuleSet = CN_2023
) -> dict[str, Any]:
    """The statement of `loan` (already restricted to what was known) from the start of
    `from_date` to the end of `to_date`."""
    closing_position = loan.position(to_date, rules)
    revised: dict[str, list[int]] = {}
    recovered: dict[str, str] = {}
    for event in loan.history:
        if isinstance(event, AllocationRevised):
            revised.setdefault(event.reference, []).append(event.caused_by_version)
        elif isinstance(event, RecoveryRecorded):
            recovered[event.repayment_reference] = event.case_id
    movements = []
    for event in sorted(
        loan.history, key=lambda item: (item.effective_date, item.originator_version)
    ):
        if not from_date <= event.effective_date <= to_date:
            continue
        movement = _movement(event, closing_position, revised, recovered)
        if movement is None:
            continue
        movement["balances"] = balances(loan.position(event.effective_date, rules))
        movements.append(movement)
    return {
        "loan_id": loan.loan_id,
        "currency": loan.currency_code,
        "from_date": from_date.isoformat(),
        "to_date": to_date.isoformat(),
        "rule_set": rules.version,
        "opening": balances(loan.position(from_date - timedelta(days=1), rules)),
        "movements": movements,
        "totals": _totals(movements),
        "closing": balances(closing_position),
    }


def _movement(
    event: DomainEvent,
    closing: Position | None,
    revised: dict[str, list[int]],
    recovered: dict[str, str],
) -> dict[str, Any] | None:
    if isinstance(event, LoanDisbursed):
        kind, amount, reference = "disbursement", event.amount, event.reference
    elif isinstance(event, RepaymentReceived):
        kind, amount, reference = "repayment", event.amount, event.reference
    elif isinstance(event, OverpaymentRefunded):
        kind, amount, reference = "refund", event.amount, event.reference
    elif isinstance(event, LoanWrittenOff):
        kind, amount, reference = "write_off", event.principal, ""
    else:
        return None
    recorded_at = event.timestamp
    row: dict[str, Any] = {
        "on": event.effective_date.isoformat(),
        "kind": kind,
        "reference": reference,
        "amount": amount_text(amount),
        "version": event.originator_version,
        "recorded_at": recorded_at.isoformat(),
        "recorded_late": recorded_at.date() > event.effective_date,
    }
    if isinstance(event, RepaymentReceived):
        allocation = closing.allocations.get(event.reference) if closing is not None else None
        if allocation is not None:
            row["allocation"] = allocation.as_dict()
        row["prepay"] = event.prepay
        row["revised_by_versions"] = sorted(revised.get(event.reference, []))
        row["recovery_case"] = recovered.get(event.reference)
    return row


def _totals(movements: list[dict[str, Any]]) -> dict[str, str]:
    """Money in and out in the period, by kind (every kind listed, zero when none)."""
    totals = {kind: Decimal(0) for kind in ("disbursement", "repayment", "refund", "write_off")}
    for movement in movements:
        totals[movement["kind"]] += Decimal(movement["amount"])
    return {kind: amount_text(value) for kind, value in totals.items()}
