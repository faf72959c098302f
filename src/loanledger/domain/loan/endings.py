"""The commands that end a loan or remake its terms: write-off (of what is owed that day),
restructure (new terms from a date) and close (only once nothing is owed).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from loanledger.domain.calendar import validate_repayment_day
from loanledger.domain.commands import (
    CloseLoan,
    Restructure,
    WriteOff,
)
from loanledger.domain.errors import (
    LimitExceededError,
    WrongStateError,
)
from loanledger.domain.loan.aggregate import LoanCore
from loanledger.domain.loan.limits import (
    MAX_RESTRUCTURES,
    check_term,
)
from loanledger.domain.loan_events import (
    LoanClosed,
    LoanRestructured,
    LoanWrittenOff,
)
from loanledger.domain.rules import CN_2023, RuleSet


class EndingHandlers(LoanCore):
    """The commands that end or remake a loan: write-off, restructure, close."""

    def write_off(self, command: WriteOff, recorded_at: datetime, rules: RuleSet = CN_2023) -> None:
        self._require_servicable("write_off", needs_disbursement=True)
        self._require_on_or_after_disbursement(command.on)
        for restructure in self.restructures:
            # A written-off loan cannot be restructured, so neither can history say it was.
            self._require_not_before(command.on, restructure, "the restructure")
        position = self.position(command.on, rules)
        assert position is not None
        if position.is_settled:
            raise WrongStateError(
                f"loan {self.loan_id} owes nothing; there is nothing to write off"
            )
        interest = position.overdue_interest + sum(
            (due.interest_unpaid for due in position.installments if due.due_date == command.on),
            start=Decimal(0),
        )
        self.trigger(
            LoanWrittenOff,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            approver=command.approver,
            reason=command.reason,
            principal=position.principal_outstanding,
            interest=interest,
            penalty=position.penalty_outstanding,
        )

    def restructure(
        self, command: Restructure, recorded_at: datetime, rules: RuleSet = CN_2023
    ) -> None:
        self._require_servicable("restructure", needs_disbursement=True)
        self._require_on_or_after_disbursement(command.on)
        if len(self.restructures) >= MAX_RESTRUCTURES:
            raise LimitExceededError(f"a loan may be restructured at most {MAX_RESTRUCTURES} times")
        self._check_approver(command.approver)
        check_term(command.term_months)
        if command.repayment_day is not None:
            validate_repayment_day(command.repayment_day)
        position = self.position(command.on, rules)
        assert position is not None
        if position.is_settled:
            raise WrongStateError(
                f"loan {self.loan_id} owes nothing; there is nothing to restructure"
            )
        self.trigger(
            LoanRestructured,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            approver=command.approver,
            reason=command.reason,
            term_months=command.term_months,
            annual_rate=command.annual_rate,
            repayment_method=command.repayment_method,
            repayment_day=command.repayment_day,
        )

    def close(self, command: CloseLoan, recorded_at: datetime, rules: RuleSet = CN_2023) -> None:
        self._require_servicable("close", needs_disbursement=True)
        self._require_on_or_after_disbursement(command.on)
        latest = max(
            (*self.disbursements, *self.repayments, *self.restructures),
            key=lambda event: event.effective_date,
        )
        self._require_not_before(command.on, latest, "the last money fact")
        position = self.position(command.on, rules)
        assert position is not None
        if not position.is_settled:
            raise WrongStateError(
                f"loan {self.loan_id} still owes principal {position.principal_outstanding:.2f} "
                f"and penalty {position.penalty_outstanding:.2f} on {command.on.isoformat()}"
            )
        self.trigger(
            LoanClosed,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            refund=position.overpayment,
        )
