"""`publish_rate`: a rate index's published value recorded on the index's stream, and the rate
resets of floating-rate loans it changes, recorded in the same transaction (issue 19 item 5).

A value published for a date on or before a reset a loan has already recorded (a backdated
publication, or a correction of a published value) changes the index in force on that reset
date: each such loan records its reset again with the new value (`Loan.reset_rate`). Resets not
reached yet are left to close of day, which records each on its date with the value then in
force (`reset_due_on`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from loanledger.domain.book_commands import PublishRate
from loanledger.domain.event import DomainEvent
from loanledger.domain.rate_index import RateIndex

if TYPE_CHECKING:
    from loanledger.application.book import BookRegister
    from loanledger.application.ledger import LoanLedger
    from loanledger.domain.loan import Loan


def publish_rate(
    ledger: LoanLedger, book: BookRegister, command: PublishRate, now: datetime
) -> dict[str, Any]:
    """Record the published value (nothing when exactly it is published already) and, in the
    same transaction, every reset it corrects."""
    book.require_administrator(command.published_by, "published_by", command.on, "publish_rate")
    stream = book.rate_index(command.index)
    recorded_at = max(now, stream.modified_on) if stream.modified_on else now
    event = stream.publish(
        command.index, command.on, command.rate, recorded_at, command.published_by
    )
    result: dict[str, Any] = {
        "command": command.command,
        "index": command.index,
        "on": command.on.isoformat(),
        "version": stream.version,
        "loans_reset": 0,
    }
    if event is None:
        return result
    corrected = _corrected_loans(ledger, stream, command.index, command.on)
    ledger.save(stream, *corrected)
    result["loans_reset"] = len(corrected)
    return result


def _corrected_loans(ledger: LoanLedger, stream: RateIndex, index: str, since: date) -> list[Loan]:
    """Floating loans on `index` with a reset recorded on or after `since`, each with its
    corrected resets pending (those whose value in force on the reset date changed)."""
    corrected = []
    for shared in ledger.stored_loans(None):
        floating = shared.floating()
        if floating is None or floating.index != index:
            continue
        if not any(day >= since for day in shared.recorded_resets()):
            continue
        loan = ledger.stored_loan(shared.loan_id)  # a copy of its own: it records
        for day in sorted(loan.recorded_resets()):
            if day >= since:
                loan.reset_rate(day, stream.in_force(index, day), ledger.recorded_at_for(loan))
        if loan.has_pending_events:
            corrected.append(loan)
    return corrected


def reset_due_on(ledger: LoanLedger, loan: Loan, on: date) -> list[DomainEvent]:
    """Close of day's part: record (pending) the reset `on` owes a floating loan, with the index
    value in force on `on`; nothing for any other loan or date."""
    floating = loan.floating()
    if floating is None or loan.closed is not None or loan.written_off is not None:
        return []  # a closed or written-off loan's contract no longer runs
    if on in loan.recorded_resets() or on not in loan.reset_dates():
        return []
    value = ledger.book.index_value(floating.index, on)
    return loan.reset_rate(on, value, ledger.recorded_at_for(loan))
