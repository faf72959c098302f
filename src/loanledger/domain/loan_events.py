"""The facts of a loan's life, as frozen pydantic events (DESIGN §2: record facts, derive the rest).

Amounts and rates are exact Decimals (stored as strings). Every event class starts at
`class_version` 1; a change of shape raises it and adds an `upcast_vN_vN+1` static method.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from loanledger.domain.event import DomainEvent


class BorrowerFacts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    name: str
    id_number: str | None = None


class LoanApplied(DomainEvent):
    """贷前: the borrower applied."""

    borrower: BorrowerFacts
    amount: Decimal
    currency: str
    term_months: int
    annual_rate: Decimal
    repayment_method: str
    purpose: str

    def create_aggregate(self) -> Any:
        from loanledger.domain.loan import Loan

        return Loan(self.originator_id)


class InvestigationRecorded(DomainEvent):
    """贷前调查 by two investigators (双人调查) over the six areas, with their conclusion."""

    investigators: tuple[str, str]
    findings: dict[str, str]
    conclusion: Literal["recommend", "decline"]


class ReviewRecorded(DomainEvent):
    """审查: the reviewer's verdict on the dossier."""

    reviewer: str
    passed: bool
    notes: str


class LoanApproved(DomainEvent):
    """贷中: approved within the approver's authority limit (按授权权限审批)."""

    approver: str
    authority_limit: Decimal
    amount: Decimal
    term_months: int
    annual_rate: Decimal
    repayment_method: str
    repayment_day: int | None


class LoanRejected(DomainEvent):
    approver: str
    reason: str


class ApplicationWithdrawn(DomainEvent):
    """The applicant withdrew before any disbursement."""

    reason: str


class LoanDisbursed(DomainEvent):
    """Money paid out (one tranche); `payee` is set for entrusted payment (受托支付)."""

    amount: Decimal
    reference: str
    payee: str | None
    content_hash: str


class RepaymentReceived(DomainEvent):
    """Money received, with its allocation as computed from the facts known when recorded."""

    amount: Decimal
    reference: str
    prepay: bool
    content_hash: str
    allocation: dict[str, Decimal]


class AllocationRevised(DomainEvent):
    """A compensating record: a fact recorded later (e.g. a backdated repayment) changed how an
    earlier repayment is allocated. It links to the repayment it revises and the event that caused
    it; the original record is never edited.
    """

    reference: str
    revises_version: int
    caused_by_version: int
    previous: dict[str, Decimal]
    allocation: dict[str, Decimal]
