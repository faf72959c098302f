"""What a command answers: `Outcome` (its events and a JSON summary) and the summaries of the
money commands, which a repeated reference answers again unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loanledger.domain.commands import (
    Disburse,
    Refund,
    Repay,
)
from loanledger.domain.errors import (
    DuplicateReferenceError,
)
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan.aggregate import LoanCore
from loanledger.domain.loan_events import (
    LoanDisbursed,
    OverpaymentRefunded,
    RepaymentReceived,
)


@dataclass(frozen=True)
class Outcome:
    """What a command did: the events it recorded (none for an idempotent repeat) and a summary."""

    events: tuple[DomainEvent, ...]
    result: dict[str, Any]


class LoanResults(LoanCore):
    """The JSON summaries a money command answers with, first time and on an idempotent repeat."""

    def disbursement_result(self, event: LoanDisbursed, *, repeated: bool) -> dict[str, Any]:
        total = sum(
            (
                item.amount
                for item in self.disbursements
                if item.originator_version <= event.originator_version
            ),
            start=Decimal(0),
        )
        return {
            "reference": event.reference,
            "amount": f"{event.amount:.2f}",
            "disbursed_total": f"{total:.2f}",
            "version": event.originator_version,
            "repeated": repeated,
        }

    def refund_result(self, event: OverpaymentRefunded, *, repeated: bool) -> dict[str, Any]:
        return {
            "reference": event.reference,
            "amount": f"{event.amount:.2f}",
            "version": event.originator_version,
            "repeated": repeated,
        }

    def repayment_result(self, event: RepaymentReceived, *, repeated: bool) -> dict[str, Any]:
        _, allocation = self.recorded_allocations[event.reference]
        return {
            "reference": event.reference,
            "amount": f"{event.amount:.2f}",
            "allocation": {key: f"{value:.2f}" for key, value in sorted(allocation.items())},
            "version": event.originator_version,
            "repeated": repeated,
        }

    def _repeat_of(self, command: Disburse | Repay | Refund) -> Outcome | None:
        """Same reference and same content: a no-op returning the original result."""
        earlier = self.references.get(command.reference)
        if earlier is None:
            return None
        if earlier.content_hash != command.content_hash():
            raise DuplicateReferenceError(
                f"reference {command.reference!r} was already used on loan {self.loan_id} "
                "with different content"
            )
        if isinstance(earlier, LoanDisbursed):
            return Outcome((), self.disbursement_result(earlier, repeated=True))
        if isinstance(earlier, OverpaymentRefunded):
            return Outcome((), self.refund_result(earlier, repeated=True))
        return Outcome((), self.repayment_result(earlier, repeated=True))
