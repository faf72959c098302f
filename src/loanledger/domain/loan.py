"""The Loan aggregate: the rules that decide whether a fact may be recorded, and its history.

Commands are checked against everything recorded so far; a refused command raises a
`DomainError` subclass naming the rule and leaves no pending event behind (the caller discards
the aggregate). Derived figures are not stored on the aggregate: `position` and `status_on`
compute them from the facts for any business date, and `as_known_at` rebuilds the aggregate from
the facts recorded up to a moment, which is how `known_at` queries work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast
from uuid import UUID

from loanledger.domain.aggregate import EventSourcedAggregate
from loanledger.domain.books import Books, Posting
from loanledger.domain.calendar import validate_repayment_day
from loanledger.domain.commands import (
    AcknowledgeNotice,
    AddGuarantor,
    Apply,
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
from loanledger.domain.duties import among, same_person
from loanledger.domain.errors import (
    AuthorityLimitError,
    ClassificationError,
    DuplicateReferenceError,
    InvalidDateError,
    InvalidTermError,
    LimitExceededError,
    OverDisbursementError,
    SeparationOfDutiesError,
    UnknownReferenceError,
    WrongStateError,
)
from loanledger.domain.event import DomainEvent
from loanledger.domain.lifecycle import open_stages, recorded_stage, require_allowed
from loanledger.domain.loan_events import (
    AllocationRevised,
    ApplicationWithdrawn,
    ArbitrationFiled,
    AwardGranted,
    BorrowerFacts,
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
    RecoveryRecorded,
    RepaymentReceived,
    ReviewRecorded,
)
from loanledger.domain.money import Money, currency
from loanledger.domain.postloan import (
    Action,
    RiskView,
    actions_on,
    assess,
    next_action_after,
    post_loan_state,
)
from loanledger.domain.rates import AnnualRate
from loanledger.domain.recoveries import recovery_recorded_before
from loanledger.domain.refunds import check_refund
from loanledger.domain.rules import CLASSIFICATIONS, CN_2023, RuleSet, classification_floor
from loanledger.domain.schedule import MAX_TERM_MONTHS, MIN_TERM_MONTHS, parse_repayment_method
from loanledger.domain.servicing import MoneyFact, Position, Terms, derive_position

MAX_REMEMBERED_POSITIONS = 64
"""Positions one Loan object keeps for reuse (a bound, since a loan may be read on many dates)."""

MAX_TRANCHES = 120
"""Disbursement tranches per loan: a limit keeps every derivation bounded."""

MAX_REPAYMENTS = 5000
"""Repayments per loan (a 30-year monthly loan needs 360; the rest is headroom for partials)."""

MAX_COLLATERAL_ITEMS = 100
MAX_GUARANTORS = 50
MAX_CASES = 50
MAX_RESTRUCTURES = 12
"""Limits on what a loan may accumulate, so every derivation stays bounded."""

E = TypeVar("E", bound=DomainEvent)
T = TypeVar("T")


class _EventMemo:
    """Values derived from one recorded event alone (its money fact, the terms it approves),
    remembered by the event's identity; bounded (forgotten all at once when full).

    Events are immutable, and every Loan rebuilt from a loan's stored events shares the same
    decoded event objects (`application.LoanEvents`), so each Loan need not build them again. The
    event is kept with its value, so its id cannot be reused by another object meanwhile.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._values: dict[int, tuple[DomainEvent, object]] = {}
        self._paused = threading.local()

    def get(self, event: E, make: Callable[[E], T]) -> T:
        found = self._values.get(id(event))
        if found is not None and found[0] is event:
            return cast(T, found[1])
        value = make(event)
        if getattr(self._paused, "on", False):
            return value
        if len(self._values) >= self._capacity:
            self._values = {}
        self._values[id(event)] = (event, value)
        return value

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Within this block, on this thread, values are made but not remembered: a reader that
        decodes every loan once (a projection rebuilding) would only fill the memo with events
        nobody asks about again, and keep them alive."""
        previous = getattr(self._paused, "on", False)
        self._paused.on = True
        try:
            yield
        finally:
            self._paused.on = previous


MAX_REMEMBERED_EVENT_VALUES = 100_000
_DERIVED = _EventMemo(MAX_REMEMBERED_EVENT_VALUES)


def event_values_not_remembered() -> AbstractContextManager[None]:
    """See `_EventMemo.paused`."""
    return _DERIVED.paused()


SERVICING_EVENTS: dict[str, type[DomainEvent]] = {
    "NoticeIssued": NoticeIssued,
    "LegalRecoveryOpened": LegalRecoveryOpened,
    "ClassificationChanged": ClassificationChanged,
}


@dataclass(frozen=True)
class Outcome:
    """What a command did: the events it recorded (none for an idempotent repeat) and a summary."""

    events: tuple[DomainEvent, ...]
    result: dict[str, Any]


class Loan(EventSourcedAggregate):
    """One loan, from application to its last repayment."""

    def __init__(self, aggregate_id: UUID) -> None:
        super().__init__(aggregate_id)
        self.history: list[DomainEvent] = []
        self.loan_id = ""
        self.application: LoanApplied | None = None
        self.investigation: InvestigationRecorded | None = None
        self.review: ReviewRecorded | None = None
        self.approval: LoanApproved | None = None
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
        self._derived: Position | None = None
        self._money_facts: tuple[int, list[MoneyFact]] | None = None
        self._positions: dict[tuple[int, date, str], Position] = {}

    # --- replay --------------------------------------------------------------------------------

    def apply(self, event: Any) -> None:
        super().apply(event)
        self.history.append(event)
        # Dispatch on the exact event class: replay runs this for every stored event of every
        # loan read, and isinstance on pydantic models goes through a Python-level metaclass hook.
        applier = _APPLIERS.get(type(event))
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

    def rewound(self, checkpoint: tuple[int, int]) -> Loan:
        """The loan as it stood at `checkpoint`: a command that failed after recording some
        events in memory (never in the store) is undone by replaying the facts before it."""
        version, pending = checkpoint
        if self.version == version:
            return self
        loan = Loan(self.id)
        for event in self.history[:version]:
            event.mutate(loan)
        loan._pending = self._pending[:pending]
        return loan

    def as_known_at(self, known_at: datetime | None) -> Loan:
        """The loan rebuilt from the facts recorded at or before `known_at` (None: all). When
        every fact was recorded by then, the loan itself: nothing to leave out (a loan's facts are
        recorded in time order: each command records at or after the loan's last fact)."""
        if known_at is None or not self.history or self.history[-1].timestamp <= known_at:
            return self
        known = Loan(self.id)
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
        return _DERIVED.get(self.approval, self._build_terms)

    def _build_terms(self, approval: LoanApproved) -> Terms:
        return Terms(
            amount=self._money(approval.amount),
            term_months=approval.term_months,
            annual_rate=AnnualRate.of(approval.annual_rate),
            method=parse_repayment_method(approval.repayment_method),
            repayment_day=approval.repayment_day,
        )

    def money_facts(self) -> list[MoneyFact]:
        """The facts of the money walk; built once per version of the loan (they are derived
        from the loan's events alone, and every query and command asks for them)."""
        cached = self._money_facts
        if cached is not None and cached[0] == self.version:
            return list(cached[1])
        facts = self._build_money_facts()
        self._money_facts = (self.version, facts)
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
        facts = [_DERIVED.get(event, self._disbursement_fact) for event in self.disbursements]
        facts.extend(_DERIVED.get(event, self._repayment_fact) for event in self.repayments)
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

    # --- commands: pre-loan --------------------------------------------------------------------

    @classmethod
    def open_application(cls, aggregate_id: UUID, command: Apply, recorded_at: datetime) -> Loan:
        currency_unit = currency(command.currency)
        Money.of(command.amount, currency_unit)  # refuses more places than the minor unit
        _check_term(command.term_months)
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

    # --- commands: in-loan ---------------------------------------------------------------------

    def approve(self, command: Approve, recorded_at: datetime) -> None:
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
        _check_term(command.term_months)
        parse_repayment_method(command.repayment_method)
        if command.repayment_day is not None:
            validate_repayment_day(command.repayment_day)
        self._require_not_before(command.on, self.review, "the review")
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

    # --- commands: post-loan -------------------------------------------------------------------

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
        allocation = _allocation_amounts(after, command.reference)
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
            current = _allocation_amounts(position, repayment.reference)
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

    # --- commands: collateral, guarantors, checks ---------------------------------------------

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
        from loanledger.domain.release_control import check_release

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

    # --- commands: collection, classification, legal -----------------------------------------

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

    # --- commands: write-off, restructure, close -----------------------------------------------

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
        _check_term(command.term_months)
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

    # --- close of day --------------------------------------------------------------------------

    def close_day(
        self, day: date, recorded_at: datetime, rules: RuleSet = CN_2023, *, contagion: bool = False
    ) -> tuple[list[DomainEvent], date | None]:
        """Record the notices and grade changes `day` owes this loan; return them and the next
        date close of day needs to look at it. Running it twice for a day records nothing new."""
        position = self.position(day, rules)
        state = post_loan_state(self, day)
        risk = assess(state, position, rules, contagion=contagion)
        events: list[DomainEvent] = []
        for action in actions_on(self.loan_id, day, position, state, risk, rules):
            events.append(self._record_action(action, day, recorded_at))
        next_on = next_action_after(day, position, risk, rules)
        # Facts dated after `day` (a disbursement recorded ahead of its date, say) change what
        # later days owe, so the loan must be looked at again by then at the latest.
        later = [event.effective_date for event in self.history if event.effective_date > day]
        if later:
            next_on = min(later) if next_on is None else min(next_on, min(later))
        return events, next_on

    def _record_action(self, action: Action, day: date, recorded_at: datetime) -> DomainEvent:
        event_class = SERVICING_EVENTS[action.kind]
        return self.trigger(
            event_class, recorded_at, loan_id=self.loan_id, effective_date=day, **action.fields
        )

    # --- dispatch ------------------------------------------------------------------------------

    def handle(self, command: Command, recorded_at: datetime) -> Outcome:
        """Run any journal command but `apply` on this loan; refusals raise DomainError.

        A fact that changes the money walk (a repayment, a tranche, a restructure, a misuse
        finding) may change how earlier repayments are allocated when it is backdated; each
        recorded allocation it changes gets a compensating `AllocationRevised` event.
        """
        self._require_lifecycle(command)
        handler = getattr(self, _HANDLERS[type(command)])
        outcome = handler(command, recorded_at)
        if not isinstance(outcome, Outcome):
            outcome = Outcome(tuple(self._pending), {})
        cause = next((event for event in self._pending if _moves_money(event)), None)
        if cause is not None and self.repayments:
            self._revise_allocations(cause, recorded_at, position=self._derived)
        self._derived = None
        return outcome

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

    # --- results -------------------------------------------------------------------------------

    def disbursement_result(self, event: LoanDisbursed, *, repeated: bool) -> dict[str, Any]:
        total = sum(
            (
                item.amount
                for item in self.disbursements
                if item.originator_version <= event.originator_version
            ),
            start=Decimal(0),
        )
        return {
            "reference": event.reference,
            "amount": f"{event.amount:.2f}",
            "disbursed_total": f"{total:.2f}",
            "version": event.originator_version,
            "repeated": repeated,
        }

    def refund_result(self, event: OverpaymentRefunded, *, repeated: bool) -> dict[str, Any]:
        return {
            "reference": event.reference,
            "amount": f"{event.amount:.2f}",
            "version": event.originator_version,
            "repeated": repeated,
        }

    def repayment_result(self, event: RepaymentReceived, *, repeated: bool) -> dict[str, Any]:
        _, allocation = self.recorded_allocations[event.reference]
        return {
            "reference": event.reference,
            "amount": f"{event.amount:.2f}",
            "allocation": {key: f"{value:.2f}" for key, value in sorted(allocation.items())},
            "version": event.originator_version,
            "repeated": repeated,
        }

    # --- helpers -------------------------------------------------------------------------------

    def _repeat_of(self, command: Disburse | Repay | Refund) -> Outcome | None:
        """Same reference and same content: a no-op returning the original result."""
        earlier = self.references.get(command.reference)
        if earlier is None:
            return None
        if earlier.content_hash != command.content_hash():
            raise DuplicateReferenceError(
                f"reference {command.reference!r} was already used on loan {self.loan_id} "
                "with different content"
            )
        if isinstance(earlier, LoanDisbursed):
            return Outcome((), self.disbursement_result(earlier, repeated=True))
        if isinstance(earlier, OverpaymentRefunded):
            return Outcome((), self.refund_result(earlier, repeated=True))
        return Outcome((), self.repayment_result(earlier, repeated=True))

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


def _set(name: str) -> Callable[[Loan, Any], None]:
    def store(loan: Loan, event: Any) -> None:
        setattr(loan, name, event)

    return store


def _ignore(loan: Loan, event: Any) -> None:
    """Facts that only derivations read (from `history`)."""


_APPLIERS: dict[type[DomainEvent], Callable[[Loan, Any], None]] = {
    LoanApplied: Loan._on_applied,
    InvestigationRecorded: _set("investigation"),
    ReviewRecorded: _set("review"),
    LoanApproved: _set("approval"),
    LoanRejected: _set("rejection"),
    ApplicationWithdrawn: _set("withdrawal"),
    LoanDisbursed: Loan._on_disbursed,
    RepaymentReceived: Loan._on_repaid,
    PrepaymentReceived: Loan._on_repaid,
    OverpaymentRefunded: Loan._on_refunded,
    AllocationRevised: Loan._on_revised,
    CollateralPledged: lambda loan, event: loan.collateral.__setitem__(event.collateral_id, event),
    CollateralReleased: lambda loan, event: loan.collateral.__delitem__(event.collateral_id),
    GuarantorAdded: lambda loan, event: loan.guarantors.__setitem__(event.guarantor_id, event),
    NoticeIssued: lambda loan, event: loan.notices.__setitem__(event.notice_id, event),
    NoticeAcknowledged: lambda loan, event: loan.acknowledged.__setitem__(event.notice_id, event),
    PostLoanCheckRecorded: Loan._on_check,
    LoanRestructured: lambda loan, event: loan.restructures.append(event),
    LoanWrittenOff: _set("written_off"),
    LoanClosed: _set("closed"),
    ArbitrationFiled: Loan._on_case,
    AwardGranted: Loan._on_case,
    EnforcementApplied: Loan._on_case,
    RecoveryRecorded: Loan._on_case,
    CollateralRevalued: _ignore,
    GuarantorAssessed: _ignore,
    LegalRecoveryOpened: _ignore,
    ClassificationChanged: _ignore,
    ClassificationDowngraded: _ignore,
}
"""How each fact changes the aggregate's own bookkeeping (everything else is derived)."""

_HANDLERS: dict[type[Command], str] = {
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


def _moves_money(event: DomainEvent) -> bool:
    """Whether the event is a fact of the money walk (see `Loan.money_facts`)."""
    if isinstance(event, PostLoanCheckRecorded):
        return event.funds_misused
    return isinstance(
        event, LoanDisbursed | RepaymentReceived | LoanRestructured | OverpaymentRefunded
    )


def _check_term(term_months: int) -> None:
    if not MIN_TERM_MONTHS <= term_months <= MAX_TERM_MONTHS:
        raise InvalidTermError(
            f"term_months must be between {MIN_TERM_MONTHS} and {MAX_TERM_MONTHS}, "
            f"got {term_months}"
        )


def _allocation_amounts(position: Position, reference: str) -> dict[str, Decimal]:
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
    # The walk's amounts are exact sums of minor units; quantize only fixes the exponent of zero.
    quantum = position.currency.quantum
    return {name: value.quantize(quantum) for name, value in parts.items()}
