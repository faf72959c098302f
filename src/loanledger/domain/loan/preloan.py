"""The commands before any money moves: the application, the two-person investigation (双人调查),
the review, approval within the approver's authority limit, rejection and withdrawal.
Separation of duties between investigators, reviewer and approver is checked here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import UUID

from loanledger.domain.calendar import validate_repayment_day
from loanledger.domain.commands import (
    Apply,
    Approve,
    RecordInvestigation,
    Reject,
    Review,
    Withdraw,
)
from loanledger.domain.duties import among, same_person
from loanledger.domain.errors import (
    AuthorityLimitError,
    SeparationOfDutiesError,
    UnknownProductError,
    WrongStateError,
)
from loanledger.domain.loan.aggregate import LoanCore
from loanledger.domain.loan.limits import (
    check_term,
)
from loanledger.domain.loan_events import (
    ApplicationWithdrawn,
    BorrowerFacts,
    CalendarApplied,
    InvestigationRecorded,
    LoanApplied,
    LoanApproved,
    LoanRejected,
    ProductNamed,
    ProductPinned,
    ReviewRecorded,
)
from loanledger.domain.money import Money, currency
from loanledger.domain.products.catalogue import ProductVersion
from loanledger.domain.schedule import parse_repayment_method


class PreLoanHandlers(LoanCore):
    """Pre-loan (贷前) and approval (贷中) commands: apply, investigate, review, approve, reject,
    withdraw."""

    @classmethod
    def open_application(
        cls,
        aggregate_id: UUID,
        command: Apply,
        recorded_at: datetime,
        product: ProductVersion | None = None,
    ) -> Self:
        """The new loan's application. A command naming a product is checked against
        `product`, the version in force on its date (the caller reads it from the product's
        stream; UnknownProductError there when there is none)."""
        currency_unit = currency(command.currency)
        Money.of(command.amount, currency_unit)  # refuses more places than the minor unit
        check_term(command.term_months)
        if command.product is not None:
            if product is None or product.product_id != command.product:
                raise UnknownProductError(
                    f"apply: product {command.product!r} is not defined on {command.on}"
                )
            product.check(
                "apply",
                currency=currency_unit.code,
                amount=command.amount,
                term_months=command.term_months,
                annual_rate=command.annual_rate,
                repayment_method=command.repayment_method,
            )
        loan = cls(aggregate_id)
        loan.trigger(
            LoanApplied,
            recorded_at,
            loan_id=command.loan_id,
            effective_date=command.on,
            borrower=BorrowerFacts(**command.borrower.model_dump()),
            amount=command.amount,
            currency=currency_unit.code,
            term_months=command.term_months,
            annual_rate=command.annual_rate,
            repayment_method=command.repayment_method,
            purpose=command.purpose,
        )
        if product is not None and command.product is not None:
            loan.trigger(
                ProductNamed,
                recorded_at,
                loan_id=command.loan_id,
                effective_date=command.on,
                product_id=product.product_id,
                product_version=product.version,
            )
        return loan

    def record_investigation(self, command: RecordInvestigation, recorded_at: datetime) -> None:
        self._require_open_application("record_investigation")
        if self.investigation is not None:
            raise WrongStateError(
                f"loan {self.loan_id} already has an investigation recorded "
                f"on {self.investigation.effective_date.isoformat()}"
            )
        first, second = command.investigators
        if same_person(first, second):
            raise SeparationOfDutiesError(
                f"investigators must be two distinct people (双人调查), got {first!r} and "
                f"{second!r}: staff ids are compared trimmed and casefolded"
            )
        assert self.application is not None
        self._require_not_before(command.on, self.application, "the application")
        self.trigger(
            InvestigationRecorded,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            investigators=(first, second),
            findings=command.findings.model_dump(),
            conclusion=command.conclusion,
        )

    def record_review(self, command: Review, recorded_at: datetime) -> None:
        self._require_open_application("review")
        if self.investigation is None:
            raise WrongStateError(f"loan {self.loan_id} cannot be reviewed before investigation")
        if self.review is not None:
            raise WrongStateError(f"loan {self.loan_id} has been reviewed already")
        if among(command.reviewer, self.investigation.investigators):
            raise SeparationOfDutiesError(
                f"reviewer {command.reviewer!r} must not be one of the investigators"
            )
        self._require_not_before(command.on, self.investigation, "the investigation")
        self.trigger(
            ReviewRecorded,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            reviewer=command.reviewer,
            passed=command.passed,
            notes=command.notes,
        )

    def approve(
        self, command: Approve, recorded_at: datetime, product: ProductVersion | None = None
    ) -> None:
        """Approve within the approver's authority. A loan on a product is checked against
        `product`, the version in force on the approval date, and pins it (`ProductPinned`)."""
        self._require_open_application("approve")
        if self.approval is not None:
            raise WrongStateError(f"loan {self.loan_id} is approved already")
        if self.review is None or self.investigation is None:
            raise WrongStateError(f"loan {self.loan_id} cannot be approved before review")
        if not self.review.passed:
            raise WrongStateError(
                f"loan {self.loan_id} did not pass review; it can only be rejected"
            )
        if self.investigation.conclusion != "recommend":
            raise WrongStateError(
                f"loan {self.loan_id}: the investigators declined it; it can only be rejected"
            )
        self._check_approver(command.approver)
        assert self.application is not None
        code = self.currency_code
        amount = Money.of(command.amount, code)
        limit = Money.of(command.authority_limit, code)
        if amount > limit:
            raise AuthorityLimitError(
                f"approved amount {amount} exceeds the approver's authority limit {limit} "
                "(按授权权限审批)"
            )
        applied = Money.of(self.application.amount, code)
        if amount > applied:
            raise AuthorityLimitError(
                f"approved amount {amount} exceeds the applied amount {applied}"
            )
        check_term(command.term_months)
        parse_repayment_method(command.repayment_method)
        if command.repayment_day is not None:
            validate_repayment_day(command.repayment_day)
        self._require_not_before(command.on, self.review, "the review")
        named = self.product_named
        if named is not None:
            if product is None or product.product_id != named.product_id:
                raise UnknownProductError(
                    f"approve: product {named.product_id!r} is not defined on {command.on}"
                )
            product.check(
                "approve",
                currency=code,
                amount=command.amount,
                term_months=command.term_months,
                annual_rate=command.annual_rate,
                repayment_method=command.repayment_method,
            )
        self.trigger(
            LoanApproved,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            approver=command.approver,
            authority_limit=command.authority_limit,
            amount=command.amount,
            term_months=command.term_months,
            annual_rate=command.annual_rate,
            repayment_method=command.repayment_method,
            repayment_day=command.repayment_day,
        )
        if named is not None and product is not None:
            self.trigger(
                ProductPinned,
                recorded_at,
                loan_id=self.loan_id,
                effective_date=command.on,
                product_id=product.product_id,
                product_version=product.version,
                pricing=product.pricing().as_fields(),
            )
            for version in product.calendar_versions:
                self.trigger(
                    CalendarApplied,
                    recorded_at,
                    loan_id=self.loan_id,
                    effective_date=command.on,
                    calendar_id=version.calendar_id,
                    calendar_version=version.originator_version,
                    calendar_on=version.effective_date,
                    holidays=version.holidays,
                    working_days=version.working_days,
                )

    def reject(self, command: Reject, recorded_at: datetime) -> None:
        self._require_open_application("reject")
        if self.approval is not None:
            raise WrongStateError(f"loan {self.loan_id} is approved already; it cannot be rejected")
        self._check_approver(command.approver)
        latest = self.review or self.investigation or self.application
        assert latest is not None
        self._require_not_before(command.on, latest, "the last pre-loan step")
        self.trigger(
            LoanRejected,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            approver=command.approver,
            reason=command.reason,
        )

    def withdraw(self, command: Withdraw, recorded_at: datetime) -> None:
        self._require_open_application("withdraw")
        if self.disbursements:
            raise WrongStateError(
                f"loan {self.loan_id} has been disbursed; it can no longer be withdrawn"
            )
        latest = self.approval or self.review or self.investigation or self.application
        assert latest is not None
        self._require_not_before(command.on, latest, "the last pre-loan step")
        self.trigger(
            ApplicationWithdrawn,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=command.on,
            reason=command.reason,
        )
