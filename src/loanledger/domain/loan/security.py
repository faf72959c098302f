"""The commands about a loan's security and monitoring (贷后): collateral pledged, revalued and
released (under release control), guarantors added and assessed, post-loan checks, and the
borrower's acknowledgement of a notice.
"""

from __future__ import annotations

from datetime import datetime

from loanledger.domain.commands import (
    AcknowledgeNotice,
    AddGuarantor,
    AssessGuarantor,
    PledgeCollateral,
    RecordPostLoanCheck,
    ReleaseCollateral,
    RevalueCollateral,
)
from loanledger.domain.errors import (
    DuplicateReferenceError,
    LimitExceededError,
    UnknownReferenceError,
    WrongStateError,
)
from loanledger.domain.loan.aggregate import LoanCore
from loanledger.domain.loan.limits import (
    MAX_COLLATERAL_ITEMS,
    MAX_GUARANTORS,
)
from loanledger.domain.loan_events import (
    CollateralPledged,
    CollateralReleased,
    CollateralRevalued,
    GuarantorAdded,
    GuarantorAssessed,
    NoticeAcknowledged,
    PostLoanCheckRecorded,
)
from loanledger.domain.money import Money
from loanledger.domain.release_control import check_release


class SecurityHandlers(LoanCore):
    """Security and monitoring commands: collateral, guarantors, post-loan checks, notices."""

    def pledge_collateral(self, command: PledgeCollateral, recorded_at: datetime) -> None:
        self._require_servicable("pledge_collateral", needs_disbursement=False)
        if command.collateral_id in self.collateral:
            raise DuplicateReferenceError(
                f"collateral {command.collateral_id!r} is already pledged to loan {self.loan_id}"
            )
        if len(self.collateral) >= MAX_COLLATERAL_ITEMS:
            raise LimitExceededError(
                f"a loan may have at most {MAX_COLLATERAL_ITEMS} collateral items"
            )
        assert self.application is not None
        self._require_not_before(command.on, self.application, "the application")
        value = Money.of(command.value, self.currency_code)
        self.trigger(
            CollateralPledged,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            collateral_id=command.collateral_id,
            kind=command.kind,
            value=value.amount,
            appraiser=command.appraiser,
        )

    def revalue_collateral(self, command: RevalueCollateral, recorded_at: datetime) -> None:
        self._require_servicable("revalue_collateral", needs_disbursement=False)
        pledged = self._collateral(command.collateral_id)
        self._require_not_before(command.on, pledged, "the pledge")
        value = Money.of(command.value, self.currency_code)
        self.trigger(
            CollateralRevalued,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            collateral_id=command.collateral_id,
            value=value.amount,
            appraiser=command.appraiser,
        )

    def release_collateral(self, command: ReleaseCollateral, recorded_at: datetime) -> None:
        pledged = self._collateral(command.collateral_id)
        self._require_not_before(command.on, pledged, "the pledge")
        check_release(self, command)
        approval = (
            {"requested_by": command.requested_by, "approver": command.approver}
            if command.approver is not None or command.requested_by is not None
            else {}
        )
        self.trigger(
            CollateralReleased,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            collateral_id=command.collateral_id,
            **approval,
        )

    def add_guarantor(self, command: AddGuarantor, recorded_at: datetime) -> None:
        self._require_servicable("add_guarantor", needs_disbursement=False)
        if command.guarantor.id in self.guarantors:
            raise DuplicateReferenceError(
                f"guarantor {command.guarantor.id!r} already guarantees loan {self.loan_id}"
            )
        if len(self.guarantors) >= MAX_GUARANTORS:
            raise LimitExceededError(f"a loan may have at most {MAX_GUARANTORS} guarantors")
        assert self.application is not None
        self._require_not_before(command.on, self.application, "the application")
        amount = Money.of(command.guaranteed_amount, self.currency_code)
        self.trigger(
            GuarantorAdded,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            guarantor_id=command.guarantor.id,
            guarantor_name=command.guarantor.name,
            guaranteed_amount=amount.amount,
            **(
                {"guarantee_period_months": command.guarantee_period_months}
                if command.guarantee_period_months is not None
                else {}
            ),
        )

    def assess_guarantor(self, command: AssessGuarantor, recorded_at: datetime) -> None:
        added = self.guarantors.get(command.guarantor_id)
        if added is None:
            raise UnknownReferenceError(
                f"loan {self.loan_id} has no guarantor {command.guarantor_id!r}"
            )
        self._require_not_before(command.on, added, "the guarantee")
        self.trigger(
            GuarantorAssessed,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            guarantor_id=command.guarantor_id,
            ability=command.ability,
            notes=command.notes,
        )

    def record_post_loan_check(self, command: RecordPostLoanCheck, recorded_at: datetime) -> None:
        self._require_servicable("record_post_loan_check", needs_disbursement=True)
        self._require_on_or_after_disbursement(command.on)
        self.trigger(
            PostLoanCheckRecorded,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            inspector=command.inspector,
            findings=command.findings.model_dump(),
            rating=command.rating,
            funds_misused=command.funds_misused,
        )

    def acknowledge_notice(self, command: AcknowledgeNotice, recorded_at: datetime) -> None:
        notice = self.notices.get(command.notice_id)
        if notice is None:
            raise UnknownReferenceError(f"loan {self.loan_id} has no notice {command.notice_id!r}")
        earlier = self.acknowledged.get(command.notice_id)
        if earlier is not None:
            raise WrongStateError(
                f"notice {command.notice_id!r} was acknowledged on "
                f"{earlier.effective_date.isoformat()}"
            )
        self._require_not_before(command.on, notice, "the notice")
        self.trigger(
            NoticeAcknowledged,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            notice_id=command.notice_id,
        )
