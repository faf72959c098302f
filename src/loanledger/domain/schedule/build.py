"""Building a schedule: interest for a period, the level annuity payment, the rows of a new
schedule (`build_schedule`) and the contract's amounts in minor units.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from loanledger.domain.calendar import (
    add_months,
    first_due_date,
    installment_due_date,
    validate_repayment_day,
)
from loanledger.domain.errors import (
    InvalidAmountError,
    InvalidDateError,
)
from loanledger.domain.money import (
    Currency,
    Money,
    minor_to_decimal,
    round_ratio,
    round_to_minor,
    validate_rounding,
)
from loanledger.domain.products.calendars import BusinessCalendar
from loanledger.domain.rates import MONTHS_PER_YEAR, AnnualRate, DayCount
from loanledger.domain.schedule.rows import (
    Installment,
    RepaymentMethod,
    parse_repayment_method,
    validate_date,
    validate_day_count,
    validate_principal,
    validate_rate,
    validate_term,
)


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
    validate_principal(principal)
    validate_rate(annual_rate)
    count = validate_term(installments, "installments")
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
    validate_rate(annual_rate)
    convention = validate_day_count(day_count)
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
    calendar: BusinessCalendar | None = None,
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

    With `calendar`, `first_due` is the contractual (unadjusted) first due date and each due date
    is the calendar's adjustment of the contractual one (`_generate_adjusted`).
    """
    if calendar is not None:
        return _generate_adjusted(
            principal,
            annual_rate,
            count,
            method,
            accrual_start,
            first_due,
            first_number,
            rounding,
            day_count,
            calendar,
            level=level,
            bullet_interest_by_term=bullet_interest_by_term,
        )
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

    payment = _level_payment(method, principal, annual_rate, count, rounding, level)

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
        # The first installment's principal is the regular portion even when its period is
        # irregular (DESIGN §7), so it is computed from the regular monthly interest.
        regular_interest = (
            interest
            if k > 1 or first_is_regular
            else _round_div(remaining * monthly_p, monthly_q, rounding)
        )
        paid = _principal_paid(
            method, payment, regular_interest, remaining, k, last_allowed, level, currency
        )
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


def generate_rows(
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
    calendar: BusinessCalendar | None = None,
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
            calendar=calendar,
        )
    )


def _generate_adjusted(
    principal: Money,
    annual_rate: AnnualRate,
    count: int,
    method: RepaymentMethod,
    accrual_start: date,
    first_due: date,
    first_number: int,
    rounding: str,
    day_count: DayCount,
    calendar: BusinessCalendar,
    *,
    level: Money | None,
    bullet_interest_by_term: bool,
) -> list[UnitRow]:
    """`_generate_units` with due dates moved by a holiday calendar (issue 19 item 6).

    Each period runs from the previous adjusted due date (or `accrual_start`) to this one: a
    period of exactly one month is charged annual / 12, any other by `day_count` days. So the
    days a due date moves are charged once, in the period it ends, and the next period starts at
    the moved date. An annuity row's principal is the regular portion (level payment − the
    regular monthly interest), as for an irregular first period, so principal still sums exactly
    and only the interest of a moved period differs. A bullet loan's interest by term (the
    origination formula) adds (or, moved earlier, takes off) the days its maturity moved.
    """
    nominal = [add_months(first_due, k) for k in range(count)]
    moved = [calendar.adjust(day) for day in nominal]
    if moved[0] <= accrual_start:
        raise InvalidDateError(
            f"the first due date {moved[0].isoformat()} must be after the accrual start "
            f"{accrual_start.isoformat()}"
        )
    currency = principal.currency
    amount = principal.minor_units
    monthly = annual_rate.monthly_exact

    def period_rate(start: date, end: date) -> Fraction:
        return _first_period_rate(annual_rate, start, end, day_count)

    if method is RepaymentMethod.BULLET:
        if bullet_interest_by_term:
            rate_for_term = annual_rate.exact * Fraction(count, MONTHS_PER_YEAR)
            if moved[-1] > nominal[-1]:
                rate_for_term += annual_rate.exact * day_count.year_fraction_exact(
                    nominal[-1], moved[-1]
                )
            elif moved[-1] < nominal[-1]:
                rate_for_term -= annual_rate.exact * day_count.year_fraction_exact(
                    moved[-1], nominal[-1]
                )
        else:
            # Interest accrues to the moved maturity: the contractual months, then the days.
            before = nominal[-2] if count > 1 else accrual_start
            rate_for_term = (
                (period_rate(accrual_start, nominal[0]) if count > 1 else Fraction(0))
                + monthly * max(count - 2, 0)
                + period_rate(before, moved[-1])
            )
        interest = _round_div(amount * rate_for_term.numerator, rate_for_term.denominator, rounding)
        return [(first_number, moved[-1], amount, interest, 0)]

    payment = _level_payment(method, principal, annual_rate, count, rounding, level)

    rows: list[UnitRow] = []
    remaining = amount
    paid_total = 0
    start = accrual_start
    for k in range(1, count + 1):
        due = moved[k - 1]
        rate = period_rate(start, due)
        interest = _round_div(remaining * rate.numerator, rate.denominator, rounding)
        regular_interest = (
            interest
            if rate == monthly
            else _round_div(remaining * monthly.numerator, monthly.denominator, rounding)
        )
        paid = _principal_paid(
            method, payment, regular_interest, remaining, k, k == count, level, currency
        )
        remaining -= paid
        paid_total += paid
        if paid < 0 or interest < 0:
            raise InvalidAmountError(f"installment {first_number + k - 1} has a negative amount")
        rows.append((first_number + k - 1, due, paid, interest, remaining))
        start = due
        if level is not None and remaining == 0:
            break

    # Invariants asserted in pairs: principal sums to the amount and nothing remains at the end.
    assert paid_total == amount
    assert remaining == 0
    return rows


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
    calendar: BusinessCalendar | None = None,
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
        calendar,
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
    calendar: BusinessCalendar | None = None,
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
        calendar,
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
    calendar: BusinessCalendar | None = None,
) -> list[UnitRow]:
    """The contract schedule in whole minor units, after `build_schedule`'s checks."""
    validate_principal(principal)
    validate_rate(annual_rate)
    term = validate_term(term_months)
    chosen = parse_repayment_method(method)
    start = validate_date(disbursed_on, "disbursed_on")
    day = validate_repayment_day(repayment_day)
    validate_rounding(rounding)
    convention = validate_day_count(day_count)
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
        calendar=calendar,
    )
    # The maturity date is the date installment n has, for every method.
    maturity = installment_due_date(start, day, term)
    assert rows[-1][1] == (calendar.adjust(maturity) if calendar is not None else maturity)
    return rows


# -- re-amortisation ------------------------------------------------------------------------------


def _level_payment(
    method: RepaymentMethod,
    principal: Money,
    annual_rate: AnnualRate,
    count: int,
    rounding: str,
    level: Money | None,
) -> int:
    """The level amount each row repays, in minor units: the annuity's installment or the equal
    principal share (`level` when a re-amortisation keeps it), 0 for interest-only rows."""
    if method is RepaymentMethod.ANNUITY:
        if level is not None:
            return level.minor_units
        return annuity_payment(principal, annual_rate, count, rounding).minor_units
    if method is RepaymentMethod.EQUAL_PRINCIPAL:
        if level is not None:
            return level.minor_units
        return _round_div(principal.minor_units, count, rounding)
    return 0


def _principal_paid(
    method: RepaymentMethod,
    payment: int,
    regular_interest: int,
    remaining: int,
    k: int,
    last: bool,
    level: Money | None,
    currency: Currency,
) -> int:
    """The principal row `k` repays, in minor units: an annuity's level payment less the regular
    month's interest, the equal-principal share, nothing for interest-only rows; all that remains
    on the last row (or once a kept `level` covers it). A kept installment that does not cover
    the first row's interest is refused: the principal would never be repaid."""
    if method is RepaymentMethod.ANNUITY:
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
    if last or (level is not None and portion >= remaining):
        return remaining
    return min(max(portion, 0), remaining)
