"""The commands of a loan in trouble: a downgrade of its classification (never above the floor
its days past due set), and the legal route: arbitration filed, award granted, enforcement
applied, recovery recorded against cash already received.
"""

from __future__ import annotations

from datetime import datetime

from loanledger.domain.commands import (
    ApplyEnforcement,
    Downgrade,
    FileArbitration,
    RecordAward,
    RecordRecovery,
)
from loanledger.domain.errors import (
    ClassificationError,
    DuplicateReferenceError,
    LimitExceededError,
    UnknownReferenceError,
    WrongStateError,
)
from loanledger.domain.loan.aggregate import LoanCore
from loanledger.domain.loan.limits import (
    MAX_CASES,
)
from loanledger.domain.loan_events import (
    ArbitrationFiled,
    AwardGranted,
    ClassificationDowngraded,
    EnforcementApplied,
    RecoveryRecorded,
    RepaymentReceived,
)
from loanledger.domain.money import Money
from loanledger.domain.recoveries import recovery_recorded_before
from loanledger.domain.rules import CLASSIFICATIONS, CN_2023, RuleSet, classification_floor


class LegalHandlers(LoanCore):
    """Classification downgrades and the legal route: arbitration, award, enforcement, recovery."""

    def downgrade(
        self, command: Downgrade, recorded_at: datetime, rules: RuleSet = CN_2023
    ) -> None:
        self._require_servicable("downgrade", needs_disbursement=True)
        self._require_on_or_after_disbursement(command.on)
        position = self.position(command.on, rules)
        assert position is not None
        floor = classification_floor(position.days_past_due, rules)
        if CLASSIFICATIONS.index(command.classification) < CLASSIFICATIONS.index(floor):
            raise ClassificationError(
                f"classification {command.classification!r} would be above the floor {floor!r} "
                f"that {position.days_past_due} days past due sets on {command.on.isoformat()}"
            )
        self.trigger(
            ClassificationDowngraded,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            classification=command.classification,
            approver=command.approver,
            reason=command.reason,
        )

    def file_arbitration(self, command: FileArbitration, recorded_at: datetime) -> None:
        self._require_servicable("file_arbitration", needs_disbursement=True)
        if command.case_id in self.cases:
            raise DuplicateReferenceError(f"case {command.case_id!r} is already filed")
        if len(self.cases) >= MAX_CASES:
            raise LimitExceededError(f"a loan may have at most {MAX_CASES} legal cases")
        self._require_on_or_after_disbursement(command.on)
        self.trigger(
            ArbitrationFiled,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            case_id=command.case_id,
            forum=command.forum,
            claim_amount=Money.of(command.claim_amount, self.currency_code).amount,
        )

    def record_award(self, command: RecordAward, recorded_at: datetime) -> None:
        filed = self._case(command.case_id)
        self._require_not_before(command.on, filed, "the filing")
        self.trigger(
            AwardGranted,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            case_id=command.case_id,
            award_amount=Money.of(command.award_amount, self.currency_code).amount,
        )

    def apply_enforcement(self, command: ApplyEnforcement, recorded_at: datetime) -> None:
        filed = self._case(command.case_id)
        if not any(isinstance(event, AwardGranted) for event in self.cases[command.case_id]):
            raise WrongStateError(f"case {command.case_id!r} has no award to enforce yet")
        self._require_not_before(command.on, filed, "the filing")
        self.trigger(
            EnforcementApplied,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            case_id=command.case_id,
            court=command.court,
        )

    def record_recovery(self, command: RecordRecovery, recorded_at: datetime) -> None:
        if recovery_recorded_before(self.cases, command):
            return  # the same recovery again: recorded once (issue 17 item 4)
        filed = self._case(command.case_id)
        repayment = self.references.get(command.repayment_reference)
        if not isinstance(repayment, RepaymentReceived):
            raise UnknownReferenceError(
                f"recovery names repayment {command.repayment_reference!r}, which loan "
                f"{self.loan_id} has not received; record the cash with repay first"
            )
        amount = Money.of(command.amount, self.currency_code)
        if amount.amount != repayment.amount:
            raise DuplicateReferenceError(
                f"recovery of {amount} does not match repayment "
                f"{command.repayment_reference!r} of {repayment.amount:.2f}"
            )
        self._require_not_before(command.on, filed, "the filing")
        self.trigger(
            RecoveryRecorded,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            case_id=command.case_id,
            amount=amount.amount,
            repayment_reference=command.repayment_reference,
        )
