"""The core of the Loan aggregate: its recorded facts, replay, and what is derived from them.

`LoanCore` holds the state every fact changes (through the `APPLIERS` table), rebuilds it
(`rewound`, `as_known_at`), and derives the money facts, position, postings, risk and status
for any business date. Nothing derived is stored on the aggregate. The command handlers of
each stage of the loan's life live beside it (`preloan`, `money`, `security`, `legal`,
`endings`, `close_of_day`) and `dispatch.Loan` composes them into the one aggregate class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Self
from uuid import UUID

from loanledger.domain.aggregate import EventSourcedAggregate
from loanledger.domain.books import Books, Posting
from loanledger.domain.duties import among, same_person
from loanledger.domain.errors import (
    InvalidDateError,
    SeparationOfDutiesError,
    UnknownReferenceError,
    WrongStateError,
)
from loanledger.domain.event import DomainEvent
from loanledger.domain.lifecycle import recorded_stage
from loanledger.domain.loan.contract_apr import contract_apr
from loanledger.domain.loan.limits import (
    MAX_REMEMBERED_POSITIONS,
)
from loanledger.domain.loan.memo import EVENT_VALUES
from loanledger.domain.loan.money_facts import with_new_repayments
from loanledger.domain.loan_events import (
    AllocationRevised,
    ApplicationWithdrawn,
    ArbitrationFiled,
    AwardGranted,
    CalendarApplied,
    ClassificationChanged,
    ClassificationDowngraded,
    CollateralPledged,
    CollateralReleased,
    CollateralRevalued,
    EnforcementApplied,
    GuarantorAdded,
    GuarantorAssessed,
    InvestigationRecorded,
    LegalRecoveryOpened,
    LoanApplied,
    LoanApproved,
    LoanClosed,
    LoanDisbursed,
    LoanRejected,
    LoanRestructured,
    LoanWrittenOff,
    NoticeAcknowledged,
    NoticeIssued,
    OverpaymentRefunded,
    PostLoanCheckRecorded,
    PrepaymentReceived,
    ProductNamed,
    ProductPinned,
    RecoveryRecorded,
    RepaymentReceived,
    ReviewRecorded,
)
from loanledger.domain.money import Money, currency
from loanledger.domain.postloan import (
    RiskView,
    assess,
    post_loan_state,
)
from loanledger.domain.products.calendars import BusinessCalendar, CalendarVersion
from loanledger.domain.products.pricing import (
    DEFAULT_PRODUCT_ID,
    DEFAULT_PRODUCT_VERSION,
    Pricing,
)
from loanledger.domain.rate_reset import RateReset
from loanledger.domain.rates import AnnualRate
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.domain.schedule import parse_repayment_method
from loanledger.domain.servicing import MoneyFact, Position, Terms, derive_position


class LoanCore(EventSourcedAggregate):
    """A loan's recorded facts and what is derived from them: replay, money facts, position,
    postings, status. Every stage's command handlers build on it (`Loan` composes them)."""

    def __init__(self, aggregate_id: UUID) -> None:
        super().__init__(aggregate_id)
        self.history: list[DomainEvent] = []
        self.loan_id = ""
        self.application: LoanApplied | None = None
        self.investigation: InvestigationRecorded | None = None
        self.review: ReviewRecorded | None = None
        self.approval: LoanApproved | None = None
        self.product_named: ProductNamed | None = None
        self.product_pinned: ProductPinned | None = None
        self.calendar_versions: list[CalendarApplied] = []
        """The versions of the product's holiday calendar the loan follows (issue 19 item 6)."""
        self.rejection: LoanRejected | None = None
        self.withdrawal: ApplicationWithdrawn | None = None
        self.disbursements: list[LoanDisbursed] = []
        self.repayments: list[RepaymentReceived] = []
        self.references: dict[str, LoanDisbursed | RepaymentReceived | OverpaymentRefunded] = {}
        self.refunds: list[OverpaymentRefunded] = []
        self.recorded_allocations: dict[str, tuple[int, dict[str, Decimal]]] = {}
        """Per repayment reference: (version of the repayment event, latest recorded allocation)."""
        self.collateral: dict[str, CollateralPledged] = {}
        """Active collateral by id (released items leave)."""
        self.guarantors: dict[str, GuarantorAdded] = {}
        self.notices: dict[str, NoticeIssued] = {}
        self.acknowledged: dict[str, NoticeAcknowledged] = {}
        self.cases: dict[str, list[DomainEvent]] = {}
        self.misuse: PostLoanCheckRecorded | None = None
        self.restructures: list[LoanRestructured] = []
        self.written_off: LoanWrittenOff | None = None
        self.closed: LoanClosed | None = None
        self.rate_resets: list[RateReset] = []
        self._derived: Position | None = None
        self._money_facts: tuple[tuple[object, ...], list[MoneyFact]] | None = None
        self._positions: dict[tuple[int, date, str], Position] = {}

    def apply(self, event: Any) -> None:
        super().apply(event)
        self.history.append(event)
        # Dispatch on the exact event class: replay runs this for every stored event of every
        # loan read, and isinstance on pydantic models goes through a Python-level metaclass hook.
        applier = APPLIERS.get(type(event))
        if applier is None:
            raise TypeError(f"a Loan cannot apply {type(event).__name__}")
        applier(self, event)

    def _on_applied(self, event: LoanApplied) -> None:
        self.loan_id = event.loan_id
        self.application = event

    def _on_disbursed(self, event: LoanDisbursed) -> None:
        self.disbursements.append(event)
        self.references[event.reference] = event

    def _on_repaid(self, event: RepaymentReceived) -> None:
        self.repayments.append(event)
        self.references[event.reference] = event
        self.recorded_allocations[event.reference] = (
            event.originator_version,
            dict(event.allocation),
        )

    def _on_refunded(self, event: OverpaymentRefunded) -> None:
        self.refunds.append(event)
        self.references[event.reference] = event

    def _on_revised(self, event: AllocationRevised) -> None:
        version, _ = self.recorded_allocations[event.reference]
        self.recorded_allocations[event.reference] = (version, dict(event.allocation))

    def _on_check(self, event: PostLoanCheckRecorded) -> None:
        if event.funds_misused and self.misuse is None:
            self.misuse = event

    def _on_case(self, event: DomainEvent) -> None:
        case_id = getattr(event, "case_id")  # noqa: B009 - every case event has one
        self.cases.setdefault(case_id, []).append(event)

    def checkpoint(self) -> tuple[int, int]:
        """Where the loan stands now (version, pending events), for `rewound`."""
        return self.version, len(self._pending)

    def rewound(self, checkpoint: tuple[int, int]) -> Self:
        """The loan as it stood at `checkpoint`: a command that failed after recording some
        events in memory (never in the store) is undone by replaying the facts before it."""
        version, pending = checkpoint
        if self.version == version:
            return self
        loan = type(self)(self.id)
        for event in self.history[:version]:
            event.mutate(loan)
        loan._pending = self._pending[:pending]
        return loan

    def as_known_at(self, known_at: datetime | None) -> Self:
        """The loan rebuilt from the facts recorded at or before `known_at` (None: all). When
        every fact was recorded by then, the loan itself: nothing to leave out (a loan's facts are
        recorded in time order: each command records at or after the loan's last fact)."""
        if known_at is None or not self.history or self.history[-1].timestamp <= known_at:
            return self
        known = type(self)(self.id)
        for event in self.history:
            if event.timestamp <= known_at:
                event.mutate(known)
        return known

    # --- derived state ---------------------------------------------------------------------------

    @property
    def currency_code(self) -> str:
        assert self.application is not None
        return self.application.currency

    def _money(self, amount: Decimal) -> Money:
        """A stored amount as Money: stored amounts were checked when recorded and keep exactly
        the minor-unit places, so they need no parsing again."""
        unit = currency(self.currency_code)
        return Money._valid(amount.quantize(unit.quantum), unit)

    def terms(self) -> Terms:
        assert self.approval is not None
        terms = EVENT_VALUES.get(self.approval, self._build_terms)
        if self.calendar_versions and terms.pricing is not None:
            # The calendar is not part of the approval: its versions are facts of their own.
            calendar = self.business_calendar(terms.pricing.calendar_id)
            if calendar is not None:
                terms = replace(terms, calendar=calendar)
        return terms

    def business_calendar(self, calendar_id: str | None) -> BusinessCalendar | None:
        """The holiday calendar the loan's due dates follow: the versions recorded on the loan
        (as known: `as_known_at` leaves later ones out) with the pinned product's rule."""
        pricing = self.pricing()
        if calendar_id is None or pricing is None:
            return None
        return EVENT_VALUES.get(
            self.calendar_versions[-1],
            lambda _: BusinessCalendar.of(
                calendar_id,
                pricing.business_day or "following",
                (
                    CalendarVersion(
                        event.calendar_on,
                        event.calendar_version,
                        frozenset(event.holidays),
                        frozenset(event.working_days),
                    )
                    for event in self.calendar_versions
                    if event.calendar_id == calendar_id
                ),
            ),
        )

    def _build_terms(self, approval: LoanApproved) -> Terms:
        return Terms(
            amount=self._money(approval.amount),
            term_months=approval.term_months,
            annual_rate=AnnualRate.of(approval.annual_rate),
            method=parse_repayment_method(approval.repayment_method),
            repayment_day=approval.repayment_day,
            pricing=self.pricing(),
        )

    def pricing(self) -> Pricing | None:
        """The product terms pinned at approval (None: the built-in default product, priced by
        the rule set as every loan was before products)."""
        pinned = self.product_pinned
        if pinned is None:
            return None
        return Pricing.from_fields(pinned.product_id, pinned.product_version, pinned.pricing)

    def product(self, as_of: date | None = None) -> tuple[str, int | None]:
        """The loan's product and version: pinned at approval, named at application (version
        None until approved), else the built-in default product. With `as_of`, from the facts
        effective by then (no version before the approval's date)."""

        def effective(event: DomainEvent | None) -> bool:
            return event is not None and (as_of is None or event.effective_date <= as_of)

        pinned, named = self.product_pinned, self.product_named
        if pinned is not None and effective(pinned):
            return pinned.product_id, pinned.product_version
        if named is not None and effective(named):
            return named.product_id, None
        if pinned is not None:
            return pinned.product_id, None
        if not effective(self.approval):
            return DEFAULT_PRODUCT_ID, None
        return DEFAULT_PRODUCT_ID, DEFAULT_PRODUCT_VERSION

    def apr(
        self,
        rules: RuleSet = CN_2023,
        annual_rate: Decimal | None = None,
        as_of: date | None = None,
    ) -> Decimal | None:
        """The annualised rate of the contract's cash flows (`domain.products.apr`): the
        approved amount (less a withheld origination fee) received on the first disbursement
        date (the approval date before money moves) and the contract schedule's installments
        with their shares of a scheduled origination fee; None before approval. With
        `annual_rate` (a floating loan's rate in force), the contract's cash flows at that rate.
        With `as_of`, from the facts effective by then: None before the approval's date, and the
        approval date as the start until the first disbursement's date is reached."""
        approval = self.approval
        if approval is None or (as_of is not None and approval.effective_date > as_of):
            return None
        start = min(
            (
                event.effective_date
                for event in self.disbursements
                if as_of is None or event.effective_date <= as_of
            ),
            default=approval.effective_date,
        )
        return contract_apr(self.terms(), rules, start, annual_rate)

    def money_facts(self) -> list[MoneyFact]:
        """The facts of the money walk, built again only when what they are built from changed
        (the single events by identity, each list of events, which only grows, by its length and
        last event: a `fork` going on with facts of its own differs), and then only the new
        ones when repayments alone were added (`money_facts.with_new_repayments`)."""
        lists: tuple[list[Any], ...] = (self.disbursements, self.repayments, self.refunds)
        lists += (self.restructures, self.rate_resets)
        ends = (self.application, self.approval, self.misuse, self.written_off, self.closed)
        basis = (*ends, *(len(x) for x in lists), *(x[-1] if x else None for x in lists))
        cached = self._money_facts
        if cached is not None and cached[0] == basis:
            return list(cached[1])
        new = (len(self.disbursements), self.repayments, self._repayment_fact)
        facts = with_new_repayments(cached, basis, *new) if cached is not None else None
        if facts is None:
            facts = self._build_money_facts()
        self._money_facts = (basis, facts)
        return list(facts)

    def _disbursement_fact(self, event: LoanDisbursed) -> MoneyFact:
        return MoneyFact(
            "disburse",
            event.effective_date,
            self._money(event.amount),
            event.reference,
            event.originator_version,
        )

    def _repayment_fact(self, event: RepaymentReceived) -> MoneyFact:
        return MoneyFact(
            "repay",
            event.effective_date,
            self._money(event.amount),
            event.reference,
            event.originator_version,
            prepay=event.prepay,
            keep=event.keep if isinstance(event, PrepaymentReceived) else "term",
        )

    def _refund_fact(self, event: OverpaymentRefunded) -> MoneyFact:
        return MoneyFact(
            "refund",
            event.effective_date,
            self._money(event.amount),
            event.reference,
            event.originator_version,
        )

    def _build_money_facts(self) -> list[MoneyFact]:
        facts = [EVENT_VALUES.get(event, self._disbursement_fact) for event in self.disbursements]
        facts.extend(EVENT_VALUES.get(event, self._repayment_fact) for event in self.repayments)
        facts.extend(self._refund_fact(event) for event in self.refunds)
        zero = Money.zero(self.currency_code)
        for event in self.restructures:
            facts.append(
                MoneyFact(
                    "restructure",
                    event.effective_date,
                    zero,
                    "",
                    event.originator_version,
                    new_terms=Terms(
                        amount=zero,
                        term_months=event.term_months,
                        annual_rate=AnnualRate.of(event.annual_rate),
                        method=parse_repayment_method(event.repayment_method),
                        repayment_day=event.repayment_day,
                    ),
                )
            )
        resets: dict[date, RateReset] = {}
        for reset in self.rate_resets:
            resets[reset.effective_date] = reset  # a correction supersedes what it corrects
        for reset in resets.values():
            # Sequence 0: a reset applies from the start of its date, before any payment that
            # day, whenever it was recorded (recording it late walks exactly as on time).
            facts.append(
                MoneyFact(
                    "rate_reset",
                    reset.effective_date,
                    zero,
                    "",
                    0,
                    annual_rate=AnnualRate.of(reset.annual_rate),
                )
            )
        if self.misuse is not None:
            facts.append(
                MoneyFact(
                    "misuse", self.misuse.effective_date, zero, "", self.misuse.originator_version
                )
            )
        endings: tuple[tuple[DomainEvent | None, str], ...] = (
            (self.written_off, "write_off"),
            (self.closed, "close"),
        )
        for ending, kind in endings:
            if ending is not None:
                facts.append(
                    MoneyFact(kind, ending.effective_date, zero, "", ending.originator_version)
                )
        return facts

    def postings(self, as_of: date, rules: RuleSet = CN_2023) -> list[Posting]:
        """The general-ledger entries of this loan dated on or before `as_of` (DESIGN §9)."""
        if self.approval is None:
            return []
        books = Books()
        derive_position(self.terms(), self.money_facts(), as_of, rules, books=books)
        values: dict[str, Decimal] = {}
        for event in sorted(
            self.history, key=lambda item: (item.effective_date, item.originator_version)
        ):
            if event.effective_date > as_of:
                continue
            if isinstance(event, CollateralPledged | CollateralRevalued):
                change = event.value - values.get(event.collateral_id, Decimal(0))
                values[event.collateral_id] = event.value
            elif isinstance(event, CollateralReleased):
                change = -values.pop(event.collateral_id, Decimal(0))
            else:
                continue
            if change:
                books.collateral(event.effective_date, event.collateral_id, change)
        return sorted(books.postings, key=lambda posting: posting.on)

    def position(self, as_of: date, rules: RuleSet = CN_2023) -> Position | None:
        """Balances, dues, penalty and DPD at the end of `as_of`; None before approval."""
        if self.approval is None:
            return None
        # Remembered per version and date on this object: a report or a close of day asks for
        # the same position several times. Positions handed out are read, never changed.
        key = (self.version, as_of, rules.version)
        found = self._positions.get(key)
        if found is None:
            if len(self._positions) >= MAX_REMEMBERED_POSITIONS:
                self._positions.clear()
            found = self._positions[key] = derive_position(
                self.terms(), self.money_facts(), as_of, rules
            )
        return found

    def risk(self, as_of: date, position: Position | None, rules: RuleSet = CN_2023) -> RiskView:
        """Warnings, classification and stage on `as_of` (without borrower-level contagion)."""
        return assess(post_loan_state(self, as_of), position, rules)

    def exists_on(self, as_of: date) -> bool:
        return self.application is not None and self.application.effective_date <= as_of

    def status_on(self, as_of: date, position: Position | None, risk: RiskView | None) -> str:
        """The Contract status on `as_of` from the facts effective by then."""

        def effective(event: DomainEvent | None) -> bool:
            return event is not None and event.effective_date <= as_of

        if effective(self.withdrawal):
            return "withdrawn"
        if effective(self.rejection):
            return "rejected"
        # Money received after a loan was settled or closed is held for the borrower until it is
        # refunded: `overpaid` (issue 17 item 5), not `closed`.
        held = position is not None and position.overpayment > 0
        if effective(self.closed):
            return "overpaid" if held else "closed"
        if position is not None and position.disbursed > 0:
            if position.is_settled:
                return "overpaid" if held else "closed"
            if effective(self.written_off):
                return "written_off"
            if risk is not None and risk.legal_recovery:
                return "legal_recovery"
            return "overdue" if position.days_past_due > 0 else "active"
        for event, status in (
            (self.approval, "approved"),
            (self.review, "reviewed"),
            (self.investigation, "investigated"),
        ):
            if effective(event):
                return status
        return "applied"

    def lifecycle_stage(self) -> str:
        """The stage of `lifecycle.ALLOWED` the recorded facts put this loan in."""
        return recorded_stage(
            rejected=self.rejection is not None,
            withdrawn=self.withdrawal is not None,
            closed=self.closed is not None,
            written_off=self.written_off is not None,
            disbursed=bool(self.disbursements),
            approved=self.approval is not None,
            reviewed=self.review is not None,
            investigated=self.investigation is not None,
        )

    # --- guards shared by the handlers ----------------------------------------------------------

    def _require_servicable(self, command: str, *, needs_disbursement: bool) -> None:
        self._require_open_application(command)
        if self.closed is not None:
            raise WrongStateError(f"loan {self.loan_id} is closed; {command} is not allowed")
        if self.written_off is not None:
            raise WrongStateError(f"loan {self.loan_id} is written off; {command} is not allowed")
        if needs_disbursement and not self.disbursements:
            raise WrongStateError(f"loan {self.loan_id} is not disbursed; {command} is not allowed")

    def _require_on_or_after_disbursement(self, on: date) -> None:
        first = min(self.disbursements, key=lambda event: event.effective_date)
        self._require_not_before(on, first, "the first disbursement")

    def _collateral(self, collateral_id: str) -> CollateralPledged:
        pledged = self.collateral.get(collateral_id)
        if pledged is None:
            raise UnknownReferenceError(
                f"loan {self.loan_id} has no active collateral {collateral_id!r}"
            )
        return pledged

    def _case(self, case_id: str) -> DomainEvent:
        events = self.cases.get(case_id)
        if not events:
            raise UnknownReferenceError(f"loan {self.loan_id} has no case {case_id!r}")
        return events[0]

    def _require_open_application(self, command: str) -> None:
        if self.rejection is not None:
            raise WrongStateError(f"loan {self.loan_id} was rejected; {command} is not allowed")
        if self.withdrawal is not None:
            raise WrongStateError(f"loan {self.loan_id} was withdrawn; {command} is not allowed")

    def _check_approver(self, approver: str) -> None:
        if self.investigation is not None and among(approver, self.investigation.investigators):
            raise SeparationOfDutiesError(
                f"approver {approver!r} must not be one of the investigators"
            )
        if self.review is not None and same_person(approver, self.review.reviewer):
            raise SeparationOfDutiesError(f"approver {approver!r} must not be the reviewer")

    def _require_not_before(self, on: date, earlier: DomainEvent, what: str) -> None:
        if on < earlier.effective_date:
            raise InvalidDateError(
                f"effective date {on.isoformat()} is before {what} on "
                f"{earlier.effective_date.isoformat()}"
            )


def _set(name: str) -> Callable[[LoanCore, Any], None]:
    def store(loan: LoanCore, event: Any) -> None:
        setattr(loan, name, event)

    return store


def _ignore(loan: LoanCore, event: Any) -> None:
    """Facts that only derivations read (from `history`)."""


APPLIERS: dict[type[DomainEvent], Callable[[LoanCore, Any], None]] = {
    LoanApplied: LoanCore._on_applied,
    InvestigationRecorded: _set("investigation"),
    ReviewRecorded: _set("review"),
    LoanApproved: _set("approval"),
    ProductNamed: _set("product_named"),
    ProductPinned: _set("product_pinned"),
    CalendarApplied: lambda loan, event: loan.calendar_versions.append(event),
    LoanRejected: _set("rejection"),
    ApplicationWithdrawn: _set("withdrawal"),
    LoanDisbursed: LoanCore._on_disbursed,
    RepaymentReceived: LoanCore._on_repaid,
    PrepaymentReceived: LoanCore._on_repaid,
    OverpaymentRefunded: LoanCore._on_refunded,
    AllocationRevised: LoanCore._on_revised,
    CollateralPledged: lambda loan, event: loan.collateral.__setitem__(event.collateral_id, event),
    CollateralReleased: lambda loan, event: loan.collateral.__delitem__(event.collateral_id),
    GuarantorAdded: lambda loan, event: loan.guarantors.__setitem__(event.guarantor_id, event),
    NoticeIssued: lambda loan, event: loan.notices.__setitem__(event.notice_id, event),
    NoticeAcknowledged: lambda loan, event: loan.acknowledged.__setitem__(event.notice_id, event),
    PostLoanCheckRecorded: LoanCore._on_check,
    LoanRestructured: lambda loan, event: loan.restructures.append(event),
    LoanWrittenOff: _set("written_off"),
    LoanClosed: _set("closed"),
    ArbitrationFiled: LoanCore._on_case,
    AwardGranted: LoanCore._on_case,
    EnforcementApplied: LoanCore._on_case,
    RecoveryRecorded: LoanCore._on_case,
    CollateralRevalued: _ignore,
    GuarantorAssessed: _ignore,
    LegalRecoveryOpened: _ignore,
    ClassificationChanged: _ignore,
    ClassificationDowngraded: _ignore,
    RateReset: lambda loan, event: loan.rate_resets.append(event),
}
"""How each fact changes the aggregate's own bookkeeping (everything else is derived)."""
