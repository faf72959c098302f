"""Derived state of a disbursed loan: dues, allocation, penalty and days past due (DESIGN §7).

Everything here is a pure function of the money facts (disbursements and repayments with their
effective dates), the approved terms, the business date `as_of` and a rule set. Nothing is stored:
the same facts always give the same figures, which is what makes replay equal live and makes a
fact recorded late give the same balances as one recorded on time.

The walk is event-driven, not day by day. Between two changes the overdue balance of an
installment is constant, so its penalty for a stretch of days is balance × daily rate × days,
accrued lazily just before the balance changes and at the end of `as_of`.

Conventions, each from the Contract:

* Penalty 罚息 for calendar day t after a due date is (overdue principal + unpaid overdue interest,
  复利) at the end of day t × annual_rate × 1.5 / 360. End-of-day balances mean the first overdue
  day counts and the repayment day does not (算头不算尾): a payment on day t meets the penalty
  accrued through day t−1. Penalty is accrued exactly (as a rational) per installment; what is
  owed is that accrual rounded HALF_UP to the fen, and paying that amount settles it.
* A repayment is allocated oldest installment first; within one, penalty → interest → principal
  (Civil Code art. 561). A remainder is held as overpayment and applied (interest, then principal)
  to installments as they fall due, unless the repayment asks to prepay.
* A prepayment (提前还款) takes the remainder together with the overpayment the loan already
  holds. It settles first the interest the principal earned from the start of the current period
  to the prepayment date (carried into the next installment's interest, and paid now), then
  reduces principal; the remaining installments are re-amortised over the same number of
  installments (lower installments) or, asked to keep the installment, over fewer. An amount that
  covers the payoff (principal plus that interest) pays the loan off that day and only the rest
  is held; otherwise nothing is held (see `prepayment.py`).
* A refund pays held overpayment back to the borrower.
* A further tranche of disbursement re-amortises the remaining installments the same way, with
  the tranche added to the principal.
* Days past due on D = D − the earliest due date whose principal or interest is unpaid at the end
  of D (0 on the due date itself); penalty alone does not make a loan past due.

Walks are resumed, not repeated. A loan is derived again and again on later dates (close of day,
each repayment, month-end reports) with the same facts plus perhaps a few new ones, so the walk at
the end of an earlier date is remembered (`Checkpoints`) and a later derivation continues it when
the facts effective by that date are exactly the ones it walked. A backdated fact (or a fact
known later removed, as in a `known_at` query) changes that prefix, so the remembered walk is not
used and the derivation starts further back or from the beginning. Continuing is exact, not an
approximation: between two changes a balance is constant and penalty is an exact rational, so
accruing a stretch of days in two steps gives the same figure as in one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from loanledger.domain.books import CASH_CLEARING, OVERPAYMENTS, Books
from loanledger.domain.calendar import add_months, default_repayment_day, first_due_date
from loanledger.domain.money import Currency, Money, round_to_minor
from loanledger.domain.prepayment import kept_level
from loanledger.domain.rates import AnnualRate, DayCount
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.domain.schedule import (
    Installment,
    RepaymentMethod,
    accrued_interest,
    contract_amounts,
    reamortise,
    shorten_term,
)

ZERO = Decimal(0)
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Terms:
    """The approved terms a schedule is built from."""

    amount: Money
    term_months: int
    annual_rate: AnnualRate
    method: RepaymentMethod
    repayment_day: int | None

    def __hash__(self) -> int:
        # Every derivation looks its loan up by its terms (`Checkpoints`): hash the fields once.
        found: int | None = self.__dict__.get("_hash")
        if found is None:
            found = hash(
                (self.amount, self.term_months, self.annual_rate, self.method, self.repayment_day)
            )
            object.__setattr__(self, "_hash", found)
        return found

    def __getstate__(self) -> dict[str, object]:
        # The remembered hash is this process's (strings hash differently in another).
        return {key: value for key, value in self.__dict__.items() if key != "_hash"}

    @property
    def currency(self) -> Currency:
        return self.amount.currency


@dataclass(frozen=True)
class MoneyFact:
    """A fact that changes the money walk, as the engine sees it.

    Kinds: "disburse" and "repay" (with `amount`), "restructure" (with `new_terms`: the whole
    outstanding debt, arrears and accrued interest included, is re-scheduled from `on`) and
    "misuse" (funds used against the agreed purpose: the penalty multiplier switches from `on`).
    """

    kind: str
    on: date
    amount: Money
    reference: str
    sequence: int
    """Recording order, which breaks ties between facts on the same effective date."""
    prepay: bool = False
    new_terms: Terms | None = None
    keep: str = "term"
    """What a prepayment keeps when the rest is re-amortised: "term" or "installment"."""


@dataclass(frozen=True)
class Allocation:
    """How one repayment was applied, in the order the law fixes."""

    reference: str
    on: date
    penalty: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO
    prepaid_principal: Decimal = ZERO
    overpayment: Decimal = ZERO
    """Held as a liability, to be applied as later installments fall due (or refunded)."""
    overpayment_applied: Decimal = ZERO
    """Overpayment held before this repayment that its prepayment used."""

    def as_dict(self) -> dict[str, str]:
        parts = {
            "penalty": _text(self.penalty),
            "interest": _text(self.interest),
            "principal": _text(self.principal),
            "prepaid_principal": _text(self.prepaid_principal),
            "overpayment": _text(self.overpayment),
        }
        if self.overpayment_applied:
            parts["overpayment_applied"] = _text(self.overpayment_applied)
        return parts


@dataclass
class InstallmentDue:
    """One installment while the facts are walked."""

    number: int
    due_date: date
    principal: Decimal
    interest: Decimal
    principal_paid: Decimal = ZERO
    interest_paid: Decimal = ZERO
    penalty_unpaid: Fraction = Fraction(0)
    penalty_paid: Decimal = ZERO
    accrued_through: date | None = None
    start: date | None = None
    """Where this installment's interest period started (for month-end accruals)."""

    def copy(self) -> InstallmentDue:
        """A copy to walk on (every field is an immutable value)."""
        clone = object.__new__(InstallmentDue)
        clone.__dict__.update(self.__dict__)
        return clone

    @property
    def principal_unpaid(self) -> Decimal:
        return self.principal - self.principal_paid

    @property
    def interest_unpaid(self) -> Decimal:
        return self.interest - self.interest_paid

    @property
    def overdue_base(self) -> Decimal:
        return self.principal_unpaid + self.interest_unpaid

    def penalty_owed(self, currency: Currency, rounding: str) -> Decimal:
        if not self.penalty_unpaid:
            return ZERO
        return round_to_minor(self.penalty_unpaid, currency, rounding)

    @property
    def settled(self) -> bool:
        """Nothing left to pay, penalty included (its balance can no longer grow)."""
        return (
            self.principal == self.principal_paid
            and self.interest == self.interest_paid
            and (not self.penalty_unpaid)
        )


@dataclass
class Position:
    """A loan's derived state at the end of `as_of`."""

    as_of: date
    currency: Currency
    installments: list[InstallmentDue] = field(default_factory=list)
    disbursed: Decimal = ZERO
    overpayment: Decimal = ZERO
    allocations: dict[str, Allocation] = field(default_factory=dict)
    first_disbursed_on: date | None = None
    rounding: str = CN_2023.rounding
    restructured_on: date | None = None
    capitalised: Decimal = ZERO
    """Arrears, penalty and accrued interest turned into principal by the last restructure."""
    misuse_since: date | None = None
    refunds: dict[str, Decimal] = field(default_factory=dict)
    """Per refund reference, what it paid back (at most what was held on its date)."""
    arrears_cleared_on: date | None = None
    """The latest date of a money fact at whose end nothing was overdue (overdue principal and
    interest both zero): legal recovery opened before it has ended (the arrears were repaid)."""

    @property
    def principal_outstanding(self) -> Decimal:
        return sum((due.principal_unpaid for due in self.installments), start=ZERO)

    def _overdue(self) -> list[InstallmentDue]:
        return [due for due in self.installments if due.due_date < self.as_of]

    @property
    def overdue_principal(self) -> Decimal:
        return sum((due.principal_unpaid for due in self._overdue()), start=ZERO)

    @property
    def overdue_interest(self) -> Decimal:
        return sum((due.interest_unpaid for due in self._overdue()), start=ZERO)

    @property
    def penalty_outstanding(self) -> Decimal:
        """Each installment's exact accrual rounded to the fen, then summed (what paying costs)."""
        return sum(
            (due.penalty_owed(self.currency, self.rounding) for due in self.installments),
            start=ZERO,
        )

    @property
    def days_past_due(self) -> int:
        for due in self.installments:
            if due.overdue_base > 0:
                return max((self.as_of - due.due_date).days, 0)
        return 0

    @property
    def next_due(self) -> InstallmentDue | None:
        """The earliest installment due on or after as_of with anything unpaid."""
        for due in self.installments:
            if due.due_date >= self.as_of and due.overdue_base > 0:
                return due
        return None

    @property
    def maturity_date(self) -> date | None:
        return self.installments[-1].due_date if self.installments else None

    @property
    def is_settled(self) -> bool:
        """Disbursed, and no principal, interest or penalty is owed any more."""
        return (
            self.disbursed > 0
            and self.principal_outstanding == 0
            and all(due.interest_unpaid == 0 for due in self.installments)
            and self.penalty_outstanding == 0
        )

    def schedule(self) -> list[Installment]:
        """The contractual schedule in force (after prepayments or tranches, re-amortised)."""
        rows = []
        remaining = sum((due.principal for due in self.installments), start=ZERO)
        for due in self.installments:
            remaining -= due.principal
            rows.append(
                Installment(
                    number=due.number,
                    due_date=due.due_date,
                    principal=Money.of(due.principal, self.currency),
                    interest=Money.of(due.interest, self.currency),
                    installment=Money.of(due.principal + due.interest, self.currency),
                    principal_remaining=Money.of(remaining, self.currency),
                )
            )
        return rows


@lru_cache(maxsize=4096)
def _contract_schedule(
    principal: Money,
    annual_rate: AnnualRate,
    term_months: int,
    method: RepaymentMethod,
    disbursed_on: date,
    repayment_day: int,
    rounding: str,
    day_count: DayCount,
) -> tuple[tuple[int, date, Decimal, Decimal], ...]:
    """The contract schedule as `contract_amounts` rows (number, due date, principal,
    interest), remembered: it is a pure function of its (hashable, frozen) arguments and every
    derivation of a loan starts from the same one, so building it once per loan instead of
    once per query is most of what keeps derivations fast. Rows of Money and Installment are
    not needed by the walk, which works on Decimal amounts."""
    return contract_amounts(
        principal,
        annual_rate,
        term_months,
        method,
        disbursed_on,
        repayment_day,
        rounding=rounding,
        day_count=day_count,
    )


def _contract_dues(
    rows: Iterable[tuple[int, date, Decimal, Decimal]], start: date
) -> list[InstallmentDue]:
    """Walk rows for a contract schedule (`contract_amounts`) whose first period starts on
    `start`."""
    dues = []
    for number, due_date, principal, interest in rows:
        dues.append(InstallmentDue(number, due_date, principal, interest, start=start))
        start = due_date
    return dues


def _dues(rows: Iterable[Installment], start: date) -> list[InstallmentDue]:
    """Walk rows for a schedule whose first period starts on `start`."""
    dues = []
    for row in rows:
        dues.append(
            InstallmentDue(
                row.number, row.due_date, row.principal.amount, row.interest.amount, start=start
            )
        )
        start = row.due_date
    return dues


def derive_position(
    terms: Terms,
    facts: Iterable[MoneyFact],
    as_of: date,
    rules: RuleSet = CN_2023,
    *,
    books: Books | None = None,
) -> Position:
    """Walk the money facts effective on or before `as_of` and return the position at its end.

    With `books`, the walk also records the general-ledger postings of every step (dated on or
    before `as_of`) into it. Without, the walk continues a remembered one where the facts allow
    (see the module docstring); the position returned may be shared and must not be changed.
    """
    ordered = sorted(
        (fact for fact in facts if fact.on <= as_of), key=lambda fact: (fact.on, fact.sequence)
    )
    if books is not None:
        walk = _Walk(terms, rules, as_of, books)
        _walk_facts(walk, ordered)
        walk.finish(as_of)
        books.postings = [posting for posting in books.postings if posting.on <= as_of]
        return walk.position
    found = CHECKPOINTS.find(terms, rules, ordered, as_of)
    if found is None:
        walk = _Walk(terms, rules, as_of, None)
        walked = 0
    else:
        earlier, walked = found
        if earlier.position.as_of == as_of:
            return earlier.position  # the same facts on the same date: the same position
        walk = earlier.resumed(as_of)
    _walk_facts(walk, ordered[walked:])
    walk.finish(as_of)
    CHECKPOINTS.keep(terms, rules, tuple(ordered), walk)
    return walk.position


@dataclass(frozen=True)
class PenaltyWindow:
    """One stretch of days over which an installment's overdue balance, and so its penalty per
    day, stayed the same: what `explain` shows of a penalty figure."""

    installment: int
    first_day: date
    last_day: date
    days: int
    base: Decimal
    """Overdue principal + unpaid overdue interest (复利) at the end of each of these days."""
    daily_rate: Fraction
    accrued: Fraction
    """base × daily_rate × days, exact (rounded only when paid, posted or reported)."""


def penalty_windows(
    terms: Terms, facts: Iterable[MoneyFact], as_of: date, rules: RuleSet = CN_2023
) -> tuple[Position, list[PenaltyWindow]]:
    """The position at the end of `as_of` and every stretch of penalty accrued on the way, from
    a fresh walk (not a remembered one, whose earlier stretches were accrued before)."""
    ordered = sorted(
        (fact for fact in facts if fact.on <= as_of), key=lambda fact: (fact.on, fact.sequence)
    )
    walk = _Walk(terms, rules, as_of, None)
    walk.trace = []
    _walk_facts(walk, ordered)
    walk.finish(as_of)
    return walk.position, walk.trace


def _walk_facts(walk: _Walk, ordered: Iterable[MoneyFact]) -> None:
    for fact in ordered:
        walk.advance_to(fact.on)
        if fact.kind == "disburse":
            walk.disburse(fact)
        elif fact.kind == "repay":
            walk.repay(fact)
        elif fact.kind == "restructure":
            walk.restructure(fact)
        elif fact.kind == "misuse":
            walk.misuse(fact)
        elif fact.kind == "write_off":
            walk.write_off(fact)
        elif fact.kind == "close":
            walk.close(fact)
        elif fact.kind == "refund":
            walk.refund(fact)
        else:
            raise ValueError(f"unknown money fact kind {fact.kind!r}")
        walk.note_arrears(fact.on)


MAX_CHECKPOINT_LOANS = 4096
"""Loans whose latest walks `Checkpoints` keeps (least recently used dropped first)."""

CHECKPOINTS_PER_LOAN = 2
"""Walks kept per loan: the latest ones derived (a loan is mostly derived on later dates)."""


@dataclass(frozen=True)
class _Checkpoint:
    facts: tuple[MoneyFact, ...]
    """Every fact the walk took, in walking order: those effective on or before its date."""
    walk: _Walk
    """Finished at the end of `walk.position.as_of`; never changed again (resumed on a copy)."""


class Checkpoints:
    """Finished walks remembered per loan (keyed by its terms and rule set), bounded.

    A walk is reused only when the facts a new derivation takes up to the walk's date are exactly
    the ones it took (same kind, date, amount, reference and recording order): anything
    backdated to that date or earlier, or missing, rules it out.
    """

    def __init__(
        self, loans: int = MAX_CHECKPOINT_LOANS, per_loan: int = CHECKPOINTS_PER_LOAN
    ) -> None:
        self._loans = loans
        self._per_loan = per_loan
        self._walks: OrderedDict[tuple[Terms, RuleSet], list[_Checkpoint]] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._walks.clear()

    def find(
        self, terms: Terms, rules: RuleSet, ordered: Sequence[MoneyFact], as_of: date
    ) -> tuple[_Walk, int] | None:
        """The latest remembered walk on or before `as_of` that `ordered` (the facts effective by
        `as_of`, in walking order) continues, and how many of those facts it has taken."""
        with self._lock:
            kept = self._walks.get((terms, rules))
            if kept is None:
                return None
            self._walks.move_to_end((terms, rules))
            candidates = list(kept)
        best: tuple[_Walk, int] | None = None
        for checkpoint in candidates:
            day = checkpoint.walk.position.as_of
            taken = len(checkpoint.facts)
            if day > as_of or taken > len(ordered):
                continue
            if best is not None and day <= best[0].position.as_of:
                continue
            if taken < len(ordered) and ordered[taken].on <= day:
                continue  # a fact on or before that date that the walk did not take
            if tuple(ordered[:taken]) != checkpoint.facts:
                continue
            best = (checkpoint.walk, taken)
        return best

    def keep(self, terms: Terms, rules: RuleSet, facts: tuple[MoneyFact, ...], walk: _Walk) -> None:
        checkpoint = _Checkpoint(facts, walk)
        key = (terms, rules)
        with self._lock:
            kept = self._walks.get(key)
            if kept is None:
                kept = self._walks[key] = []
            else:
                self._walks.move_to_end(key)
            kept.append(checkpoint)
            del kept[: -self._per_loan]
            while len(self._walks) > self._loans:
                self._walks.popitem(last=False)


CHECKPOINTS = Checkpoints()
"""The process's remembered walks (pure memory: the figures are those of a walk from scratch)."""


class _Walk:
    """The mutable state of one derivation; once finished it is only read (`Checkpoints`) or
    copied to be continued (`resumed`)."""

    def __init__(self, terms: Terms, rules: RuleSet, as_of: date, books: Books | None) -> None:
        self.books = books
        self.terms = terms
        self.rules = rules
        self.currency = terms.currency
        self.position = Position(as_of=as_of, currency=self.currency, rounding=rules.rounding)
        self.penalty_multiplier = rules.penalty_multiplier
        self.daily_penalty_rate = self._daily_penalty_rate()
        self.reached: date | None = None
        """Installments due on or before this date have had held overpayment applied."""
        self.last_reamortised_on: date | None = None
        self.carried: dict[int, Decimal] = {}
        """Interest carried into an installment by a re-amortisation within its period."""
        self.trace: list[PenaltyWindow] | None = None
        """When set (`penalty_windows`), every stretch of penalty accrued is appended to it."""

    def resumed(self, as_of: date) -> _Walk:
        """A copy of this finished walk to continue to the end of a later `as_of`."""
        walk = object.__new__(_Walk)
        walk.__dict__.update(self.__dict__)
        position = self.position
        # Only installments due by the new date can change on the way there (they fall due,
        # accrue penalty, take payments); one due by the old date and settled never changes
        # again (nothing accrues on it, no payment or overpayment reaches it). The rest are
        # shared with this walk, not copied: a step that changes an installment not yet due
        # (a payoff) copies it first, and the others replace the tail of the schedule.
        before = position.as_of
        # A field-for-field copy (what dataclasses.replace makes, without its per-field calls).
        copied = object.__new__(Position)
        copied.__dict__.update(position.__dict__)
        copied.as_of = as_of
        copied.installments = [
            due.copy()
            if due.due_date <= as_of and not (due.due_date <= before and due.settled)
            else due
            for due in position.installments
        ]
        copied.allocations = dict(position.allocations)
        copied.refunds = dict(position.refunds)
        walk.position = copied
        walk.carried = dict(self.carried)
        return walk

    def finish(self, as_of: date) -> None:
        """Bring the walk to the end of `as_of`."""
        self.advance_to(as_of)
        self.accrue_all(as_of)
        self.end_of_day(as_of)

    def _daily_penalty_rate(self) -> Fraction:
        return (
            self.terms.annual_rate.exact * Fraction(self.penalty_multiplier)
        ) / self.rules.penalty_day_count_basis

    # --- time ----------------------------------------------------------------------------------

    def advance_to(self, day: date) -> None:
        """Bring the walk to the start of `day`: installments falling due up to `day` are
        recognised and take any held overpayment; with books, every month end before `day` is
        closed (penalty recognised, interest accrued)."""
        since = self.reached
        if self.books is not None and since is not None:
            month_end = _month_end(since)
            while month_end < day:
                self._due_through(month_end)
                self.end_of_day(month_end)
                month_end = _month_end(month_end + ONE_DAY)
        self._due_through(day)
        self.reached = day

    def _due_through(self, day: date) -> None:
        """Installments due after the last point reached and on or before `day` fall due."""
        for due in self.position.installments:
            if (self.reached is None or due.due_date > self.reached) and due.due_date <= day:
                if self.books is not None:
                    self.books.recognise_interest(
                        due.due_date, due.number, due.interest, off=self._non_accrual(due.due_date)
                    )
                if self.position.overpayment > 0:
                    self._apply_overpayment(due)
        if self.reached is None or day > self.reached:
            self.reached = day

    def end_of_day(self, day: date) -> None:
        """At a month end, recognise penalty owed and accrue interest earned but not yet due."""
        if self.books is None or day != _month_end(day):
            return
        self.accrue_all(day)
        off = self._non_accrual(day + ONE_DAY)
        for due in self.position.installments:
            if due.due_date <= day:
                self._recognise_penalty(day, due, off=off)
            elif due.start is not None and due.start < day and not off:
                earned = round_to_minor(
                    Fraction(due.interest)
                    * (day - due.start).days
                    / (due.due_date - due.start).days,
                    self.currency,
                    self.rules.rounding,
                )
                # Interest a prepayment paid ahead is recognised already (0 for other loans).
                ahead = (
                    self.books.bucket(due.number).interest_recognised if due.interest_paid else ZERO
                )
                self.books.month_end_accrual(
                    day, day + ONE_DAY, due.number, max(earned - ahead, ZERO)
                )

    def _recognise_penalty(self, day: date, due: InstallmentDue, *, off: bool) -> None:
        assert self.books is not None
        owed = due.penalty_owed(self.currency, self.rules.rounding)
        self.books.recognise_penalty(day, due.number, due.penalty_paid + owed, off=off)

    def _non_accrual(self, day: date) -> bool:
        """Whether days past due at the start of `day` exceed the non-accrual threshold."""
        for due in self.position.installments:
            if due.overdue_base > 0:
                return (day - due.due_date).days > self.rules.non_accrual_after_days
        return False

    def _apply_overpayment(self, due: InstallmentDue) -> None:
        held = self.position.overpayment
        to_interest = min(held, due.interest_unpaid)
        due.interest_paid += to_interest
        held -= to_interest
        to_principal = min(held, due.principal_unpaid)
        due.principal_paid += to_principal
        held -= to_principal
        if self.books is not None:
            self.books.settle(
                due.due_date,
                "overpayment_applied",
                str(due.number),
                OVERPAYMENTS,
                to_interest + to_principal,
                [(due.number, ZERO, to_interest, to_principal)],
            )
        self.position.overpayment = held

    def accrue(self, due: InstallmentDue, through: date) -> None:
        """Add the penalty of days after the due date up to `through` at the current balance."""
        start = due.accrued_through if due.accrued_through is not None else due.due_date
        days = (through - start).days
        if days <= 0:
            return
        base = due.overdue_base
        if base <= 0:
            # Nothing accrues on nothing, and the balance of an installment that has fallen due
            # never grows again: the installment is left as it is (a walk may share it).
            return
        accrued = Fraction(base) * self.daily_penalty_rate * days
        due.penalty_unpaid += accrued
        due.accrued_through = through
        if self.trace is not None:
            self.trace.append(
                PenaltyWindow(
                    due.number,
                    start + ONE_DAY,
                    through,
                    days,
                    base,
                    self.daily_penalty_rate,
                    accrued,
                )
            )

    def accrue_all(self, through: date) -> None:
        for due in self.position.installments:
            if due.due_date < through:  # nothing accrues on the due date or before it
                self.accrue(due, through)

    def note_arrears(self, day: date) -> None:
        """After a money fact on `day`: remember the day if nothing due before it is unpaid."""
        position = self.position
        if position.first_disbursed_on is None:
            return
        for due in position.installments:
            if due.due_date >= day:
                break
            if due.overdue_base > 0:
                return
        position.arrears_cleared_on = day

    # --- facts ---------------------------------------------------------------------------------

    def disburse(self, fact: MoneyFact) -> None:
        position = self.position
        position.disbursed += fact.amount.amount
        if position.first_disbursed_on is None:
            position.first_disbursed_on = fact.on
            repayment_day = self.terms.repayment_day or default_repayment_day(fact.on)
            rows = _contract_schedule(
                fact.amount,
                self.terms.annual_rate,
                self.terms.term_months,
                self.terms.method,
                fact.on,
                repayment_day,
                self.rules.rounding,
                self.rules.irregular_period_day_count,
            )
            position.installments = _contract_dues(rows, fact.on)
            if self.books is not None:
                self.books.disburse(fact.on, fact.amount.amount, fact.reference)
            return
        if self.books is not None:
            self.books.disburse(fact.on, fact.amount.amount, fact.reference)
        self._reamortise_from(fact.on, principal_change=fact.amount.amount)

    def repay(self, fact: MoneyFact) -> None:
        day = fact.on
        remaining = fact.amount.amount
        allocation = {"penalty": ZERO, "interest": ZERO, "principal": ZERO}
        parts: list[tuple[int, Decimal, Decimal, Decimal]] = []
        # Only the books ask whether the loan is in non-accrual (before this payment).
        off = self._non_accrual(day) if self.books is not None else False
        for due in self.position.installments:
            if due.due_date > day or remaining == 0:
                break
            if due.settled:
                continue
            self.accrue(due, day - ONE_DAY)
            if self.books is not None:
                self._recognise_penalty(day, due, off=off)
            before = (due.penalty_paid, due.interest_paid, due.principal_paid)
            owed = due.penalty_owed(self.currency, self.rules.rounding)
            paid = min(remaining, owed)
            if paid == owed:
                due.penalty_unpaid = Fraction(0)  # paying the rounded amount settles the accrual
            else:
                due.penalty_unpaid -= Fraction(paid)
            due.penalty_paid += paid
            remaining -= paid
            allocation["penalty"] += paid
            paid = min(remaining, due.interest_unpaid)
            due.interest_paid += paid
            remaining -= paid
            allocation["interest"] += paid
            paid = min(remaining, due.principal_unpaid)
            due.principal_paid += paid
            remaining -= paid
            allocation["principal"] += paid
            parts.append(
                (
                    due.number,
                    due.penalty_paid - before[0],
                    due.interest_paid - before[1],
                    due.principal_paid - before[2],
                )
            )
        prepaid = ZERO
        held_used = ZERO
        held = self.position.overpayment
        if fact.prepay and (remaining > 0 or held > 0):
            # The money already held for the loan prepays with this remainder (issue 23).
            prepaid, interest, number = self._prepay(day, remaining + held, fact.keep)
            used = prepaid + interest
            held_used = max(used - remaining, ZERO)
            remaining = max(remaining - used, ZERO)
            allocation["interest"] += interest
            if used and self.books is not None:
                if interest:
                    recognised = self.books.bucket(number).interest_recognised
                    self.books.recognise_interest(day, number, recognised + interest, off=off)
                parts.append((number, ZERO, interest, prepaid))
        if self.books is not None:
            self.books.settle(
                day,
                "repayment",
                fact.reference,
                CASH_CLEARING,
                fact.amount.amount,
                parts,
                to_overpayment=remaining,
                from_overpayment=held_used,
            )
        self.position.overpayment += remaining - held_used
        self.position.allocations[fact.reference] = Allocation(
            reference=fact.reference,
            on=day,
            penalty=allocation["penalty"],
            interest=allocation["interest"],
            principal=allocation["principal"],
            prepaid_principal=prepaid,
            overpayment=remaining,
            overpayment_applied=held_used,
        )

    def write_off(self, fact: MoneyFact) -> None:
        """Balances leave the books (the borrower still owes them: the walk goes on)."""
        if self.books is None or self.books.written_off:
            return
        day = fact.on
        self.accrue_all(day - ONE_DAY)
        off = self._non_accrual(day)
        for due in self.position.installments:
            if due.due_date <= day:
                self._recognise_penalty(day, due, off=off)
        self.books.write_off(day, self.position.principal_outstanding)

    def close(self, fact: MoneyFact) -> None:
        """The loan is closed; held overpayment is refunded."""
        if self.books is not None and self.position.overpayment > 0:
            self.books.refund(fact.on, self.position.overpayment)
        self.position.overpayment = ZERO

    def refund(self, fact: MoneyFact) -> None:
        """Held overpayment paid back to the borrower (the command checked that it is held)."""
        amount = min(fact.amount.amount, self.position.overpayment)
        if self.books is not None and amount > 0:
            self.books.refund(fact.on, amount, fact.reference)
        self.position.overpayment -= amount
        self.position.refunds[fact.reference] = amount

    def misuse(self, fact: MoneyFact) -> None:
        """From `fact.on`, penalty runs at the misuse multiplier (days before keep theirs)."""
        if self.position.misuse_since is not None:
            return
        self.accrue_all(fact.on - ONE_DAY)
        self.position.misuse_since = fact.on
        self.penalty_multiplier = self.rules.misuse_penalty_multiplier
        self.daily_penalty_rate = self._daily_penalty_rate()

    def restructure(self, fact: MoneyFact) -> None:
        """Re-schedule the whole debt from `fact.on` on new terms, capitalising the arrears
        (overdue interest and penalty owed) and the interest accrued in the current period."""
        assert fact.new_terms is not None
        day = fact.on
        position = self.position
        if not position.installments:
            return
        self.accrue_all(day - ONE_DAY)
        outstanding = position.principal_outstanding
        # Copies: what was due is changed below, and a resumed walk may share installments.
        due_now = [due.copy() for due in position.installments if due.due_date <= day]
        arrears = sum((due.interest_unpaid for due in due_now), start=ZERO)
        penalty = sum(
            (due.penalty_owed(self.currency, self.rules.rounding) for due in position.installments),
            start=ZERO,
        )
        future = [due for due in position.installments if due.due_date > day]
        # Interest of the current period runs on the principal not yet due; overdue principal
        # already carries its interest in the overdue installments (and bears penalty).
        not_yet_due = sum((due.principal_unpaid for due in future), start=ZERO)
        accrued = self._carried_interest(day, not_yet_due) if not_yet_due > 0 else ZERO
        if future:
            # Interest a prepayment paid ahead this period is paid, not capitalised.
            accrued = max(accrued - future[0].interest_paid, ZERO)
        capitalised = arrears + penalty + accrued
        if self.books is not None:
            off = self._non_accrual(day)
            for due in due_now:
                self._recognise_penalty(day, due, off=off)
            if accrued and future:
                number = future[0].number
                recognised = self.books.bucket(number).interest_recognised
                self.books.recognise_interest(day, number, recognised + accrued, off=off)
            moved = [due.number for due in due_now] + ([future[0].number] if accrued else [])
            self.books.capitalise(day, moved, capitalised)
        for due in due_now:
            # What was unpaid is not forgiven: it moves into the new principal.
            due.principal = due.principal_paid
            due.interest = due.interest_paid
            due.penalty_unpaid = Fraction(0)
            if self.books is not None:
                bucket = self.books.bucket(due.number)
                bucket.interest_recognised = due.interest
                bucket.penalty_booked = due.penalty_paid
        position.capitalised = capitalised
        position.restructured_on = day
        self.terms = fact.new_terms
        self.daily_penalty_rate = self._daily_penalty_rate()
        self.carried = {}
        self.last_reamortised_on = day
        new_principal = outstanding + capitalised
        if new_principal <= 0:
            position.installments = due_now
            return
        repayment_day = self.terms.repayment_day or default_repayment_day(day)
        first_number = (due_now[-1].number + 1) if due_now else 1
        rows = reamortise(
            Money.of(new_principal, self.currency),
            self.terms.annual_rate,
            self.terms.term_months,
            self.terms.method,
            day,
            first_due_date(day, repayment_day),
            first_number=first_number,
            rounding=self.rules.rounding,
            day_count=self.rules.irregular_period_day_count,
        )
        position.installments = due_now + _dues(rows, day)
        if self.books is not None:
            for row in rows:
                self.books.buckets.pop(row.number, None)

    def _prepay(self, day: date, amount: Decimal, keep: str) -> tuple[Decimal, Decimal, int]:
        """Prepay up to `amount` now: first the interest accrued in the current period, then
        principal. Return (principal prepaid, interest paid, number of the installment that
        carries that interest); what is not used is left to the caller to hold."""
        future = [due for due in self.position.installments if due.due_date > day]
        outstanding = sum((due.principal_unpaid for due in future), start=ZERO)
        if outstanding == 0:
            return ZERO, ZERO, 0
        first = future[0]
        carried = self._carried_interest(day, outstanding)
        # Interest of the next installment paid ahead by an earlier prepayment this period.
        paid_ahead = first.interest_paid
        owed = max(carried - paid_ahead, ZERO)
        if amount >= outstanding + owed:
            # Pays the loan off: the carried interest and all principal in the next installment,
            # paid today; the installments after it are no longer owed and leave the schedule.
            first = first.copy()  # not yet due: it may be shared with a remembered walk
            first.principal = first.principal_paid = outstanding
            first.interest = first.interest_paid = paid_ahead + owed
            self.position.installments = [
                due for due in self.position.installments if due.due_date <= day
            ] + [first]
            return outstanding, owed, first.number
        interest = min(amount, owed)
        principal = amount - interest
        if principal > 0:
            self._reamortise_from(day, principal_change=-principal, keep=keep)
            first = next(due for due in self.position.installments if due.due_date > day)
        else:
            replaced = first.copy()
            self.position.installments = [
                replaced if due is first else due for due in self.position.installments
            ]
            first = replaced
        first.interest_paid = paid_ahead + interest
        return principal, interest, first.number

    def _period_start(self, day: date) -> date:
        """Where interest of the current period started: the last due date, re-amortisation or
        first disbursement on or before `day`."""
        start = self.position.first_disbursed_on
        assert start is not None
        for due in self.position.installments:
            if due.due_date <= day:
                start = max(start, due.due_date)
        return max(start, self.last_reamortised_on or start)

    def _carried_interest(self, day: date, outstanding: Decimal) -> Decimal:
        """Interest the outstanding principal earned from the period start to `day`, plus any
        interest already carried into the next installment by an earlier change this period."""
        start = self._period_start(day)
        next_due = next(due for due in self.position.installments if due.due_date > day)
        earned = accrued_interest(
            Money.of(outstanding, self.currency),
            self.terms.annual_rate,
            start,
            day,
            day_count=self.rules.irregular_period_day_count,
            rounding=self.rules.rounding,
        ).amount
        return earned + self.carried.get(next_due.number, ZERO)

    def _reamortise_from(self, day: date, principal_change: Decimal, keep: str = "term") -> None:
        """Replace the installments due after `day` by a re-amortised schedule of the same count
        (or, with `keep="installment"`, of the same installment and fewer rows)."""
        future = [due for due in self.position.installments if due.due_date > day]
        if not future:
            return
        outstanding = sum((due.principal_unpaid for due in future), start=ZERO)
        carried = self._carried_interest(day, outstanding)
        new_principal = outstanding + principal_change
        kept = [due for due in self.position.installments if due.due_date <= day]
        if new_principal <= 0:
            self.position.installments = kept
            return
        level = (
            kept_level(self.terms.method, self.position.installments) if keep != "term" else None
        )
        if level is not None and len(future) > 1:
            rows = shorten_term(
                Money.of(new_principal, self.currency),
                self.terms.annual_rate,
                len(future),
                self.terms.method,
                day,
                future[0].due_date,
                Money.of(level, self.currency),
                first_number=future[0].number,
                rounding=self.rules.rounding,
                day_count=self.rules.irregular_period_day_count,
            )
        else:
            rows = reamortise(
                Money.of(new_principal, self.currency),
                self.terms.annual_rate,
                len(future),
                self.terms.method,
                day,
                future[0].due_date,
                first_number=future[0].number,
                rounding=self.rules.rounding,
                day_count=self.rules.irregular_period_day_count,
            )
        replaced = _dues(rows, day)
        replaced[0].interest += carried
        self.carried = {replaced[0].number: carried}
        self.last_reamortised_on = day
        self.position.installments = kept + replaced


def _month_end(day: date) -> date:
    """The last day of `day`'s month."""
    return add_months(day.replace(day=1), 1) - ONE_DAY


def _text(value: Decimal) -> str:
    return f"{value:.2f}"
