"""The servicing walk: one derivation's mutable state, advanced fact by fact (DESIGN §7; the
conventions are in the `domain.servicing` package docstring).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from loanledger.domain.books import CASH_CLEARING, OVERPAYMENTS, Books
from loanledger.domain.calendar import add_months, default_repayment_day, first_due_date
from loanledger.domain.money import Money, round_to_minor
from loanledger.domain.products.pricing import AllocationStrategy
from loanledger.domain.rules import RuleSet
from loanledger.domain.schedule import (
    reamortise,
)
from loanledger.domain.servicing.allocation import allocate_due
from loanledger.domain.servicing.contract import contract_dues, contract_schedule, installment_dues
from loanledger.domain.servicing.fees import (
    charge_late_fees,
    prepayment_fee,
    principal_with_fee,
    schedule_fee,
)
from loanledger.domain.servicing.figures import (
    ONE_DAY,
    ZERO,
    Allocation,
    InstallmentDue,
    MoneyFact,
    PenaltyWindow,
    Position,
    Terms,
)
from loanledger.domain.servicing.reamortising import Reamortising


class Walk(Reamortising):
    """The mutable state of one derivation; once finished it is only read (`Checkpoints`) or
    copied to be continued (`resumed`)."""

    def __init__(self, terms: Terms, rules: RuleSet, as_of: date, books: Books | None) -> None:
        self.books = books
        self.terms = terms
        self.pricing = pricing = terms.pricing
        # A pinned product prices the loan (day count, rounding, multipliers); the regulatory
        # thresholds stay the rule set's (DESIGN §12).
        self.rules = rules = pricing.applied_to(rules) if pricing is not None else rules
        self.allocation = (
            pricing.allocation
            if pricing is not None
            else AllocationStrategy.PENALTY_INTEREST_PRINCIPAL
        )
        self.currency = terms.currency
        self.position = Position(
            as_of=as_of,
            currency=self.currency,
            rounding=rules.rounding,
            grace_days=pricing.grace_days if pricing is not None else 0,
        )
        self.grace = timedelta(days=self.position.grace_days)
        """Penalty accrues only for days after a due date + the product's grace."""
        self.late_fee = pricing.late_fee if pricing is not None else None
        self.penalty_multiplier = rules.penalty_multiplier
        self.daily_penalty_rate = self._daily_penalty_rate()
        self.reached: date | None = None
        """Installments due on or before this date have had held overpayment applied."""
        self.last_reamortised_on: date | None = None
        self.carried: dict[int, Decimal] = {}
        """Interest carried into an installment by a re-amortisation within its period."""
        self.calendar = terms.calendar
        """The holiday calendar due dates follow (kept through a restructure's new terms)."""
        self.anchor: tuple[int, date] | None = None
        """An installment number and its contractual (unadjusted) due date, from which every
        later installment's contractual date follows month by month (set when a calendar moves
        due dates, so a re-amortised tail is built from contractual dates, not moved ones)."""
        self.trace: list[PenaltyWindow] | None = None
        """When set (`penalty_windows`), every stretch of penalty accrued is appended to it."""

    def resumed(self, as_of: date) -> Walk:
        """A copy of this finished walk to continue to the end of a later `as_of`."""
        walk = object.__new__(Walk)
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
        self.charge_late_fees(as_of)
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
        self.charge_late_fees(day - ONE_DAY)

    def charge_late_fees(self, through: date) -> None:
        """Charge the product's late fees that arose by the end of `through` (`fees`)."""
        if self.late_fee is not None:
            charge_late_fees(
                self.position,
                self.late_fee,
                self.grace,
                self.rules.rounding,
                self.books,
                self._non_accrual,
                through,
            )

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
                self.recognise_penalty(day, due, off=off)
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

    def recognise_penalty(self, day: date, due: InstallmentDue, *, off: bool) -> None:
        assert self.books is not None
        owed = due.penalty_owed(self.currency, self.rules.rounding)
        self.books.recognise_penalty(day, due.number, due.penalty_paid + owed, off=off)

    def _non_accrual(self, day: date) -> bool:
        """Whether days past due at the start of `day` exceed the non-accrual threshold."""
        for due in self.position.installments:
            if due.overdue_base > 0:
                past_due = (day - due.due_date - self.grace).days
                return past_due > self.rules.non_accrual_after_days
        return False

    def _apply_overpayment(self, due: InstallmentDue) -> None:
        held = self.position.overpayment
        to_interest = min(held, due.interest_unpaid)
        due.interest_paid += to_interest
        held -= to_interest
        to_principal = min(held, due.principal_unpaid)
        due.principal_paid += to_principal
        held -= to_principal
        to_fee = min(held, due.scheduled_fee_unpaid)  # its share of a scheduled fee, last
        due.fee_paid += to_fee
        held -= to_fee
        if self.books is not None:
            self.books.settle(
                due.due_date,
                "overpayment_applied",
                str(due.number),
                OVERPAYMENTS,
                to_interest + to_principal + to_fee,
                [(due.number, ZERO, to_interest, to_principal)],
                fees_met=to_fee,
            )
        self.position.overpayment = held

    def accrue(self, due: InstallmentDue, through: date) -> None:
        """Add the penalty of days after the due date up to `through` at the current balance."""
        start = (
            due.accrued_through if due.accrued_through is not None else due.due_date + self.grace
        )
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
        first = position.first_disbursed_on is None
        pricing = self.pricing
        fee = scheduled = ZERO
        if pricing is not None:
            fee = pricing.withheld_fee(fact.amount.amount, self.currency, first=first)
            scheduled = pricing.scheduled_fee(fact.amount.amount, self.currency, first=first)
        if fee:
            # Withheld from the proceeds: the borrower receives the amount less the fee.
            position.fees_charged += fee
            if self.books is not None:
                self.books.collect_fee(fact.on, "origination_fee", fact.reference, fee)
        position.disbursed += fact.amount.amount
        if position.first_disbursed_on is None:
            position.first_disbursed_on = fact.on
            repayment_day = self.terms.repayment_day or default_repayment_day(fact.on)
            rows = contract_schedule(
                fact.amount,
                self.terms.annual_rate,
                self.terms.term_months,
                self.terms.method,
                fact.on,
                repayment_day,
                self.rules.rounding,
                self.rules.irregular_period_day_count,
                self.calendar,
            )
            if self.calendar is not None:
                self.anchor = (1, first_due_date(fact.on, repayment_day))
            position.installments = contract_dues(rows, fact.on)
            if self.books is not None:
                self.books.disburse(fact.on, fact.amount.amount, fact.reference)
            schedule_fee(self.position, fact.on, fact.reference, scheduled, self.books)
            return
        if self.books is not None:
            self.books.disburse(fact.on, fact.amount.amount, fact.reference)
        self._reamortise_from(fact.on, principal_change=fact.amount.amount)
        schedule_fee(self.position, fact.on, fact.reference, scheduled, self.books)

    def repay(self, fact: MoneyFact) -> None:
        day = fact.on
        remaining = fact.amount.amount
        allocation = {"penalty": ZERO, "fee": ZERO, "interest": ZERO, "principal": ZERO}
        parts: list[tuple[int, Decimal, Decimal, Decimal]] = []
        # Only the books ask whether the loan is in non-accrual (before this payment).
        off = self._non_accrual(day) if self.books is not None else False
        remaining = allocate_due(self, day, remaining, allocation, parts, off)
        prepaid = ZERO
        fee = ZERO
        held_used = ZERO
        held = self.position.overpayment
        if fact.prepay and (remaining > 0 or held > 0):
            # The money already held for the loan prepays with this remainder (issue 23).
            prepaid, interest, number, fee, fees_paid = self._prepay(
                day, remaining + held, fact.keep
            )
            allocation["fee"] += fees_paid
            used = prepaid + interest + fee + fees_paid
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
                fee=fee,
                fees_met=allocation["fee"],
            )
        self.position.overpayment += remaining - held_used
        self.position.fees_charged += fee
        self.position.allocations[fact.reference] = Allocation(
            reference=fact.reference,
            on=day,
            penalty=allocation["penalty"],
            interest=allocation["interest"],
            principal=allocation["principal"],
            prepaid_principal=prepaid,
            overpayment=remaining,
            overpayment_applied=held_used,
            fee=fee + allocation["fee"],
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
                self.recognise_penalty(day, due, off=off)
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

    def rate_reset(self, fact: MoneyFact) -> None:
        """A floating rate resets from `fact.on`: penalty runs at the old rate through the day
        before, and the installments due after `fact.on` are re-amortised over the same count at
        the new rate, the period's interest up to `fact.on` carried at the old one."""
        assert fact.annual_rate is not None
        if fact.annual_rate == self.terms.annual_rate:
            return
        self.accrue_all(fact.on - ONE_DAY)
        if self.position.installments:
            self._reamortise_from(fact.on, principal_change=ZERO, new_rate=fact.annual_rate)
        self.terms = replace(self.terms, annual_rate=fact.annual_rate)
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
        # Fees charged and unpaid (scheduled shares, due or not, and late fees) are capitalised
        # too: the new schedule carries no fee of the old one.
        fees = position.fees_outstanding
        capitalised = arrears + penalty + accrued + fees
        if self.books is not None:
            off = self._non_accrual(day)
            for due in due_now:
                self.recognise_penalty(day, due, off=off)
            if accrued and future:
                number = future[0].number
                recognised = self.books.bucket(number).interest_recognised
                self.books.recognise_interest(day, number, recognised + accrued, off=off)
            moved = [due.number for due in due_now] + ([future[0].number] if accrued else [])
            self.books.capitalise(day, moved, capitalised, fees=bool(fees))
        for due in due_now:
            # What was unpaid is not forgiven: it moves into the new principal.
            due.principal = due.principal_paid
            due.interest = due.interest_paid
            due.penalty_unpaid = Fraction(0)
            due.fee = min(due.fee, due.fee_paid)
            due.late_fee = due.fee_paid - due.fee
            due.late_fee_decided = True
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
        if self.calendar is not None:
            self.anchor = (first_number, first_due_date(day, repayment_day))
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
            calendar=self.calendar,
        )
        position.installments = due_now + installment_dues(rows, day)
        if self.books is not None:
            for row in rows:
                self.books.buckets.pop(row.number, None)

    def _prepay(
        self, day: date, amount: Decimal, keep: str
    ) -> tuple[Decimal, Decimal, int, Decimal, Decimal]:
        """Prepay up to `amount` now: first the interest accrued in the current period, then
        principal with the product's prepayment fee on it. Return (principal prepaid, interest
        paid, number of the installment that carries that interest, prepayment fee, scheduled
        fees paid off: `fees`); what is not used is left to the caller to hold."""
        future = [due for due in self.position.installments if due.due_date > day]
        outstanding = sum((due.principal_unpaid for due in future), start=ZERO)
        if outstanding == 0:
            return ZERO, ZERO, 0, ZERO, ZERO
        rate = Fraction(0)
        if self.pricing is not None and self.position.first_disbursed_on is not None:
            rate = self.pricing.prepayment_fee_rate(self.position.first_disbursed_on, day)
        first = future[0]
        carried = self._carried_interest(day, outstanding)
        # Interest of the next installment paid ahead by an earlier prepayment this period.
        paid_ahead = first.interest_paid
        owed = max(carried - paid_ahead, ZERO)
        fees = sum((due.fee_unpaid for due in future), start=ZERO)
        payoff_fee = prepayment_fee(outstanding, rate, self.currency, self.rules.rounding)
        if amount >= outstanding + owed + fees + payoff_fee:
            # Pays the loan off: the carried interest, all principal and the fees scheduled in
            # the next installment, paid today; the installments after it are no longer owed
            # and leave the schedule.
            first = first.copy()  # not yet due: it may be shared with a remembered walk
            first.principal = first.principal_paid = outstanding
            first.interest = first.interest_paid = paid_ahead + owed
            first.fee = first.fee_paid = first.fee_paid + fees
            self.position.installments = [
                due for due in self.position.installments if due.due_date <= day
            ] + [first]
            return outstanding, owed, first.number, payoff_fee, fees
        interest = min(amount, owed)
        principal = principal_with_fee(amount - interest, rate, self.currency, self.rules.rounding)
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
        fee = prepayment_fee(principal, rate, self.currency, self.rules.rounding)
        return principal, interest, first.number, fee, ZERO


def _month_end(day: date) -> date:
    """The last day of `day`'s month."""
    return add_months(day.replace(day=1), 1) - ONE_DAY
