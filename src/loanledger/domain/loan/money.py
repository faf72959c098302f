"""The commands that move money: disburse, repay (and prepay), refund; and the compensating
`AllocationRevised` facts when a backdated money fact changes how earlier repayments were
allocated. The allocation itself is derived by the servicing walk (`domain.servicing`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from loanledger.domain.commands import (
    Disburse,
    Refund,
    Repay,
)
from loanledger.domain.errors import (
    InvalidDateError,
    LimitExceededError,
    OverDisbursementError,
    WrongStateError,
)
from loanledger.domain.event import DomainEvent
from loanledger.domain.lifecycle import require_allowed
from loanledger.domain.loan.limits import (
    MAX_REPAYMENTS,
    MAX_TRANCHES,
)
from loanledger.domain.loan.results import LoanResults, Outcome
from loanledger.domain.loan_events import (
    AllocationRevised,
    LoanDisbursed,
    OverpaymentRefunded,
    PrepaymentReceived,
    RepaymentReceived,
)
from loanledger.domain.money import Money
from loanledger.domain.refunds import check_refund
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.domain.servicing import MoneyFact, Position, derive_position


class MoneyHandlers(LoanResults):
    """Commands that move money: disbursement tranches, repayments and refunds, and the revised
    allocations a backdated money fact causes."""

    def disburse(self, command: Disburse, recorded_at: datetime) -> Outcome:
        repeat = self._repeat_of(command)
        if repeat is not None:
            return repeat
        if self.rejection is not None or self.withdrawal is not None:
            raise WrongStateError(f"loan {self.loan_id} is closed to disbursement")
        if self.approval is None:
            raise WrongStateError(f"loan {self.loan_id} cannot be disbursed before approval")
        self._require_not_before(command.on, self.approval, "the approval")
        if self.disbursements:
            settled = self.position(command.on)
            if settled is not None and settled.is_settled:
                require_allowed(self.loan_id, "settled", "disburse")
        code = self.currency_code
        amount = Money.of(command.amount, code)
        already = sum((event.amount for event in self.disbursements), start=Decimal(0))
        approved = Money.of(self.approval.amount, code)
        if Money.of(already, code) + amount > approved:
            raise OverDisbursementError(
                f"disbursing {amount} would bring the total disbursed to "
                f"{Money.of(already, code) + amount}, above the approved {approved}"
            )
        if len(self.disbursements) >= MAX_TRANCHES:
            raise LimitExceededError(
                f"a loan may have at most {MAX_TRANCHES} disbursement tranches"
            )
        if self.disbursements:
            first = min(event.effective_date for event in self.disbursements)
            position = self.position(command.on)
            assert position is not None
            maturity = position.maturity_date
            if command.on < first or (maturity is not None and command.on >= maturity):
                raise InvalidDateError(
                    f"a further tranche must fall between the first disbursement "
                    f"{first.isoformat()} and maturity, got {command.on.isoformat()}"
                )
        event = self.trigger(
            LoanDisbursed,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            amount=amount.amount,
            reference=command.reference,
            payee=command.payee,
            content_hash=command.content_hash(),
            borrower_id=self.application.borrower.id if self.application else None,
        )
        return Outcome((event,), self.disbursement_result(event, repeated=False))

    def repay(self, command: Repay, recorded_at: datetime, rules: RuleSet = CN_2023) -> Outcome:
        repeat = self._repeat_of(command)
        if repeat is not None:
            return repeat
        if not self.disbursements:
            raise WrongStateError(
                f"loan {self.loan_id}: no repayment before the first disbursement"
            )
        first = min(event.effective_date for event in self.disbursements)
        if command.on < first:
            raise InvalidDateError(
                f"repayment dated {command.on.isoformat()} is before the first disbursement "
                f"on {first.isoformat()}"
            )
        if len(self.repayments) >= MAX_REPAYMENTS:
            raise LimitExceededError(f"a loan may have at most {MAX_REPAYMENTS} repayments")
        if self.closed is not None:
            # Money for a closed loan is held (it reopens as `overpaid`), but not before the close:
            # the close paid back what was held on its date.
            self._require_not_before(command.on, self.closed, "the close")
        amount = Money.of(command.amount, self.currency_code)
        version = self.version + 1
        keep = command.keep or "term"
        facts = [
            *self.money_facts(),
            MoneyFact(
                "repay", command.on, amount, command.reference, version, command.prepay, keep=keep
            ),
        ]
        # Money received is never refused once the loan was disbursed: on a settled loan it is
        # held as overpayment (DESIGN §12).
        after = derive_position(self.terms(), facts, max(fact.on for fact in facts), rules)
        allocation = allocation_amounts(after, command.reference)
        self._derived = after  # the same walk serves the revisions `handle` records next
        extra: dict[str, Any] = {} if command.keep is None else {"keep": command.keep}
        event = self.trigger(
            PrepaymentReceived if command.keep is not None else RepaymentReceived,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            amount=amount.amount,
            reference=command.reference,
            prepay=command.prepay,
            content_hash=command.content_hash(),
            allocation=allocation,
            **extra,
        )
        return Outcome((event,), self.repayment_result(event, repeated=False))

    def refund(self, command: Refund, recorded_at: datetime, rules: RuleSet = CN_2023) -> Outcome:
        """Pay held overpayment back, on any disbursed loan (see `refunds.py`)."""
        repeat = self._repeat_of(command)
        if repeat is not None:
            return repeat
        self._require_open_application("refund")
        if len(self.refunds) >= MAX_REPAYMENTS:
            raise LimitExceededError(f"a loan may have at most {MAX_REPAYMENTS} refunds")
        amount = Money.of(command.amount, self.currency_code)
        fact = MoneyFact("refund", command.on, amount, command.reference, self.version + 1)
        check_refund(self.loan_id, self.terms(), self.money_facts(), fact, rules)
        event = self.trigger(
            OverpaymentRefunded,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            amount=amount.amount,
            reference=command.reference,
            payee=command.payee,
            content_hash=command.content_hash(),
            borrower_id=self.application.borrower.id if self.application else None,
        )
        return Outcome((event,), self.refund_result(event, repeated=False))

    def _revise_allocations(
        self,
        cause: DomainEvent,
        recorded_at: datetime,
        rules: RuleSet = CN_2023,
        *,
        position: Position | None = None,
    ) -> list[AllocationRevised]:
        """Record a compensating event for every earlier repayment whose allocation changed.
        `position` may pass in a walk over exactly the current facts, to save a second one."""
        if position is None:
            facts = self.money_facts()
            position = derive_position(self.terms(), facts, max(fact.on for fact in facts), rules)
        revisions = []
        for repayment in self.repayments:
            if repayment is cause:
                continue
            version, recorded = self.recorded_allocations[repayment.reference]
            current = allocation_amounts(position, repayment.reference)
            if current != recorded:
                revisions.append(
                    self.trigger(
                        AllocationRevised,
                        recorded_at,
                        loan_id=self.loan_id,
                        effective_date=repayment.effective_date,
                        reference=repayment.reference,
                        revises_version=version,
                        caused_by_version=cause.originator_version,
                        previous=recorded,
                        allocation=current,
                    )
                )
        return revisions


def allocation_amounts(position: Position, reference: str) -> dict[str, Decimal]:
    """The allocation of one repayment at exactly the currency's minor unit, as recorded."""
    allocation = position.allocations[reference]
    parts = {
        "penalty": allocation.penalty,
        "interest": allocation.interest,
        "principal": allocation.principal,
        "prepaid_principal": allocation.prepaid_principal,
        "overpayment": allocation.overpayment,
    }
    if allocation.overpayment_applied:
        # Only a prepayment that used held money has it: other allocations keep their shape.
        parts["overpayment_applied"] = allocation.overpayment_applied
    if allocation.fee:
        parts["fee"] = allocation.fee  # a product's prepayment fee (likewise only when paid)
    # The walk's amounts are exact sums of minor units; quantize only fixes the exponent of zero.
    quantum = position.currency.quantum
    return {name: value.quantize(quantum) for name, value in parts.items()}
