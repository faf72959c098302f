"""Re-amortising the rest of a loan's schedule from a day inside its life: a prepayment (which
may keep the term or the installment), a rate reset, and the interest carried into the next
installment when that day falls inside a period. Part of the servicing walk (`walk.Walk`
inherits it); kept apart so each module stays readable.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from loanledger.domain.calendar import add_months
from loanledger.domain.money import Currency, Money
from loanledger.domain.prepayment import kept_level
from loanledger.domain.products.calendars import BusinessCalendar
from loanledger.domain.rates import AnnualRate
from loanledger.domain.rules import RuleSet
from loanledger.domain.schedule import accrued_interest, reamortise, shorten_term
from loanledger.domain.servicing.contract import installment_dues
from loanledger.domain.servicing.fees import keep_fee_shares
from loanledger.domain.servicing.figures import ZERO, InstallmentDue, Position, Terms


class Reamortising:
    """The walk's re-amortisation: what it reads of the walk's state is declared here."""

    position: Position
    terms: Terms
    rules: RuleSet
    currency: Currency
    calendar: BusinessCalendar | None
    anchor: tuple[int, date] | None
    carried: dict[int, Decimal]
    last_reamortised_on: date | None

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

    def _contractual_date(self, due: InstallmentDue) -> date:
        """The date `due` has by contract, before a holiday calendar moved it (its own date when
        no calendar moves due dates)."""
        if self.calendar is None or self.anchor is None:
            return due.due_date
        number, anchor = self.anchor
        return add_months(anchor, due.number - number)

    def _reamortise_from(
        self,
        day: date,
        principal_change: Decimal,
        keep: str = "term",
        new_rate: AnnualRate | None = None,
    ) -> None:
        """Replace the installments due after `day` by a re-amortised schedule of the same count
        (or, with `keep="installment"`, of the same installment and fewer rows); at `new_rate`
        from `day` when given (a rate reset), else at the loan's rate."""
        rate = new_rate if new_rate is not None else self.terms.annual_rate
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
        first_due = self._contractual_date(future[0])
        if level is not None and len(future) > 1:
            rows = shorten_term(
                Money.of(new_principal, self.currency),
                rate,
                len(future),
                self.terms.method,
                day,
                first_due,
                Money.of(level, self.currency),
                first_number=future[0].number,
                rounding=self.rules.rounding,
                day_count=self.rules.irregular_period_day_count,
                calendar=self.calendar,
            )
        else:
            rows = reamortise(
                Money.of(new_principal, self.currency),
                rate,
                len(future),
                self.terms.method,
                day,
                first_due,
                first_number=future[0].number,
                rounding=self.rules.rounding,
                day_count=self.rules.irregular_period_day_count,
                calendar=self.calendar,
            )
        replaced = installment_dues(rows, day)
        keep_fee_shares(future, replaced, self.currency)
        replaced[0].interest += carried
        self.carried = {replaced[0].number: carried}
        self.last_reamortised_on = day
        self.position.installments = kept + replaced
