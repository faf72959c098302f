"""Rate resets of a floating-rate loan (利率重定价, issue 19 item 5): the `RateReset` facts.

A floating loan's rate on a reset date becomes the index value in force on that date plus the
spread (`domain.products.floating`). The reset is a recorded fact on the loan, as a grade change
is (`ClassificationChanged`): close of day records it on the reset date with the index value in
force then, and the money walk re-amortises the rest of the schedule from it (interest runs at
the old rate up to the reset date and at the new one after). Which value was used is part of
the loan's own hash-chained history, so its figures stay a pure function of its own events.

An index value published later for an earlier date (a backdated publication, or a correction)
changes the value in force on a reset date already recorded: the loan then records a new
`RateReset` for the same date (`corrects_version` naming the one it supersedes), as any
backdated fact is recorded: reports as known before it are unchanged, reports as known after
reflect it, and earlier repayments whose allocation it changes get `AllocationRevised` facts.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from loanledger.domain.calendar import default_repayment_day
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan.money import MoneyHandlers
from loanledger.domain.products.floating import FloatingRate
from loanledger.domain.rate_index import IndexValue
from loanledger.domain.rate_reset import RateReset
from loanledger.domain.servicing.contract import contract_schedule


class RateResets(MoneyHandlers):
    """What a floating loan knows of its rate: resets due, recorded, and the rate in force."""

    def floating(self) -> FloatingRate | None:
        """The loan's floating-rate terms (None: fixed, or not approved yet)."""
        pricing = self.pricing() if self.approval is not None else None
        return pricing.floating if pricing is not None else None

    def _reset_window(self) -> tuple[date, date] | None:
        """(first disbursement date, maturity) of a floating loan that resets; None for one that
        does not (fixed, not disbursed, or restructured onto new terms)."""
        if self.floating() is None or not self.disbursements or self.restructures:
            return None
        first = min(event.effective_date for event in self.disbursements)
        terms = self.terms()
        priced = terms.pricing
        assert priced is not None
        rows = contract_schedule(
            terms.amount,
            terms.annual_rate,
            terms.term_months,
            terms.method,
            first,
            terms.repayment_day or default_repayment_day(first),
            priced.rounding,
            priced.day_count,
        )
        return first, rows[-1][1]

    def reset_dates(self) -> list[date]:
        """Every reset date of the loan, before maturity (none for a loan that does not reset)."""
        window = self._reset_window()
        floating = self.floating()
        if window is None or floating is None:
            return []
        return floating.reset_dates(*window)

    def next_reset_date(self, after: date) -> date | None:
        return next((day for day in self.reset_dates() if day > after), None)

    def recorded_resets(self) -> dict[date, RateReset]:
        """The reset recorded last for each date (a correction supersedes the earlier one)."""
        found: dict[date, RateReset] = {}
        for event in self.rate_resets:
            found[event.effective_date] = event
        return found

    def rate_on(self, day: date) -> Decimal:
        """The contract rate in force on `day` (the approved rate before the first reset)."""
        assert self.approval is not None
        rate = self.approval.annual_rate
        for reset_on, event in sorted(self.recorded_resets().items()):
            if reset_on <= day:
                rate = event.annual_rate
        return rate

    def contract_rate_on(self, day: date, as_of: date) -> Decimal:
        """The contract rate interest is charged at on `day` by the schedule in force on `as_of`:
        the approved rate, replaced by a restructure's rate and by a reset's from their effective
        dates (a reset applies from the start of its date, before a restructure the same day, as
        the money walk has it); changes effective after `as_of` are not in that schedule yet."""
        assert self.approval is not None
        changes = [
            (event.effective_date, 0, event.annual_rate)
            for event in self.recorded_resets().values()
        ]
        changes.extend((event.effective_date, 1, event.annual_rate) for event in self.restructures)
        rate = self.approval.annual_rate
        for on, _, changed in sorted(changes, key=lambda change: change[:2]):
            if on <= min(day, as_of):
                rate = changed
        return rate

    def reset_rate(self, on: date, value: IndexValue, recorded_at: datetime) -> list[DomainEvent]:
        """Record the reset `on` owes the loan with `value`, the index in force on `on`: the
        first time `on` is reached, or again when `value` differs from the value used. Nothing
        when `on` is not a reset date of the loan, or the reset stands as recorded."""
        floating = self.floating()
        if floating is None or on not in self.reset_dates():
            return []
        earlier = self.recorded_resets().get(on)
        if earlier is not None and earlier.index_rate == value.rate:
            return []
        assert self.approval is not None
        before = [event for day, event in sorted(self.recorded_resets().items()) if day < on]
        previous = before[-1].annual_rate if before else self.approval.annual_rate
        event = self.trigger(
            RateReset,
            recorded_at,
            loan_id=self.loan_id,
            effective_date=on,
            index=floating.index,
            index_rate=value.rate,
            index_published_on=value.published_on,
            spread=floating.spread,
            annual_rate=floating.rate_for(value.rate),
            previous_rate=previous,
            corrects_version=earlier.originator_version if earlier is not None else None,
        )
        if self.repayments:
            self._revise_allocations(event, recorded_at)
        return [event, *self._pending[self._pending.index(event) + 1 :]]
