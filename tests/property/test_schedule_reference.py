"""The schedule generator computes in whole minor units; these properties compare it with the
previous generator, kept here verbatim as the reference: `Money` and exact `Fraction` arithmetic,
each amount rounded once with `round_to_minor`. Every row must agree to the fen (and print the
same), for every method, rate, term, rounding, day count, currency and first period, regular or
irregular, at origination, re-amortisation and keep-installment re-amortisation alike.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loanledger.domain.calendar import add_months, first_due_date
from loanledger.domain.errors import InvalidAmountError
from loanledger.domain.money import Money, round_to_minor, total
from loanledger.domain.rates import MONTHS_PER_YEAR, AnnualRate, DayCount
from loanledger.domain.schedule import (
    Installment,
    RepaymentMethod,
    annuity_payment,
    build_schedule,
    contract_amounts,
    reamortise,
    shorten_term,
)

# -- the reference: the generator as it was before it computed in whole fen ----------------------


def _reference_first_period_rate(
    annual_rate: AnnualRate, start: date, first_due: date, day_count: DayCount
) -> Fraction:
    if first_due == add_months(start, 1):
        return annual_rate.monthly_exact
    return annual_rate.exact * day_count.year_fraction_exact(start, first_due)


def _round_money(value: Fraction, like: Money, rounding: str) -> Money:
    return Money(round_to_minor(value, like.currency, rounding), like.currency)


def _row(
    number: int, due: date, principal: Money, interest: Money, remaining: Money
) -> Installment:
    return Installment(
        number=number,
        due_date=due,
        principal=principal,
        interest=interest,
        installment=principal + interest,
        principal_remaining=remaining,
    )


def reference_generate(
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
    monthly = annual_rate.monthly_exact
    first_rate = _reference_first_period_rate(annual_rate, accrual_start, first_due, day_count)
    zero = Money.zero(principal.currency)

    if method is RepaymentMethod.BULLET:
        if bullet_interest_by_term:
            years = Fraction(count, MONTHS_PER_YEAR)
            rate_for_term = annual_rate.exact * years
        else:
            rate_for_term = first_rate + monthly * (count - 1)
        interest = _round_money(Fraction(principal.amount) * rate_for_term, principal, rounding)
        due = add_months(first_due, count - 1)
        return (_row(first_number, due, principal, interest, zero),)

    if method is RepaymentMethod.ANNUITY:
        payment = (
            level if level is not None else annuity_payment(principal, annual_rate, count, rounding)
        )
    elif method is RepaymentMethod.EQUAL_PRINCIPAL:
        payment = (
            level
            if level is not None
            else _round_money(Fraction(principal.amount) / count, principal, rounding)
        )
    else:
        payment = zero

    rows: list[Installment] = []
    remaining = principal
    for k in range(1, count + 1):
        due = add_months(first_due, k - 1)
        period_rate = first_rate if k == 1 else monthly
        interest = _round_money(Fraction(remaining.amount) * period_rate, principal, rounding)
        last_allowed = k == count
        if method is RepaymentMethod.ANNUITY:
            regular_interest = (
                interest
                if period_rate == monthly
                else _round_money(Fraction(remaining.amount) * monthly, principal, rounding)
            )
            portion = payment - regular_interest
            if level is not None and k == 1 and not portion.is_positive:
                raise InvalidAmountError(
                    f"installment {payment} does not cover the interest {regular_interest}, so "
                    "the principal would never be repaid"
                )
        elif method is RepaymentMethod.EQUAL_PRINCIPAL:
            portion = payment
        else:
            portion = zero
        if last_allowed or (level is not None and portion >= remaining):
            paid = remaining
        else:
            paid = min(max(portion, zero), remaining)
        remaining = remaining - paid
        rows.append(_row(first_number + k - 1, due, paid, interest, remaining))
        if level is not None and remaining.is_zero:
            break

    assert total((row.principal for row in rows), principal.currency) == principal
    assert rows[-1].principal_remaining.is_zero
    return tuple(rows)


# -- the properties -------------------------------------------------------------------------------

currencies = st.sampled_from(["CNY", "JPY"])
units = st.integers(min_value=1, max_value=10_000_000_00)
# Rates in hundredths of a percent (0% to 24%) and, less often, with many more places.
rates = st.one_of(
    st.integers(min_value=0, max_value=2400).map(lambda bp: f"0.{bp:04d}"),
    st.integers(min_value=0, max_value=10**12).map(lambda n: f"0.{n:012d}"),
)
terms = st.integers(min_value=1, max_value=600)
short_terms = st.integers(min_value=1, max_value=60)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))
repayment_days = st.integers(min_value=1, max_value=28)
methods = st.sampled_from(list(RepaymentMethod))
roundings = st.sampled_from([ROUND_HALF_UP, ROUND_HALF_EVEN])
day_counts = st.sampled_from(list(DayCount))


def money(units: int, code: str) -> Money:
    return Money.of_minor(units, code)


def printed(rows: tuple[Installment, ...]) -> list[dict[str, str | int]]:
    return [row.as_row() for row in rows]


def same(new: tuple[Installment, ...], old: tuple[Installment, ...]) -> None:
    assert new == old
    assert printed(new) == printed(old)  # the same places, not only equal values
    for row in new:
        amounts = (row.principal, row.interest, row.installment, row.principal_remaining)
        assert all(Money(amount.amount, amount.currency) == amount for amount in amounts)


@given(units, currencies, rates, terms, methods, days, repayment_days, roundings, day_counts)
def test_origination_matches_the_reference(
    amount: int,
    code: str,
    annual: str,
    term: int,
    method: RepaymentMethod,
    disbursed_on: date,
    day: int,
    rounding: str,
    day_count: DayCount,
) -> None:
    principal, rate = money(amount, code), AnnualRate.of(annual)
    new = build_schedule(
        principal, rate, term, method, disbursed_on, day, rounding=rounding, day_count=day_count
    )
    first_due = first_due_date(disbursed_on, day)
    old = reference_generate(
        principal,
        rate,
        term,
        method,
        disbursed_on,
        first_due,
        1,
        rounding,
        day_count,
        bullet_interest_by_term=True,
    )
    same(new, old)


@given(
    units,
    currencies,
    rates,
    short_terms,
    methods,
    days,
    st.integers(min_value=1, max_value=70),
    repayment_days,
    st.integers(min_value=1, max_value=400),
    roundings,
    day_counts,
)
def test_reamortisation_with_any_first_period_matches_the_reference(
    amount: int,
    code: str,
    annual: str,
    count: int,
    method: RepaymentMethod,
    start: date,
    gap: int,
    day: int,
    first_number: int,
    rounding: str,
    day_count: DayCount,
) -> None:
    principal, rate = money(amount, code), AnnualRate.of(annual)
    first_due = (start + timedelta(days=gap)).replace(day=day)
    if first_due <= start:
        first_due = add_months(first_due, 1)
    new = reamortise(
        principal,
        rate,
        count,
        method,
        start,
        first_due,
        first_number=first_number,
        rounding=rounding,
        day_count=day_count,
    )
    old = reference_generate(
        principal, rate, count, method, start, first_due, first_number, rounding, day_count
    )
    same(new, old)


@given(
    units,
    currencies,
    rates,
    short_terms,
    st.sampled_from([RepaymentMethod.ANNUITY, RepaymentMethod.EQUAL_PRINCIPAL]),
    days,
    st.integers(min_value=1, max_value=70),
    repayment_days,
    st.integers(min_value=1, max_value=10_000_000_00),
    roundings,
    day_counts,
)
def test_keeping_the_installment_matches_the_reference(
    amount: int,
    code: str,
    annual: str,
    count: int,
    method: RepaymentMethod,
    start: date,
    gap: int,
    day: int,
    level_units: int,
    rounding: str,
    day_count: DayCount,
) -> None:
    principal, rate, level = money(amount, code), AnnualRate.of(annual), money(level_units, code)
    first_due = (start + timedelta(days=gap)).replace(day=day)
    if first_due <= start:
        first_due = add_months(first_due, 1)
    try:
        old = reference_generate(
            principal, rate, count, method, start, first_due, 1, rounding, day_count, level=level
        )
    except InvalidAmountError as refusal:
        with pytest.raises(InvalidAmountError) as raised:
            shorten_term(
                principal,
                rate,
                count,
                method,
                start,
                first_due,
                level,
                first_number=1,
                rounding=rounding,
                day_count=day_count,
            )
        assert str(raised.value) == str(refusal)
        return
    new = shorten_term(
        principal,
        rate,
        count,
        method,
        start,
        first_due,
        level,
        first_number=1,
        rounding=rounding,
        day_count=day_count,
    )
    same(new, old)


@given(units, currencies, rates, terms, methods, days, repayment_days, roundings, day_counts)
def test_contract_amounts_are_the_schedule_s_amounts(
    amount: int,
    code: str,
    annual: str,
    term: int,
    method: RepaymentMethod,
    disbursed_on: date,
    day: int,
    rounding: str,
    day_count: DayCount,
) -> None:
    """What a servicing walk starts from: the rows of `build_schedule`, without Money."""
    principal, rate = money(amount, code), AnnualRate.of(annual)
    rows = build_schedule(
        principal, rate, term, method, disbursed_on, day, rounding=rounding, day_count=day_count
    )
    amounts = contract_amounts(
        principal, rate, term, method, disbursed_on, day, rounding=rounding, day_count=day_count
    )
    expected = [
        (row.number, row.due_date, row.principal.amount, row.interest.amount) for row in rows
    ]
    assert list(amounts) == expected
    assert [(str(paid), str(interest)) for _, _, paid, interest in amounts] == [
        (str(row.principal), str(row.interest)) for row in rows
    ]


def test_whole_minor_units_round_trip() -> None:
    assert Money.of_minor(12345) == Money.of("123.45")
    assert str(Money.of_minor(0)) == "0.00"
    assert str(Money.of_minor(-5)) == "-0.05"
    assert str(Money.of_minor(7, "JPY")) == "7"
    assert Money.of("123.45").minor_units == 12345
    assert Money.of("-0.05").minor_units == -5
    with pytest.raises(InvalidAmountError):
        Money.of_minor(True)
