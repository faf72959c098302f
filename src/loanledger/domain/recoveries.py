"""Recoveries through a case are recorded once per repayment reference (issue 17 item 4).

A `record_recovery` names the repayment (`repay` reference) whose cash the case recovered. Like
`repay`, the reference is an idempotency key: the same recovery again (same case, date and
amount) is a no-op, and the same reference with anything different is refused, so a recovery is
never counted twice in the evidence bundle or the arbitration reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from loanledger.domain.commands import RecordRecovery
from loanledger.domain.errors import DuplicateReferenceError
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan_events import RecoveryRecorded


def recovery_recorded_before(
    cases: Mapping[str, Iterable[DomainEvent]], command: RecordRecovery
) -> bool:
    """Whether exactly this recovery was recorded already; refuse (DuplicateReferenceError) a
    recovery of the same repayment with different content."""
    for events in cases.values():
        for event in events:
            if not isinstance(event, RecoveryRecorded):
                continue
            if event.repayment_reference != command.repayment_reference:
                continue
            if (event.case_id, event.effective_date, event.amount) == (
                command.case_id,
                command.on,
                command.amount,
            ):
                return True
            raise DuplicateReferenceError(
                f"recovery of repayment {command.repayment_reference!r} was already recorded "
                f"in case {event.case_id!r} on {event.effective_date.isoformat()} for "
                f"{event.amount:.2f}; a different recovery with the same reference is refused"
            )
    return False
