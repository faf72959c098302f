"""The figures of the servicing walk: the approved terms, the money facts walked, and what the
walk derives (installment dues, allocations, the position, penalty windows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from loanledger.domain.money import Currency, Money, round_to_minor
from loanledger.domain.products.calendars import BusinessCalendar
from loanledger.domain.products.pricing import Pricing
from loanledger.domain.rates import AnnualRate
from loanledger.domain.rules import CN_2023
from loanledger.domain.schedule import (
    Installment,
    RepaymentMethod,
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
    pricing: Pricing | None = None
    """The product terms pinned at approval (None: the default product, i.e. the rule set's)."""
    calendar: BusinessCalendar | None = None
    """The holiday calendar the due dates follow (None: no due date moves)."""

    def __hash__(self) -> int:
        # Every derivation looks its loan up by its terms (`Checkpoints`): hash the fields once.
        found: int | None = self.__dict__.get("_hash")
        if found is None:
            found = hash(
                (
                    self.amount,
                    self.term_months,
                    self.annual_rate,
                    self.method,
                    self.repayment_day,
                    self.pricing,
                    self.calendar,
                )
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
    "misuse" (funds used against the agreed purpose: the penalty multiplier switches from `on`)
    and "rate_reset" (with `annual_rate`: a floating rate's new value from `on`).
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
    annual_rate: AnnualRate | None = None
    """A "rate_reset" fact's new contract rate (a floating-rate loan's reset)."""


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
    fee: Decimal = ZERO
    """Fees this repayment paid: installments' scheduled and late fees, and a product's
    prepayment fee."""

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
        if self.fee:
            parts["fee"] = _text(self.fee)
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
    fee: Decimal = ZERO
    """This installment's share of an origination fee spread over the schedule: part of what
    falls due with it (`overdue_base`)."""
    late_fee: Decimal = ZERO
    """The late fee charged on it (a charge, like penalty: it alone never makes it past due)."""
    fee_paid: Decimal = ZERO
    """Paid of `fee` and `late_fee` (the scheduled share first)."""
    late_fee_decided: bool = False
    """Its late-fee day has passed (the fee was charged, or nothing was unpaid then)."""

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
    def scheduled_fee_unpaid(self) -> Decimal:
        return self.fee - self.fee_paid if self.fee > self.fee_paid else ZERO

    @property
    def fee_unpaid(self) -> Decimal:
        """Scheduled share and late fee not yet paid."""
        return self.fee + self.late_fee - self.fee_paid

    @property
    def overdue_base(self) -> Decimal:
        """What falls due with the installment and is unpaid: principal, interest and its share
        of a scheduled fee (what days past due and penalty look at)."""
        base = self.principal - self.principal_paid + self.interest - self.interest_paid
        if self.fee:
            return base + self.scheduled_fee_unpaid
        return base

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
            and self.fee + self.late_fee == self.fee_paid
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
    fees_charged: Decimal = ZERO
    """Fees charged so far (origination, prepayment and late fees)."""
    late_fees_charged: Decimal = ZERO
    """Late fees charged so far (what a product's `cap_per_loan` bounds)."""
    grace_days: int = 0
    """The pinned product's grace: days past due count from each due date + grace_days."""
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
    def fees_outstanding(self) -> Decimal:
        """Fees charged and not yet paid: scheduled shares (due or not) and late fees."""
        return sum((due.fee_unpaid for due in self.installments), start=ZERO)

    @property
    def days_past_due(self) -> int:
        oldest = self.oldest_unpaid
        if oldest is None:
            return 0
        return max((self.as_of - oldest.due_date).days - self.grace_days, 0)

    @property
    def oldest_unpaid(self) -> InstallmentDue | None:
        """The earliest installment whose principal or interest is still unpaid: what days past
        due count from (penalty alone does not make a loan past due)."""
        for due in self.installments:
            if due.overdue_base > 0:
                return due
        return None

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
            and self.fees_outstanding == 0
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


def _text(value: Decimal) -> str:
    return f"{value:.2f}"
