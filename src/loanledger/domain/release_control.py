"""Collateral release control (issue 17 item 9): a release that weakens a loan's security
needs a second person's approval.

A release is controlled when, on its date, the loan is overdue (days past due ≥ 1) or the
collateral left would breach the LTV threshold (outstanding principal / remaining value above
the rule set's threshold, or nothing left while principal is outstanding). A controlled release
needs `requested_by` and an `approver` who is a different person (ids compared trimmed and
casefolded); the approver's authority (the staff register) is checked by the application. Both
names are recorded on the `CollateralReleased` fact.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from loanledger.domain.commands import ReleaseCollateral
from loanledger.domain.errors import ReleaseControlError, SeparationOfDutiesError
from loanledger.domain.postloan import LoanHistory, post_loan_state
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.domain.servicing import Position
from loanledger.domain.staff import normalised


class ReleasingLoan(LoanHistory, Protocol):
    """What release control reads from the loan (a protocol, so this module never imports the
    aggregate that calls it)."""

    @property
    def loan_id(self) -> str: ...

    def position(self, as_of: date, rules: RuleSet = CN_2023) -> Position | None: ...


def control_reason(
    loan: ReleasingLoan, command: ReleaseCollateral, rules: RuleSet = CN_2023
) -> str | None:
    """Why this release needs a second person's approval (None: it does not)."""
    position = loan.position(command.on, rules)
    if position is None or position.disbursed <= 0:
        return None
    if position.days_past_due >= 1:
        return f"loan {loan.loan_id} is {position.days_past_due} days past due"
    outstanding = position.principal_outstanding
    if outstanding <= 0:
        return None
    state = post_loan_state(loan, command.on)
    remaining = sum(
        (value for key, value in state.collateral.items() if key != command.collateral_id),
        start=Decimal(0),
    )
    if remaining <= 0:
        return f"no collateral would be left for {outstanding:.2f} outstanding"
    ltv = (outstanding / remaining).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    if ltv > rules.ltv_warning_above:
        return f"LTV would be {ltv}, above {rules.ltv_warning_above}"
    return None


def check_release(
    loan: ReleasingLoan, command: ReleaseCollateral, rules: RuleSet = CN_2023
) -> None:
    """Refuse a controlled release without a second person's approval."""
    if command.approver is not None:
        if command.requested_by is None:
            raise ReleaseControlError(
                "release_collateral: an approver needs the requester named (requested_by)"
            )
        if normalised(command.approver) == normalised(command.requested_by):
            raise SeparationOfDutiesError(
                f"release_collateral: approver {command.approver!r} is the requester; a second "
                "person must approve"
            )
        return
    reason = control_reason(loan, command, rules)
    if reason is not None:
        raise ReleaseControlError(
            f"release_collateral: {reason}; the release needs a second person's approval "
            "(requested_by and a different approver)"
        )
