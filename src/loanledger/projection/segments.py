"""A loan's report row as segments of effective time, for the bitemporal `loan_state` model.

Between two consecutive *boundaries* nothing about a loan's report row changes except in a way a
query can compute from the row at the segment's start: days past due grow by one a day, each
installment's penalty accrues at a constant daily amount (its overdue base × the daily penalty
rate), and the reasons text repeats the days past due. Everything else (balances, overdue amounts,
bucket, classification, stage, status, warnings, next due, LTV, clocks) is constant. Boundaries
are the dates on which that stops being true:

- the effective date of every fact that can change the row (notices, recorded grades and
  allocation revisions cannot, so they are not boundaries);
- each installment's due date while overpayment is held (it is applied), and the day after each
  due date with something unpaid (it is overdue, next due moves on);
- each days-past-due threshold of the rule set (bucket, classification floor, IFRS 9 stage)
  counted from the earliest unpaid due date;
- the end of a restructured loan's observation period.

`Timeline` walks one loan, as known at one moment, forward in effective time exactly as the money
walk does, and takes the row at each boundary. The row at any date inside a segment, completed by
`Segment.row_on`, equals what a full replay gives (tests compare them day by day).
"""

from __future__ import annotations

from bisect import insort
from collections import OrderedDict
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

from loanledger.domain.contagion import spread_to
from loanledger.domain.event import DomainEvent
from loanledger.domain.limitation import window_boundaries
from loanledger.domain.loan import Loan
from loanledger.domain.loan_events import (
    AllocationRevised,
    ClassificationChanged,
    LoanApproved,
    NoticeIssued,
)
from loanledger.domain.money import currency, round_to_minor
from loanledger.domain.postloan import (
    PostLoanState,
    RiskView,
    assess,
    gather_post_loan_fact,
    guarantee_expires_on,
    limitation_expires_on,
    observation_ends_on,
)
from loanledger.domain.rules import (
    RuleSet,
    bucket,
    classification_floor,
    ifrs9_stage,
)
from loanledger.domain.servicing import ONE_DAY, ZERO, InstallmentDue, MoneyFact, Position, Walk
from loanledger.reports.amounts import amount_text
from loanledger.reports.portfolio import loan_ledger as loan_ledger_rows
from loanledger.reports.views import Derived, loan_row, product_fields

FOREVER = date(9999, 12, 31)
"""`valid_to` of a segment nothing will end (no due date or threshold is left)."""

ROW_NEUTRAL = (NoticeIssued, ClassificationChanged, AllocationRevised)
"""Facts that never change a loan's report row: notices (the `notices` report reads them),
grades recorded by close of day (derived from the row, not feeding it) and allocation revisions
(the repayments they revise are the money facts)."""

DAYS_PAST_DUE_SCAN = 4000
"""How far `change_points` looks for a threshold: beyond every rule set's last one (DPD > 360)."""


@cache
def change_points(rules: RuleSet) -> tuple[int, ...]:
    """The days-past-due values on which the bucket, the classification floor or the IFRS 9 stage
    changes under `rules`, found by asking the rule functions themselves (so a rule set with
    other thresholds needs no change here)."""

    def grades(days: int) -> tuple[object, ...]:
        return (
            bucket(days, rules),
            classification_floor(days, rules),
            ifrs9_stage(days, flagged=False, written_off=False, rules=rules),
            ifrs9_stage(days, flagged=True, written_off=False, rules=rules),
            days >= 1,
        )

    return tuple(days for days in range(1, DAYS_PAST_DUE_SCAN) if grades(days) != grades(days - 1))


@dataclass(frozen=True)
class Segment:
    """A loan's report row over [valid_from, valid_to), as known from one set of facts."""

    valid_from: date
    valid_to: date
    row: dict[str, Any]
    """The `loan_ledger` row on `valid_from`, without borrower-level contagion."""
    contagion_grade: tuple[str, list[str]]
    """Classification and reasons on `valid_from` if the borrower is non-performing elsewhere."""
    overdue_since: date | None
    """Days past due on a date inside the segment are counted from here (None: current)."""
    penalties: tuple[tuple[Fraction, Fraction], ...]
    """Each installment's exact penalty on `valid_from` and what it accrues per day after."""
    counts: bool
    """Disbursed: the loan enters its borrower's contagion test."""
    rounding: str | None = None
    """The rounding of the loan's pinned product, where it has one (else the rule set's)."""

    def row_on(self, day: date, rules: RuleSet, *, contagion: bool = False) -> dict[str, Any]:
        """The report row on `day` (valid_from <= day < valid_to)."""
        assert self.valid_from <= day < self.valid_to, (day, self.valid_from, self.valid_to)
        return complete_row(
            dict(self.row),
            day,
            rules,
            overdue_since=self.overdue_since,
            grade=self.contagion_grade if contagion else None,
            penalties=self.penalties,
            elapsed_days=(day - self.valid_from).days,
            rounding=self.rounding,
        )


def complete_row(
    row: dict[str, Any],
    day: date,
    rules: RuleSet,
    *,
    overdue_since: date | None,
    grade: tuple[str, list[str]] | None,
    penalties: Sequence[tuple[Fraction, Fraction]],
    elapsed_days: int,
    rounding: str | None = None,
) -> dict[str, Any]:
    """Complete `row` (a segment's row at its start, changed in place) for `day`, `elapsed_days`
    into the segment: days past due counted from `overdue_since`, each installment's penalty
    accrued on, and the classification (with its reasons) `grade` when the borrower's loans are
    graded together, else the row's own."""
    days_past_due = (day - overdue_since).days if overdue_since is not None else 0
    classification, reasons = (
        grade if grade is not None else (row["classification"], row["classification_reasons"])
    )
    row["classification"] = classification
    row["classification_reasons"] = [f"days_past_due={days_past_due}", *reasons[1:]]
    row["days_past_due"] = days_past_due
    row["as_of"] = day.isoformat()
    if penalties:
        money = currency(row["currency"])
        total = sum(
            (
                round_to_minor(accrued + daily * elapsed_days, money, rounding or rules.rounding)
                for accrued, daily in penalties
                if accrued or daily
            ),
            start=Decimal(0),
        )
        row["penalty_outstanding"] = amount_text(total)
    return row


@dataclass
class Cursor:
    """Where a timeline's walk stands at the start of `day`: the facts effective on or before
    `day` applied, nothing accrued for `day` yet. A later walk of the same loan resumes from a
    copy of it when every fact it adds is effective on or after `day` (the common case: facts
    arrive in business-date order), instead of walking the loan's life again."""

    day: date
    walk: Walk | None
    state: PostLoanState
    fact_index: int
    event_index: int
    events_known: int
    """How many of the loan's events (in recorded order) the walk was built from."""

    def copy(self) -> Cursor:
        """A copy to resume from while this cursor's walk finishes `day`. Only installments due
        by `day` and not settled are copied (`Walk.resumed`): finishing `day` accrues penalty on
        those alone, and the walk is dropped once its last segment is rendered, so the rest can
        be shared (a step of the resumed walk that changes an installment not yet due copies or
        replaces it, as the domain's own resumed walks rely on)."""
        return Cursor(
            self.day,
            self.walk.resumed(self.day) if self.walk is not None else None,
            _state_on(self.state, self.state.as_of),
            self.fact_index,
            self.event_index,
            self.events_known,
        )

    def resumes(self, loan: Loan, start: date) -> bool:
        """Whether a walk of `loan` (which extends the walk's loan) from `start` may resume here."""
        if start < self.day or len(loan.history) < self.events_known:
            return False
        return all(
            event.effective_date >= self.day and not isinstance(event, LoanApproved)
            for event in loan.history[self.events_known :]
        )


class Timeline:
    """Walks one loan (as known at one moment) through effective time, boundary by boundary."""

    def __init__(self, loan: Loan, rules: RuleSet, products: ProductMemo | None = None) -> None:
        self._begin(loan, rules, products)
        self.events = sorted(loan.history, key=_in_effective_order)
        self.fact_dates = sorted(
            {event.effective_date for event in self.events if event_changes_row(event)}
        )
        self._end()

    def _begin(self, loan: Loan, rules: RuleSet, products: ProductMemo | None) -> None:
        assert loan.application is not None
        self.loan = loan
        self.last_recorded = loan.history[-1]
        """The loan's last event when the timeline was built."""
        self.rules = rules
        self.products = products

    def _end(self) -> None:
        """What follows from the loan once its events are in effective order."""
        loan = self.loan
        self.facts = (
            sorted(loan.money_facts(), key=lambda fact: (fact.on, fact.sequence))
            if loan.approval is not None
            else []
        )
        self.checkpoint: Cursor | None = None
        """The cursor at the last boundary on or before `through` of the latest `segments`."""
        pricing = loan.pricing()
        self._rounding = pricing.rounding if pricing is not None else None

    @classmethod
    def going_on(
        cls, earlier: Timeline, loan: Loan, rules: RuleSet, products: ProductMemo | None = None
    ) -> Timeline:
        """The timeline of `loan`, whose history goes on from the one `earlier` was built from
        (its first events the same objects, as a kept loan's are): `earlier`'s events and fact
        dates, already in order, with the new events put in their places, instead of sorting the
        whole history again at each of the loan's moments. Otherwise a timeline built afresh."""
        # (Counted from `earlier.events`, not `earlier.loan`: a loan as known at one moment may
        # be changed in place for the next once its moment's segments are written.)
        known = len(earlier.events)
        history = loan.history
        if earlier.rules is not rules or not extends(history, known, earlier.last_recorded):
            return cls(loan, rules, products)
        timeline = object.__new__(cls)
        timeline._begin(loan, rules, products)
        events, fact_dates = earlier.events, earlier.fact_dates
        added = history[known:]
        if added:
            events = list(events)
            for event in added:
                insort(events, event, key=_in_effective_order)
            dates = {event.effective_date for event in added if event_changes_row(event)}
            if not dates.issubset(fact_dates):
                fact_dates = sorted(dates.union(fact_dates))
        # Shared with `earlier` when nothing changed them: a timeline only reads them.
        timeline.events, timeline.fact_dates = events, fact_dates
        timeline._end()
        return timeline

    @property
    def starts_on(self) -> date:
        assert self.loan.application is not None
        return self.loan.application.effective_date

    def segments(
        self, start: date, through: date, resume: Cursor | None = None
    ) -> Iterator[Segment]:
        """Segments from `start` until one reaches past `through` (or never ends). With
        `resume` (see `Cursor.resumes`), the walk goes on from a copy of it."""
        loan, rules = self.loan, self.rules
        self.checkpoint = None  # a resumed cursor is handed over: never keep an earlier one
        if resume is not None:
            # The caller hands the cursor over (it keeps no reference), so no copy is needed.
            assert resume.resumes(loan, start)
            cursor = resume
            cursor.events_known = len(loan.history)
        else:
            walk = Walk(loan.terms(), rules, start, None) if loan.approval is not None else None
            cursor = Cursor(start, walk, PostLoanState(start), 0, 0, len(loan.history))
        day = start
        while True:
            walk = cursor.walk
            if walk is not None:
                while (
                    cursor.fact_index < len(self.facts) and self.facts[cursor.fact_index].on <= day
                ):
                    _apply(walk, self.facts[cursor.fact_index])
                    cursor.fact_index += 1
                walk.advance_to(day)
                walk.charge_late_fees(day)  # at the end of the day, as `Walk.finish` does
            events = self.events
            while (
                cursor.event_index < len(events)
                and events[cursor.event_index].effective_date <= day
            ):
                gather_post_loan_fact(cursor.state, events[cursor.event_index])
                cursor.event_index += 1
            cursor.day = day
            cursor.state.as_of = day
            position = walk.position if walk is not None else None
            if position is not None:
                position.as_of = day
            # Where this segment ends does not depend on the day's penalty (installments, the
            # earliest unpaid due date and the observation period do not change by accruing), so
            # it is known before accruing, which is when a later walk may resume from here.
            following = self._next_boundary(day, position, cursor.state)
            if day <= through and (following is None or following > through):
                self.checkpoint = cursor.copy()
            daily = Fraction(0)
            if walk is not None:
                walk.accrue_all(day)
                daily = walk.daily_penalty_rate
            row, segment = self._row(day, position, cursor.state, daily)
            yield Segment(
                valid_from=day,
                valid_to=following if following is not None else FOREVER,
                row=row,
                contagion_grade=segment["contagion_grade"],
                overdue_since=segment["overdue_since"],
                penalties=segment["penalties"],
                counts=segment["counts"],
                rounding=segment["rounding"],
            )
            if following is None or following > through:
                return
            day = following

    def _row(
        self, day: date, position: Position | None, state: PostLoanState, daily: Fraction
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        loan, rules = self.loan, self.rules
        summed = Summed.of(position) if position is not None else None
        figures = summed if summed is not None and summed.disbursed > 0 else None
        risk = assess(state, figures, rules)
        product = (
            self.products.fields(loan, rules, day)
            if self.products is not None
            else product_fields(loan, rules, day)
        )
        derived = Derived(summed, figures, state, risk, loan.status_on(day, summed, risk), product)
        (row,) = loan_ledger_rows([loan_row(loan, day, rules, details=False, derived=derived)])
        overdue_since = None
        penalties: list[tuple[Fraction, Fraction]] = []
        if figures is not None:
            if figures.days_past_due > 0:
                overdue_since = day - timedelta(days=figures.days_past_due)
            for unpaid, base in figures.penalty_bases:
                accrues = Fraction(base) * daily if base > 0 else Fraction(0)
                penalties.append((unpaid, accrues))
        return row, {
            "contagion_grade": self._contagion_grade(risk, state, figures),
            "overdue_since": overdue_since,
            "penalties": tuple(penalties),
            "counts": figures is not None,
            "rounding": self._rounding,
        }

    def _contagion_grade(
        self, risk: RiskView, state: PostLoanState, figures: Position | None
    ) -> tuple[str, list[str]]:
        """What `assess(..., contagion=True)` gives, from the grade without contagion. A
        written-off loan is `loss` either way, but its reasons depend on its grade before the
        write-off, so only then is the assessment run again."""
        if state.written_off is not None:
            spread = assess(state, figures, self.rules, contagion=True)
            return spread.classification, list(spread.reasons)
        return spread_to(risk.classification, list(risk.reasons))

    def _next_boundary(
        self, day: date, position: Position | None, state: PostLoanState
    ) -> date | None:
        candidates: list[date] = []
        for fact_date in self.fact_dates:
            if fact_date > day:
                candidates.append(fact_date)
                break
        if position is not None:
            # Installments are in due-date order, so the first match of each kind is the
            # nearest; one pass finds them all. On a due date itself only held overpayment moves
            # (it is applied); the day after, whatever is still unpaid of the installment is
            # overdue and next due moves on. An installment already paid changes nothing on
            # either day.
            grace = timedelta(days=position.grace_days)
            late = pricing.late_fee if (pricing := self.loan.pricing()) is not None else None
            # A product's late fee is charged at the end of an unpaid installment's late-fee day
            # (due date + grace + after_days): the row of that day shows it.
            late_after = grace + timedelta(days=late.after_days) if late is not None else None
            overpaid = position.overpayment > 0
            first_unpaid = None
            falls_due = overdue = bears = charged = False
            for due in position.installments:
                if overpaid and not falls_due and due.due_date > day:
                    candidates.append(due.due_date)
                    falls_due = True
                base = due.principal - due.principal_paid + due.interest - due.interest_paid
                if due.fee:  # `overdue_base`
                    base += due.scheduled_fee_unpaid
                if base > 0:
                    if first_unpaid is None:
                        first_unpaid = due
                    if not overdue and due.due_date + ONE_DAY > day:
                        candidates.append(due.due_date + ONE_DAY)
                        overdue = True
                    # A product's grace: an unpaid installment starts to bear penalty the day
                    # after its due date + grace (the row's daily accrual changes from there).
                    if grace and not bears and due.due_date + grace > day:
                        candidates.append(due.due_date + grace)
                        bears = True
                    if late_after is not None and not charged and not due.late_fee_decided:
                        charged_on = due.due_date + late_after
                        if charged_on > day:
                            candidates.append(charged_on)
                            charged = True
                if (
                    overdue
                    and (falls_due or not overpaid)
                    and (bears or not grace)
                    and (charged or late_after is None)
                ):
                    break  # (the first unpaid comes before the first overdue one)
            if first_unpaid is not None:
                for threshold in change_points(self.rules):
                    candidate = first_unpaid.due_date + grace + timedelta(days=threshold)
                    if candidate > day:
                        candidates.append(candidate)
                        break
        figures = position if position is not None and position.disbursed > 0 else None
        observation = observation_ends_on(state, figures)
        if observation is not None and observation > day:
            candidates.append(observation)
        if state.origination_on is not None and state.origination_on >= day:
            candidates.append(state.origination_on + ONE_DAY)  # the stage rule of day one ends
        for clock in (limitation_expires_on(state, figures), guarantee_expires_on(state, figures)):
            candidates += [when for when in window_boundaries(clock) if when > day]
        return min(candidates) if candidates else None


PRODUCTS_KEPT = 8192
"""Loans whose product fields `ProductMemo` keeps (the least recently used is dropped first)."""


class ProductMemo:
    """Each loan's product fields (`reports.views.product_fields`: its product, the version it
    pinned and the APR of its contract), kept from one of its timelines to the next. A rebuild
    walks a loan once for each moment it was recorded at, and solving its APR (an IRR over the
    contract schedule) for each of them cost as much as the rest of the walk. The fields are
    reused only while everything they are derived from is the same: the approval, the product
    named and pinned, the first disbursement date (each as of the row's date), the calendar
    versions and the rule set."""

    def __init__(self, loans: int = PRODUCTS_KEPT) -> None:
        self.loans_kept = loans
        self._kept: OrderedDict[str, tuple[tuple[object, ...], dict[str, Any]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def fields(self, loan: Loan, rules: RuleSet, as_of: date) -> dict[str, Any]:
        """The loan's product fields as of `as_of` (shared: a caller copies them into its row)."""

        def effective(event: DomainEvent | None) -> DomainEvent | None:
            return event if event is not None and event.effective_date <= as_of else None

        basis: tuple[object, ...] = (
            effective(loan.approval),
            effective(loan.product_pinned),
            effective(loan.product_named),
            min(
                (
                    event.effective_date
                    for event in loan.disbursements
                    if event.effective_date <= as_of
                ),
                default=None,
            ),
            loan.calendar_versions[-1] if loan.calendar_versions else None,
            rules,
        )
        found = self._kept.get(loan.loan_id)
        if found is not None and all(
            old is new or old == new for old, new in zip(found[0], basis, strict=True)
        ):
            self._kept.move_to_end(loan.loan_id)
            return found[1]
        fields = product_fields(loan, rules, as_of)
        self._kept[loan.loan_id] = (basis, fields)
        self._kept.move_to_end(loan.loan_id)
        while len(self._kept) > self.loans_kept:
            self._kept.popitem(last=False)
        return fields

    def keep_only(self, loan_ids: Container[str]) -> None:
        """Forget the loans not in `loan_ids` (those no longer carried from page to page: what is
        kept must not grow with the book)."""
        for loan_id in [loan_id for loan_id in self._kept if loan_id not in loan_ids]:
            del self._kept[loan_id]

    def clear(self) -> None:
        self._kept.clear()


class Summed(Position):
    """A position on one date with the figures the views and `assess` read summed once, in one
    pass over the installments, instead of once per field that reads them (a row read each sum
    two or three times). A shallow copy of the walk's position (nothing changes while one row
    is rendered); every sum is the same expression, in the same order, as `Position`'s."""

    _principal_outstanding: Decimal
    _overdue_principal: Decimal
    _overdue_interest: Decimal
    _penalty_outstanding: Decimal
    _fees_outstanding: Decimal
    _days_past_due: int
    _next_due: InstallmentDue | None
    _oldest_unpaid: InstallmentDue | None
    penalty_bases: list[tuple[Fraction, Decimal]]
    """Each installment with penalty unpaid or bearing penalty (its due date + the grace past):
    its penalty unpaid and its overdue base (zero while it bears none), in due-date order."""

    @classmethod
    def of(cls, position: Position) -> Summed:
        summed = object.__new__(cls)
        summed.__dict__.update(position.__dict__)
        as_of, money, rounding = position.as_of, position.currency, position.rounding
        bears_from = as_of - timedelta(days=position.grace_days)
        principal = overdue_principal = overdue_interest = penalty = fees = ZERO
        days_past_due: int | None = None
        next_due = oldest_unpaid = None
        penalty_bases: list[tuple[Fraction, Decimal]] = []
        for due in position.installments:
            principal_unpaid = due.principal - due.principal_paid  # `principal_unpaid`
            interest_unpaid = due.interest - due.interest_paid  # `interest_unpaid`
            principal += principal_unpaid
            if due.due_date < as_of:
                overdue_principal += principal_unpaid
                overdue_interest += interest_unpaid
            penalty_unpaid = due.penalty_unpaid
            owes_penalty = bool(penalty_unpaid)
            if owes_penalty:  # `penalty_owed` (adding its zero changes nothing)
                penalty += round_to_minor(penalty_unpaid, money, rounding)
            fees += due.fee + due.late_fee - due.fee_paid  # `fee_unpaid`
            base = principal_unpaid + interest_unpaid  # `overdue_base`
            if due.fee:
                base += due.scheduled_fee_unpaid
            if base > 0:
                if oldest_unpaid is None:  # `oldest_unpaid`, and `days_past_due` from it
                    oldest_unpaid = due
                    days_past_due = max((as_of - due.due_date).days - position.grace_days, 0)
                if next_due is None and due.due_date >= as_of:
                    next_due = due
            # Penalty accrues from the day after the due date + the product's grace.
            if due.due_date > bears_from:
                base = ZERO
            if owes_penalty or base > 0:
                penalty_bases.append((penalty_unpaid, base))
        summed._principal_outstanding = principal
        summed._overdue_principal = overdue_principal
        summed._overdue_interest = overdue_interest
        summed._penalty_outstanding = penalty
        summed._fees_outstanding = fees
        summed._days_past_due = days_past_due or 0
        summed._next_due = next_due
        summed._oldest_unpaid = oldest_unpaid
        summed.penalty_bases = penalty_bases
        return summed

    @property
    def principal_outstanding(self) -> Decimal:
        return self._principal_outstanding

    @property
    def overdue_principal(self) -> Decimal:
        return self._overdue_principal

    @property
    def overdue_interest(self) -> Decimal:
        return self._overdue_interest

    @property
    def penalty_outstanding(self) -> Decimal:
        return self._penalty_outstanding

    @property
    def fees_outstanding(self) -> Decimal:
        return self._fees_outstanding

    @property
    def days_past_due(self) -> int:
        return self._days_past_due

    @property
    def next_due(self) -> InstallmentDue | None:
        return self._next_due

    @property
    def oldest_unpaid(self) -> InstallmentDue | None:
        return self._oldest_unpaid


def extends(history: Sequence[DomainEvent], known: int, last: DomainEvent) -> bool:
    """Whether `history` goes on from a history of `known` events whose last was `last`: its
    first `known` events are those, the same objects (a loan built from the kept loan's events;
    a loan loaded again from the store holds other objects)."""
    return 0 < known <= len(history) and history[known - 1] is last


def _in_effective_order(event: DomainEvent) -> tuple[date, int]:
    """The order a timeline walks a loan's events in: by effective date, then as recorded."""
    return event.effective_date, event.originator_version


def _apply(walk: Walk, fact: MoneyFact) -> None:
    """One money fact, exactly as `derive_position` applies it."""
    walk.advance_to(fact.on)
    handler = {
        "disburse": walk.disburse,
        "repay": walk.repay,
        "restructure": walk.restructure,
        "misuse": walk.misuse,
        "rate_reset": walk.rate_reset,
        "write_off": walk.write_off,
        "close": walk.close,
        "refund": walk.refund,
    }.get(fact.kind)
    if handler is None:
        raise ValueError(f"unknown money fact kind {fact.kind!r}")
    handler(fact)
    walk.note_arrears(fact.on)


STATE_CONTAINERS = tuple(
    field.name for field in fields(PostLoanState) if field.default_factory in (dict, list)
)
"""The fields of a post-loan state that a copy must not share (the dicts and lists of what is in
force); the others are immutable values."""


def _state_on(state: PostLoanState, day: date) -> PostLoanState:
    """A copy of `state` on `day` that goes on apart from it (`STATE_CONTAINERS` copied). Not
    `dataclasses.replace`, which runs `__init__` with every field: a copy is taken at each of a
    rebuild's 35,000 checkpoints."""
    copied = object.__new__(PostLoanState)
    copied.__dict__.update(state.__dict__)
    copied.as_of = day
    for name in STATE_CONTAINERS:
        setattr(copied, name, getattr(state, name).copy())
    return copied


def event_changes_row(event: DomainEvent) -> bool:
    return not isinstance(event, ROW_NEUTRAL)
