"""Repayment schedules (还款计划) and their re-amortisation, by the rules of DESIGN §7 (CN-2023).

The rules, and why they are what they are:

* Installments fall monthly on the repayment day. Installment k (1-based) is due on the repayment
  day k months after the disbursement month, so the first due date is the repayment day in the
  month after the disbursement month (see `loanledger.domain.calendar`).
* A first period of exactly one month (the first due date is `add_months(disbursed_on, 1)`) is
  regular; any other first period is irregular. A regular period charges
  outstanding × annual_rate / 12; an irregular first period charges outstanding × days ×
  annual_rate / 360, the days counted by the day-count convention (ACT/360 by default). Note the
  month-end case: a loan disbursed on 31 January with repayment day 28 has a regular first period
  in a common year (one month after 31 January is 28 February) but an irregular one of 29 days in
  a leap year, because "exactly one month" is measured with the same clamped month arithmetic
  everywhere.
* Every amount is rounded once, to the minor unit (the fen, 分), with the named rounding
  (ROUND_HALF_UP by default). All arithmetic before that rounding is exact (rationals built from
  the exact Decimal inputs), so a figure never depends on a decimal context's precision.
* Interest is rounded per period: interest_k = round(outstanding before k × periodic rate).
* The last installment takes whatever principal remains, so principal sums exactly to the amount
  and the last row's principal_remaining is 0.00. No row ever takes more principal than is
  outstanding: if rounding up of a level amount would exhaust the principal before the last row
  (only possible for tiny principals over long terms), the later rows carry 0.00, so that the
  number of installments and the maturity date stay those of the contract.

Methods (`RepaymentMethod`):

* `annuity` 等额本息: a level payment P = round(A × r / (1 − (1 + r)^−n)), r = annual / 12
  (P = round(A / n) at a zero rate); principal_k = P − interest_k. An irregular first installment
  takes the regular principal portion P − round(A × r) plus its irregular interest, so it differs
  from the rest.
* `equal_principal` 等额本金: principal_k = round(A / n) for k < n; interest on the outstanding.
* `interest_only` 先息后本: interest each period, all principal in the last installment.
* `bullet` 一次性还本付息: one installment at maturity (the date installment n would have), with
  interest = A × annual_rate × term_months / 12, as DESIGN §7 prescribes for origination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise

from loanledger.domain.calendar import (
    add_months,
    first_due_date,
    installment_due_date,
    validate_repayment_day,
)
from loanledger.domain.errors import (
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidDateError,
    InvalidRateError,
    InvalidTermError,
    UnknownRepaymentMethodError,
)
from loanledger.domain.money import (
    Currency,
    Money,
    minor_to_decimal,
    round_ratio,
    round_to_minor,
    validate_rounding,
)
from loanledger.domain.rates import MONTHS_PER_YEAR, AnnualRate, DayCount

__all__ = [
    "MAX_TERM_MONTHS",
    "MIN_TERM_MONTHS",
    "Installment",
    "Keep",
    "RepaymentMethod",
    "accrued_interest",
    "annuity_payment",
    "build_schedule",
    "is_regular_period",
    "parse_repayment_method",
    "reamortise",
    "reamortise_after_prepayment",
    "reamortise_after_rate_change",
    "reamortise_after_restructure",
    "shorten_term",
]

MIN_TERM_MONTHS = 1
MAX_TERM_MONTHS = 600
"""The longest term accepted: 50 years, beyond any mortgage; a limit keeps schedules bounded."""


class RepaymentMethod(StrEnum):
    """How principal and interest are spread over the installments (DESIGN §6 journal values)."""

    ANNUITY = "annuity"  # 等额本息: level installments
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金: level principal, falling installments
    INTEREST_ONLY = "interest_only"  # 先息后本: interest monthly, principal at maturity
    BULLET = "bullet"  # 一次性还本付息: principal and interest in one installment at maturity


def parse_repayment_method(value: object) -> RepaymentMethod:
    """Return the RepaymentMethod spelt exactly as in the journal; refuse anything else.

    Spelling variants ("Annuity", "equal-principal") are refused rather than guessed, so that a
    journal spells each method one way.
    """
    if isinstance(value, RepaymentMethod):
        return value
    if isinstance(value, str):
        for method in RepaymentMethod:
            if method.value == value:
                return method
    known = ", ".join(method.value for method in RepaymentMethod)
    raise UnknownRepaymentMethodError(f"repayment_method must be one of {known}, got {value!r}")


class Keep(StrEnum):
    """What a prepayment keeps unchanged when the remaining schedule is re-amortised."""

    TERM = "term"  # keep the number of installments; the installment falls (DESIGN §7 default)
    INSTALLMENT = "installment"  # keep the installment; the term shortens


@dataclass(frozen=True, slots=True)
class Installment:
    """One row of a schedule: what falls due on `due_date` and what principal remains after it.

    The invariants are checked on construction: the four amounts share a currency, none is
    negative, and installment == principal + interest exactly.
    """

    number: int
    due_date: date
    principal: Money
    interest: Money
    installment: Money
    principal_remaining: Money

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 1:
            raise InvalidTermError(
                f"installment number must be an int of 1 or more, got {self.number!r}"
            )
        if not isinstance(self.due_date, date) or hasattr(self.due_date, "hour"):
            raise InvalidDateError(f"due_date must be a datetime.date, got {self.due_date!r}")
        amounts = (self.principal, self.interest, self.installment, self.principal_remaining)
        if not all(isinstance(amount, Money) for amount in amounts):
            raise InvalidAmountError("installment amounts must be Money")
        if any(amount.is_negative for amount in amounts):
            raise InvalidAmountError(f"installment {self.number} has a negative amount")
        if self.principal + self.interest != self.installment:
            raise InvalidAmountError(
                f"installment {self.number}: installment {self.installment} is not principal "
                f"{self.principal} plus interest {self.interest}"
            )

    def as_row(self) -> dict[str, str | int]:
        """The row as JSON-ready values: amounts as strings with exactly the minor-unit places."""
        return {
            "number": self.number,
            "due_date": self.due_date.isoformat(),
            "principal": str(self.principal),
            "interest": str(self.interest),
            "installment": str(self.installment),
            "principal_remaining": str(self.principal_remaining),
        }


# -- validation -----------------------------------------------------------------------------------


def _validate_principal(principal: object, what: str = "principal") -> Money:
    if not isinstance(principal, Money):
        raise InvalidAmountError(f"{what} must be Money, got {type(principal).__name__}")
    if not principal.is_positive:
        raise InvalidAmountError(f"{what} must be greater than zero, got {principal}")
    return principal


def _validate_term(term: object, what: str = "term_months") -> int:
    if isinstance(term, bool) or not isinstance(term, int):
        raise InvalidTermError(f"{what} must be an int, got {type(term).__name__}")
    if not MIN_TERM_MONTHS <= term <= MAX_TERM_MONTHS:
        raise InvalidTermError(
            f"{what} must be between {MIN_TERM_MONTHS} and {MAX_TERM_MONTHS}, got {term}"
        )
    return term


def _validate_rate(annual_rate: object) -> AnnualRate:
    if not isinstance(annual_rate, AnnualRate):
        raise InvalidRateError(
            f"annual_rate must be an AnnualRate, got {type(annual_rate).__name__}; "
            "use AnnualRate.of('0.049')"
        )
    return annual_rate


def _validate_day_count(day_count: object) -> DayCount:
    if isinstance(day_count, DayCount):
        return day_count
    known = ", ".join(convention.value for convention in DayCount)
    raise InvalidTermError(f"day_count must be one of {known}, got {day_count!r}")


def _validate_date(value: object, what: str) -> date:
    if not isinstance(value, date) or hasattr(value, "hour"):
        raise InvalidDateError(f"{what} must be a datetime.date, got {type(value).__name__}")
    return value


# -- the arithmetic -------------------------------------------------------------------------------


def is_regular_period(start: date, end: date) -> bool:
    """True when the period from `start` to `end` is exactly one calendar month (clamped)."""
    return end == add_months(start, 1)


def _first_period_rate(
    annual_rate: AnnualRate, start: date, first_due: date, day_count: DayCount
) -> Fraction:
    """The exact rate of the first period: annual / 12 if regular, else days / basis × annual."""
    if is_regular_period(start, first_due):
        return annual_rate.monthly_exact
    return annual_rate.exact * day_count.year_fraction_exact(start, first_due)


def _round_money(value: Fraction, like: Money, rounding: str) -> Money:
    return Money(round_to_minor(value, like.currency, rounding), like.currency)


def annuity_payment(
    principal: Money, annual_rate: AnnualRate, installments: int, rounding: str = ROUND_HALF_UP
) -> Money:
    """The level annuity payment P = round(A × r / (1 − (1 + r)^−n)), r = annual / 12.

    At a zero rate P = round(A / n). The formula is evaluated exactly in integers,
    A × r × (1 + r)^n / ((1 + r)^n − 1), and rounded once with `rounding` (HALF_UP by default),
    so the result is the correctly rounded value of the formula, independent of any precision.
    """
    _validate_principal(principal)
    _validate_rate(annual_rate)
    count = _validate_term(installments, "installments")
    validate_rounding(rounding)
    amount = Fraction(principal.amount)
    monthly = annual_rate.monthly_exact
    if monthly == 0:
        return _round_money(amount / count, principal, rounding)
    # With r = p/q and A = a/b: P = a p (q + p)^n / (b q ((q + p)^n − q^n)), all integers.
    p, q = monthly.numerator, monthly.denominator
    a, b = amount.numerator, amount.denominator
    grown = (q + p) ** count
    numerator = a * p * grown
    denominator = b * q * (grown - q**count)
    return Money(
        round_ratio(numerator, denominator, principal.currency, rounding), principal.currency
    )


def accrued_interest(
    principal: Money,
    annual_rate: AnnualRate,
    start: date,
    end: date,
    *,
    day_count: DayCount = DayCount.ACT_360,
    rounding: str = ROUND_HALF_UP,
) -> Money:
    """Interest on `principal` from `start` to `end` by day count: round(A × days / basis × rate).

    Use it to settle the interest of a broken period, for instance the interest accrued from the
    last due date to a prepayment date, which a re-amortised schedule does not include.
    """
    if not isinstance(principal, Money):
        raise InvalidAmountError(f"principal must be Money, got {type(principal).__name__}")
    _validate_rate(annual_rate)
    convention = _validate_day_count(day_count)
    validate_rounding(rounding)
    fraction = convention.year_fraction_exact(start, end)
    return _round_money(
        Fraction(principal.amount) * annual_rate.exact * fraction, principal, rounding
    )


UnitRow = tuple[int, date, int, int, int]
"""A generated row in whole minor units: number, due date, principal, interest, remaining."""


def _round_div(numerator: int, denominator: int, rounding: str) -> int:
    """numerator / denominator (denominator > 0) rounded to a whole number with `rounding`:
    ROUND_HALF_UP rounds a tie away from zero, ROUND_HALF_EVEN to the even neighbour. The same
    rule as `round_ratio`, on whole minor units instead of a Decimal."""
    quotient, remainder = divmod(abs(numerator), denominator)
    twice = 2 * remainder
    if twice > denominator or (
        twice == denominator and (rounding == ROUND_HALF_UP or quotient % 2 == 1)
    ):
        quotient += 1
    return -quotient if numerator < 0 else quotient


def _generated_row(
    number: int, due: date, principal: int, interest: int, remaining: int, currency: Currency
) -> Installment:
    """A row the generator made, from whole minor units. Its invariants hold by construction
    (checked here on the integers: nothing negative; installment = principal + interest is how
    it is built), so the row is assembled without the checks of `Installment.__post_init__`."""
    if principal < 0 or interest < 0 or remaining < 0:
        raise InvalidAmountError(f"installment {number} has a negative amount")
    row = object.__new__(Installment)
    _set_row_field(row, "number", number)
    _set_row_field(row, "due_date", due)
    _set_row_field(row, "principal", Money.of_minor(principal, currency))
    _set_row_field(row, "interest", Money.of_minor(interest, currency))
    _set_row_field(row, "installment", Money.of_minor(principal + interest, currency))
    _set_row_field(row, "principal_remaining", Money.of_minor(remaining, currency))
    return row


_set_row_field = object.__setattr__
"""Installment is frozen: the generator sets the fields of the rows it builds with this."""


def _generate_units(
    principal: Money,
    annual_rate: AnnualRate,
    count: int,
    method: RepaymentMethod,
    accrual_start: date,
    first_due: date,
    first_number: int,
    rounding: str,
    day_count: DayCount,
    *,
    level: Money | None = None,
    bullet_interest_by_term: bool = False,
) -> list[UnitRow]:
    """Rows for `principal` over `count` monthly installments, the first due on `first_due`.

    With `level` (keep-installment mode) `count` is the most installments allowed, the annuity
    payment (or, for equal_principal, the principal portion) is `level`, and the schedule stops at
    the row that clears the principal.

    The arithmetic is on whole minor units (fen), exactly: an amount times an exact rational
    rate p/q is rounded once, `_round_div(units × p, q, rounding)`, which is the fen-rounding of
    the exact product (the same figure `round_to_minor` gives for the product of the Decimal
    amount and the rate). Each row is (number, due date, principal, interest, principal
    remaining), the amounts in whole minor units; `_generate` builds Money for them.
    """
    if first_due <= accrual_start:
        raise InvalidDateError(
            f"the first due date {first_due.isoformat()} must be after the accrual start "
            f"{accrual_start.isoformat()}"
        )
    currency = principal.currency
    amount = principal.minor_units
    monthly = annual_rate.monthly_exact
    first_rate = _first_period_rate(annual_rate, accrual_start, first_due, day_count)
    monthly_p, monthly_q = monthly.numerator, monthly.denominator
    first_p, first_q = first_rate.numerator, first_rate.denominator
    first_is_regular = first_rate == monthly

    if method is RepaymentMethod.BULLET:
        if bullet_interest_by_term:
            years = Fraction(count, MONTHS_PER_YEAR)
            rate_for_term = annual_rate.exact * years
        else:
            rate_for_term = first_rate + monthly * (count - 1)
        interest = _round_div(amount * rate_for_term.numerator, rate_for_term.denominator, rounding)
        due = add_months(first_due, count - 1)
        return [(first_number, due, amount, interest, 0)]

    if method is RepaymentMethod.ANNUITY:
        payment = (
            level.minor_units
            if level is not None
            else annuity_payment(principal, annual_rate, count, rounding).minor_units
        )
    elif method is RepaymentMethod.EQUAL_PRINCIPAL:
        payment = level.minor_units if level is not None else _round_div(amount, count, rounding)
    else:
        payment = 0

    rows: list[UnitRow] = []
    remaining = amount
    paid_total = 0
    for k in range(1, count + 1):
        due = add_months(first_due, k - 1)
        if k == 1:
            interest = _round_div(remaining * first_p, first_q, rounding)
        else:
            interest = _round_div(remaining * monthly_p, monthly_q, rounding)
        last_allowed = k == count
        if method is RepaymentMethod.ANNUITY:
            # The first installment's principal is the regular portion even when its period is
            # irregular (DESIGN §7), so it is computed from the regular monthly interest.
            regular_interest = (
                interest
                if k > 1 or first_is_regular
                else _round_div(remaining * monthly_p, monthly_q, rounding)
            )
            portion = payment - regular_interest
            if level is not None and k == 1 and portion <= 0:
                raise InvalidAmountError(
                    f"installment {Money.of_minor(payment, currency)} does not cover the "
                    f"interest {Money.of_minor(regular_interest, currency)}, so the principal "
                    "would never be repaid"
                )
        elif method is RepaymentMethod.EQUAL_PRINCIPAL:
            portion = payment
        else:
            portion = 0
        if last_allowed or (level is not None and portion >= remaining):
            paid = remaining
        else:
            paid = min(max(portion, 0), remaining)
        remaining -= paid
        paid_total += paid
        if paid < 0 or interest < 0:
            raise InvalidAmountError(f"installment {first_number + k - 1} has a negative amount")
        rows.append((first_number + k - 1, due, paid, interest, remaining))
        if level is not None and remaining == 0:
            break

    # Invariants asserted in pairs: principal sums to the amount and nothing remains at the end.
    assert paid_total == amount
    assert remaining == 0
    return rows


def _generate(
    principal: Money,
    annual_rate: AnnualRate,
    count: int,
    method: RepaymentMethod,
    accrual_start: date,
    first_due: date,
    first_number: int,
    rounding: str,
    day_count: DayCount,
    *,
    level: Money | None = None,
    bullet_interest_by_term: bool = False,
) -> tuple[Installment, ...]:
    """`_generate_units`, as Installment rows."""
    currency = principal.currency
    return tuple(
        _generated_row(number, due, paid, interest, remaining, currency)
        for number, due, paid, interest, remaining in _generate_units(
            principal,
            annual_rate,
            count,
            method,
            accrual_start,
            first_due,
            first_number,
            rounding,
            day_count,
            level=level,
            bullet_interest_by_term=bullet_interest_by_term,
        )
    )


# -- origination ----------------------------------------------------------------------------------


def build_schedule(
    principal: Money,
    annual_rate: AnnualRate,
    term_months: int,
    method: RepaymentMethod | str,
    disbursed_on: date,
    repayment_day: int,
    *,
    rounding: str = ROUND_HALF_UP,
    day_count: DayCount = DayCount.ACT_360,
) -> tuple[Installment, ...]:
    """Build the contractual schedule of a loan disbursed on `disbursed_on` (DESIGN §7).

    Installment k is due on `repayment_day` k months after the disbursement month. The first
    period is regular when it is exactly one month long, else its interest is charged by
    `day_count` days over the basis (ACT/360 by default). A bullet loan has one installment at
    maturity with interest principal × annual_rate × term_months / 12 whatever the first period's
    length, because DESIGN §7 fixes that formula for origination.

    Refused: a principal that is not positive Money (InvalidAmountError), a term outside 1 to 600
    months or a repayment day outside 1 to 28 (InvalidTermError), an annual_rate that is not an
    AnnualRate (InvalidRateError), an unknown method (UnknownRepaymentMethodError), and a rounding
    other than ROUND_HALF_UP or ROUND_HALF_EVEN (InvalidRoundingError).
    """
    rows = _contract_units(
        principal,
        annual_rate,
        term_months,
        method,
        disbursed_on,
        repayment_day,
        rounding,
        day_count,
    )
    currency = principal.currency
    return tuple(
        _generated_row(number, due, paid, interest, remaining, currency)
        for number, due, paid, interest, remaining in rows
    )


def contract_amounts(
    principal: Money,
    annual_rate: AnnualRate,
    term_months: int,
    method: RepaymentMethod | str,
    disbursed_on: date,
    repayment_day: int,
    *,
    rounding: str = ROUND_HALF_UP,
    day_count: DayCount = DayCount.ACT_360,
) -> tuple[tuple[int, date, Decimal, Decimal], ...]:
    """`build_schedule`'s rows as (number, due date, principal, interest), the amounts exact
    Decimals at the minor unit: what a servicing walk needs, without building Money and
    Installment values for every row (the same generator and checks, so the same figures)."""
    rows = _contract_units(
        principal,
        annual_rate,
        term_months,
        method,
        disbursed_on,
        repayment_day,
        rounding,
        day_count,
    )
    places = principal.currency.minor_unit
    return tuple(
        (number, due, minor_to_decimal(paid, places), minor_to_decimal(interest, places))
        for number, due, paid, interest, _ in rows
    )


def _contract_units(
    principal: Money,
    annual_rate: AnnualRate,
    term_months: int,
    method: RepaymentMethod | str,
    disbursed_on: date,
    repayment_day: int,
    rounding: str,
    day_count: DayCount,
) -> list[UnitRow]:
    """The contract schedule in whole minor units, after `build_schedule`'s checks."""
    _validate_principal(principal)
    _validate_rate(annual_rate)
    term = _validate_term(term_months)
    chosen = parse_repayment_method(method)
    start = _validate_date(disbursed_on, "disbursed_on")
    day = validate_repayment_day(repayment_day)
    validate_rounding(rounding)
    convention = _validate_day_count(day_count)
    first_due = first_due_date(start, day)
    rows = _generate_units(
        principal,
        annual_rate,
        term,
        chosen,
        start,
        first_due,
        1,
        rounding,
        convention,
        bullet_interest_by_term=True,
    )
    # The maturity date is the date installment n has, for every method.
    assert rows[-1][1] == installment_due_date(start, day, term)
    return rows


# -- re-amortisation ------------------------------------------------------------------------------


def reamortise(
    principal: Money,
    annual_rate: AnnualRate,
    installments: int,
    method: RepaymentMethod | str,
    accrual_start: date,
    first_due_date: date,
    *,
    first_number: int,
    rounding: str = ROUND_HALF_UP,
    day_count: DayCount = DayCount.ACT_360,
) -> tuple[Installment, ...]:
    """Re-amortise `principal` over `installments` monthly installments, keeping that term.

    This is the building block of every re-amortisation. Interest accrues from `accrual_start`;
    the first installment is due on `first_due_date` and the next ones on the same day of each
    following month; rows are numbered from `first_number`. The first period follows the same
    regular/irregular rule as at origination: regular when `first_due_date` is exactly one month
    after `accrual_start` (for instance when re-amortising from a due date), otherwise charged by
    `day_count` days. A bullet re-amortisation charges its first period by the same rule and the
    remaining installments - 1 months at annual / 12, so that a stub is never charged as a whole
    month twice.
    """
    _validate_principal(principal)
    _validate_rate(annual_rate)
    count = _validate_term(installments, "installments")
    chosen = parse_repayment_method(method)
    start = _validate_date(accrual_start, "accrual_start")
    first_due = _validate_date(first_due_date, "first_due_date")
    validate_repayment_day(first_due.day)
    number = _validate_first_number(first_number)
    validate_rounding(rounding)
    convention = _validate_day_count(day_count)
    return _generate(
        principal, annual_rate, count, chosen, start, first_due, number, rounding, convention
    )


def shorten_term(
    principal: Money,
    annual_rate: AnnualRate,
    max_installments: int,
    method: RepaymentMethod | str,
    accrual_start: date,
    first_due_date: date,
    level: Money,
    *,
    first_number: int,
    rounding: str = ROUND_HALF_UP,
    day_count: DayCount = DayCount.ACT_360,
) -> tuple[Installment, ...]:
    """Re-amortise `principal` keeping the installment, so that the term shortens.

    For `annuity`, `level` is the installment kept: each row pays `level` (principal = level −
    interest) until the row whose principal portion would reach the outstanding, which takes the
    rest and ends the schedule. For `equal_principal`, `level` is the principal portion kept.
    The schedule never runs past `max_installments`; the row there takes whatever remains. The
    first period follows the regular/irregular rule of `reamortise`, and an irregular first
    annuity row takes the regular principal portion, as at origination. Other methods have no
    level amount to keep and are refused with InvalidTermError.
    """
    _validate_principal(principal)
    _validate_rate(annual_rate)
    count = _validate_term(max_installments, "max_installments")
    chosen = parse_repayment_method(method)
    if chosen not in (RepaymentMethod.ANNUITY, RepaymentMethod.EQUAL_PRINCIPAL):
        raise InvalidTermError(
            f"keeping the installment applies only to annuity and equal_principal, not {chosen}"
        )
    _validate_principal(level, "level")
    if level.currency != principal.currency:
        raise CurrencyMismatchError(
            f"level is in {level.currency.code} but principal is in {principal.currency.code}"
        )
    start = _validate_date(accrual_start, "accrual_start")
    first_due = _validate_date(first_due_date, "first_due_date")
    validate_repayment_day(first_due.day)
    number = _validate_first_number(first_number)
    validate_rounding(rounding)
    convention = _validate_day_count(day_count)
    return _generate(
        principal,
        annual_rate,
        count,
        chosen,
        start,
        first_due,
        number,
        rounding,
        convention,
        level=level,
    )


def _validate_first_number(first_number: object) -> int:
    if isinstance(first_number, bool) or not isinstance(first_number, int) or first_number < 1:
        raise InvalidTermError(f"first_number must be an int of 1 or more, got {first_number!r}")
    return first_number


def _validate_schedule(schedule: Sequence[Installment]) -> tuple[Installment, ...]:
    rows = tuple(schedule)
    if not rows:
        raise InvalidTermError("schedule must have at least one installment")
    if not all(isinstance(row, Installment) for row in rows):
        raise InvalidTermError("schedule rows must be Installment values")
    for before, after in pairwise(rows):
        if after.number != before.number + 1 or after.due_date <= before.due_date:
            raise InvalidTermError(
                f"schedule rows must be numbered consecutively with rising due dates; "
                f"row {after.number} follows row {before.number}"
            )
        if before.principal_remaining - after.principal != after.principal_remaining:
            raise InvalidTermError(
                f"schedule row {after.number}: principal_remaining does not follow from row "
                f"{before.number}"
            )
    return rows


def _opening_principal(rows: tuple[Installment, ...]) -> Money:
    return rows[0].principal + rows[0].principal_remaining


def _outstanding_after(rows: tuple[Installment, ...], on: date) -> tuple[Money, int]:
    """Scheduled principal outstanding after every row due on or before `on`, and how many."""
    kept = sum(1 for row in rows if row.due_date <= on)
    outstanding = rows[kept - 1].principal_remaining if kept else _opening_principal(rows)
    return outstanding, kept


def _notional_months(maturity: date, after: date) -> tuple[date, int]:
    """For a bullet loan: the first monthly date on the maturity's day after `after`, and the
    number of monthly dates from it through maturity."""
    months = 1
    while add_months(maturity, -months) > after:
        months += 1
    return add_months(maturity, -(months - 1)), months


def reamortise_after_prepayment(
    schedule: Sequence[Installment],
    prepaid_on: date,
    prepayment: Money,
    annual_rate: AnnualRate,
    method: RepaymentMethod | str,
    *,
    keep: Keep | str = Keep.TERM,
    level: Money | None = None,
    rounding: str = ROUND_HALF_UP,
    day_count: DayCount = DayCount.ACT_360,
) -> tuple[Installment, ...]:
    """The rows that replace a schedule's remaining rows after a prepayment (提前还款).

    Convention: a prepayment reduces principal at once (DESIGN §7), so the re-amortised schedule
    accrues interest on the reduced principal from `prepaid_on`. Rows due on or before
    `prepaid_on` stay as they are (an installment due on the prepayment day is taken as paid
    first); the reduced principal is the scheduled outstanding after them minus `prepayment`. The
    first new row is due on the old schedule's next due date and keeps its number; its period,
    from `prepaid_on`, is regular when the prepayment falls on a due date and otherwise irregular
    (charged by `day_count` days). The interest accrued from the last due date to `prepaid_on` on
    the old principal is not in these rows: settle it with the prepayment (`accrued_interest`).

    `keep="term"` (the DESIGN §7 default) keeps the number of installments and lowers them;
    `keep="installment"` keeps the installment and shortens the term (`shorten_term`). The kept
    level is `level` if given, else the installment of the schedule's last-but-one row (annuity,
    at least three rows) or the principal of its last-but-one row (equal_principal).

    A prepayment of the whole outstanding returns no rows (the loan is repaid). Refused: a
    prepayment that is not positive or exceeds the outstanding (InvalidAmountError), a prepayment
    date after the last due date (InvalidDateError).
    """
    rows = _validate_schedule(schedule)
    on = _validate_date(prepaid_on, "prepaid_on")
    _validate_principal(prepayment, "prepayment")
    _validate_rate(annual_rate)
    chosen = parse_repayment_method(method)
    mode = _parse_keep(keep)
    if on >= rows[-1].due_date:
        raise InvalidDateError(
            f"prepayment on {on.isoformat()} is not before the last due date "
            f"{rows[-1].due_date.isoformat()}; nothing remains to re-amortise"
        )
    outstanding, kept = _outstanding_after(rows, on)
    if prepayment > outstanding:
        raise InvalidAmountError(
            f"prepayment {prepayment} exceeds the outstanding principal {outstanding}"
        )
    reduced = outstanding - prepayment
    if reduced.is_zero:
        return ()
    next_row = rows[kept]
    if chosen is RepaymentMethod.BULLET:
        first_due, count = _notional_months(rows[-1].due_date, on)
    else:
        first_due, count = next_row.due_date, len(rows) - kept
    if mode is Keep.TERM:
        return reamortise(
            reduced,
            annual_rate,
            count,
            chosen,
            on,
            first_due,
            first_number=next_row.number,
            rounding=rounding,
            day_count=day_count,
        )
    if level is None:
        level = _level_of(rows, chosen)
    return shorten_term(
        reduced,
        annual_rate,
        count,
        chosen,
        on,
        first_due,
        level,
        first_number=next_row.number,
        rounding=rounding,
        day_count=day_count,
    )


def _parse_keep(keep: object) -> Keep:
    if isinstance(keep, Keep):
        return keep
    if isinstance(keep, str):
        for mode in Keep:
            if mode.value == keep:
                return mode
    raise InvalidTermError(f"keep must be 'term' or 'installment', got {keep!r}")


def _level_of(rows: tuple[Installment, ...], method: RepaymentMethod) -> Money:
    if method is RepaymentMethod.ANNUITY and len(rows) >= 3:
        return rows[-2].installment
    if method is RepaymentMethod.EQUAL_PRINCIPAL and len(rows) >= 2:
        return rows[-2].principal
    if method in (RepaymentMethod.ANNUITY, RepaymentMethod.EQUAL_PRINCIPAL):
        raise InvalidTermError(
            "the schedule is too short to read a level amount from; pass level= explicitly"
        )
    raise InvalidTermError(
        f"keeping the installment applies only to annuity and equal_principal, not {method}"
    )


def reamortise_after_rate_change(
    schedule: Sequence[Installment],
    effective_on: date,
    new_rate: AnnualRate,
    method: RepaymentMethod | str,
    *,
    rounding: str = ROUND_HALF_UP,
    day_count: DayCount = DayCount.ACT_360,
) -> tuple[Installment, ...]:
    """The rows that replace a schedule's remaining rows after a rate change (利率调整, repricing).

    Convention: the new rate applies from the first due date on or after `effective_on`. The
    period in progress on `effective_on` keeps the old rate to its due date, and every later
    period is re-amortised at the new rate over the same number of installments. This keeps each
    period at one rate, so every re-amortised period is regular (it starts on a due date and is
    one month long) and its interest is exactly round(outstanding × new_rate / 12); splitting a
    period between two rates would need a mixed-rate rule DESIGN §7 does not define.

    Returns no rows when the change takes effect only on the last due date. Refused: an effective
    date after the last due date (InvalidDateError). Bullet schedules have a single period; use
    `reamortise` with explicit dates for them (InvalidTermError).
    """
    rows = _validate_schedule(schedule)
    on = _validate_date(effective_on, "effective_on")
    _validate_rate(new_rate)
    chosen = parse_repayment_method(method)
    if chosen is RepaymentMethod.BULLET:
        raise InvalidTermError(
            "a bullet schedule has a single period; re-amortise it with reamortise() and explicit "
            "dates"
        )
    if on > rows[-1].due_date:
        raise InvalidDateError(
            f"rate change on {on.isoformat()} is after the last due date "
            f"{rows[-1].due_date.isoformat()}"
        )
    boundary = next(index for index, row in enumerate(rows) if row.due_date >= on)
    if boundary == len(rows) - 1:
        return ()
    anchor = rows[boundary]
    if anchor.principal_remaining.is_zero:
        return ()
    return reamortise(
        anchor.principal_remaining,
        new_rate,
        len(rows) - boundary - 1,
        chosen,
        anchor.due_date,
        rows[boundary + 1].due_date,
        first_number=anchor.number + 1,
        rounding=rounding,
        day_count=day_count,
    )


def reamortise_after_restructure(
    schedule: Sequence[Installment],
    effective_on: date,
    installments: int,
    annual_rate: AnnualRate,
    method: RepaymentMethod | str,
    *,
    principal: Money | None = None,
    first_due_date: date | None = None,
    rounding: str = ROUND_HALF_UP,
    day_count: DayCount = DayCount.ACT_360,
) -> tuple[Installment, ...]:
    """The rows that replace a schedule's remaining rows after a restructure (重组, e.g. 展期).

    Convention: a restructure replaces the contract from the day it takes effect, like a
    prepayment: rows due on or before `effective_on` stay, and the new terms accrue from
    `effective_on`. The new schedule has `installments` installments (the new remaining term) at
    `annual_rate` with `method`; the first is due on `first_due_date`, by default the old
    schedule's next due date after `effective_on` (for a one-row schedule such as a bullet loan,
    the first date after `effective_on` on its maturity's day of the month). Its period follows
    the regular/irregular rule: regular when `effective_on` is a due
    date. `principal` defaults to the scheduled outstanding after the kept rows; pass it when
    arrears or accrued interest are capitalised. Rows are numbered on from the kept rows.
    Refused: an effective date on or after the last due date (InvalidDateError).
    """
    rows = _validate_schedule(schedule)
    on = _validate_date(effective_on, "effective_on")
    if on >= rows[-1].due_date:
        raise InvalidDateError(
            f"restructure on {on.isoformat()} is not before the last due date "
            f"{rows[-1].due_date.isoformat()}"
        )
    outstanding, kept = _outstanding_after(rows, on)
    amount = outstanding if principal is None else principal
    if first_due_date is not None:
        first_due = first_due_date
    elif len(rows) > 1:
        first_due = rows[kept].due_date
    else:
        first_due, _ = _notional_months(rows[0].due_date, on)
    return reamortise(
        amount,
        annual_rate,
        installments,
        method,
        on,
        first_due,
        first_number=rows[kept].number,
        rounding=rounding,
        day_count=day_count,
    )
