"""The facts of a loan's life, as frozen pydantic events (DESIGN §2: record facts, derive the rest).

Amounts and rates are exact Decimals (stored as strings). Every event class starts at
`class_version` 1; a change of shape raises it and adds an `upcast_vN_vN+1` static method.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal

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

    aggregate_topic: ClassVar[str | None] = "loanledger.domain.loan:Loan"


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
    """Money paid out (one tranche); `payee` is set for entrusted payment (受托支付).

    The payee names a person (often the borrower), so it is personal data, sealed at rest under
    the data key of the loan's borrower, `borrower_id` (class version 2; events of version 1
    carried no `borrower_id` and stored the payee in clear: they read as `borrower_id` None).
    """

    class_version: ClassVar[int] = 2

    amount: Decimal
    reference: str
    payee: str | None
    content_hash: str
    borrower_id: str | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["borrower_id"] = None


class RepaymentReceived(DomainEvent):
    """Money received, with its allocation as computed from the facts known when recorded."""

    amount: Decimal
    reference: str
    prepay: bool
    content_hash: str
    allocation: dict[str, Decimal]


class PrepaymentReceived(RepaymentReceived):
    """A prepayment that chose what the re-amortised schedule keeps (`keep`, DESIGN §12). A
    prepayment without that choice stays a `RepaymentReceived` (which keeps the term), so the
    stored shape of every other repayment is unchanged."""

    keep: Literal["term", "installment"]


class OverpaymentRefunded(DomainEvent):
    """Held overpayment paid back to the borrower (退还多收款), by a `refund` command.

    The payee names a person, so like a disbursement's it is sealed at rest under the data key of
    the loan's borrower, `borrower_id` (`persistence.personal_data`)."""

    amount: Decimal
    reference: str
    payee: str | None
    content_hash: str
    borrower_id: str | None = None


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


# --- post-loan (贷后) facts ---------------------------------------------------------------------


class CollateralPledged(DomainEvent):
    collateral_id: str
    kind: str
    value: Decimal
    appraiser: str | None


class CollateralRevalued(DomainEvent):
    """A new appraisal; the history of values is the sequence of these events."""

    collateral_id: str
    value: Decimal
    appraiser: str | None


class CollateralReleased(DomainEvent):
    collateral_id: str
    requested_by: str | None = None
    approver: str | None = None
    """Who asked for and who approved a controlled release (absent on older facts)."""


class GuarantorAdded(DomainEvent):
    guarantor_id: str
    guarantor_name: str
    guaranteed_amount: Decimal
    guarantee_period_months: int | None = None
    """The agreed guarantee period (None: not agreed, six months; absent on older facts)."""


class GuarantorAssessed(DomainEvent):
    guarantor_id: str
    ability: Literal["normal", "weakened"]
    notes: str


class PostLoanCheckRecorded(DomainEvent):
    """贷后检查 by an inspector, with findings and a rating."""

    inspector: str
    findings: dict[str, str]
    rating: Literal["normal", "attention", "adverse"]
    funds_misused: bool


class NoticeIssued(DomainEvent):
    """A written notice sent by close of day: reminder (提示还贷通知), dunning (书面催收通知) or
    legal (依法收贷). `rule_set` names the rules that decided it."""

    notice_id: str
    kind: Literal["reminder", "dunning", "legal"]
    due_date: date | None
    installment_number: int | None
    days_past_due: int
    amount_due: Decimal
    rule_set: str


class NoticeAcknowledged(DomainEvent):
    """The borrower's receipt (回执) of a notice; it also resets the limitation clock."""

    notice_id: str


class LegalRecoveryOpened(DomainEvent):
    """Legal recovery opened the first day days past due exceeded the rule set's threshold."""

    days_past_due: int
    rule_set: str


class ClassificationChanged(DomainEvent):
    """A derived risk grade changed (recorded by close of day with the rule set that decided)."""

    previous: str
    classification: str
    previous_stage: int
    ifrs9_stage: int
    days_past_due: int
    reasons: tuple[str, ...]
    rule_set: str


class ClassificationDowngraded(DomainEvent):
    """A manual classification by an approver, with its reason (never above the DPD floor)."""

    classification: str
    approver: str
    reason: str


class LoanWrittenOff(DomainEvent):
    """Balances moved off balance sheet (核销); later repayments are recoveries."""

    approver: str
    reason: str
    principal: Decimal
    interest: Decimal
    penalty: Decimal


class LoanRestructured(DomainEvent):
    """New terms for the whole outstanding debt; arrears and accrued interest are capitalised."""

    approver: str
    reason: str
    term_months: int
    annual_rate: Decimal
    repayment_method: str
    repayment_day: int | None


class LoanClosed(DomainEvent):
    """All obligations met; `refund` is the overpayment returned to the borrower."""

    refund: Decimal


class ArbitrationFiled(DomainEvent):
    case_id: str
    forum: str
    claim_amount: Decimal


class AwardGranted(DomainEvent):
    case_id: str
    award_amount: Decimal


class EnforcementApplied(DomainEvent):
    case_id: str
    court: str


class RecoveryRecorded(DomainEvent):
    case_id: str
    amount: Decimal
    repayment_reference: str


class ProductNamed(DomainEvent):
    """The application names a product (issue 19): the version in force on the application
    date accepted its amount, term, rate and method. Loans naming none record no such fact and
    are on the built-in default product."""

    product_id: str
    product_version: int


class ProductPinned(DomainEvent):
    """At approval, the product version in force on the approval date is pinned on the loan,
    with the pricing terms the loan keeps for life (`domain.products.pricing.Pricing`): a later
    version of the product never re-derives this loan."""

    product_id: str
    product_version: int
    pricing: dict[str, str | int | dict[str, str | int]]


class CalendarApplied(DomainEvent):
    """A version of the holiday calendar the loan's product names, as the loan follows it
    (issue 19 item 6): recorded at approval for every version then known, and on every loan on
    the calendar when a later version is defined. The loan's due dates follow the version in
    force on each due date (`domain.products.calendars.BusinessCalendar`); a version recorded
    later re-derives the loan from then on, as a backdated fact does."""

    calendar_id: str
    calendar_version: int
    calendar_on: date
    """The date the calendar version is in force from."""
    holidays: tuple[date, ...]
    working_days: tuple[date, ...] = ()
