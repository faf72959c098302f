"""The Loan aggregate as one class, and `handle`, which runs a journal command on it.

`Loan` composes the core (`aggregate.LoanCore`) with the handlers of each stage of the
loan's life; `HANDLERS` names the method that handles each command. Before any handler runs,
`handle` checks the lifecycle table (`domain.lifecycle`); after it, every earlier repayment
whose allocation the new money fact changes gets a compensating `AllocationRevised` fact.
"""

from __future__ import annotations

from datetime import datetime

from loanledger.domain.commands import (
    AcknowledgeNotice,
    AddGuarantor,
    ApplyEnforcement,
    Approve,
    AssessGuarantor,
    CloseLoan,
    Command,
    Disburse,
    Downgrade,
    FileArbitration,
    PledgeCollateral,
    RecordAward,
    RecordInvestigation,
    RecordPostLoanCheck,
    RecordRecovery,
    Refund,
    Reject,
    ReleaseCollateral,
    Repay,
    Restructure,
    RevalueCollateral,
    Review,
    Withdraw,
    WriteOff,
)
from loanledger.domain.event import DomainEvent
from loanledger.domain.lifecycle import open_stages, require_allowed
from loanledger.domain.loan.close_of_day import CloseOfDay
from loanledger.domain.loan.endings import EndingHandlers
from loanledger.domain.loan.legal import LegalHandlers
from loanledger.domain.loan.money import MoneyHandlers
from loanledger.domain.loan.preloan import PreLoanHandlers
from loanledger.domain.loan.rate_resets import RateResets
from loanledger.domain.loan.results import Outcome
from loanledger.domain.loan.security import SecurityHandlers
from loanledger.domain.loan_events import (
    LoanDisbursed,
    LoanRestructured,
    OverpaymentRefunded,
    PostLoanCheckRecorded,
    RepaymentReceived,
)
from loanledger.domain.products.catalogue import ProductVersion


class Loan(
    PreLoanHandlers,
    RateResets,
    MoneyHandlers,
    SecurityHandlers,
    LegalHandlers,
    EndingHandlers,
    CloseOfDay,
):
    """One loan, from application to its last repayment."""

    def handle(
        self, command: Command, recorded_at: datetime, *, product: ProductVersion | None = None
    ) -> Outcome:
        """Run any journal command but `apply` on this loan; refusals raise DomainError.

        A fact that changes the money walk (a repayment, a tranche, a restructure, a misuse
        finding) may change how earlier repayments are allocated when it is backdated; each
        recorded allocation it changes gets a compensating `AllocationRevised` event.
        """
        self._require_lifecycle(command)
        if isinstance(command, Approve):
            # The product version in force on the approval date, read by the caller (None for a
            # loan on the default product).
            self.approve(command, recorded_at, product)
            outcome: Outcome | None = None
        else:
            outcome = getattr(self, HANDLERS[type(command)])(command, recorded_at)
        if not isinstance(outcome, Outcome):
            outcome = Outcome(tuple(self._pending), {})
        cause = next((event for event in self._pending if moves_money(event)), None)
        if cause is not None and self.repayments:
            self._revise_allocations(cause, recorded_at, position=self._derived)
        self._derived = None
        return outcome

    def _require_lifecycle(self, command: Command) -> None:
        """The lifecycle table's guard, before any handler runs. A repeated disbursement or
        repayment reference is left to its handler (a no-op, or a conflict); an `active` loan
        may be `settled`, which the handlers that care derive and check themselves."""
        if isinstance(command, Disburse | Repay) and command.reference in self.references:
            return
        stage = self.lifecycle_stage()
        if stage == "active" and open_stages(command.command):
            return
        require_allowed(self.loan_id, stage, command.command)


HANDLERS: dict[type[Command], str] = {
    RecordInvestigation: "record_investigation",
    Review: "record_review",
    Approve: "approve",
    Reject: "reject",
    Withdraw: "withdraw",
    Disburse: "disburse",
    Repay: "repay",
    PledgeCollateral: "pledge_collateral",
    RevalueCollateral: "revalue_collateral",
    ReleaseCollateral: "release_collateral",
    AddGuarantor: "add_guarantor",
    AssessGuarantor: "assess_guarantor",
    RecordPostLoanCheck: "record_post_loan_check",
    AcknowledgeNotice: "acknowledge_notice",
    Downgrade: "downgrade",
    WriteOff: "write_off",
    Restructure: "restructure",
    CloseLoan: "close",
    FileArbitration: "file_arbitration",
    RecordAward: "record_award",
    ApplyEnforcement: "apply_enforcement",
    RecordRecovery: "record_recovery",
    Refund: "refund",
}
"""The Loan method that handles each journal command (`apply` creates the loan instead)."""


def moves_money(event: DomainEvent) -> bool:
    """Whether the event is a fact of the money walk (see `Loan.money_facts`)."""
    if isinstance(event, PostLoanCheckRecorded):
        return event.funds_misused
    return isinstance(
        event, LoanDisbursed | RepaymentReceived | LoanRestructured | OverpaymentRefunded
    )
