"""Properties every schedule keeps, whatever the amount, rate, term, dates and method.

The examples are bounded by the project's hypothesis profile (tests/conftest.py); none of these
tests raises max_examples above it.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from itertools import pairwise

from hypothesis import assume, given
from hypothesis import strategies as st

from loanledger.domain.calendar import add_months, first_due_date, installment_due_date
from loanledger.domain.money import Money, total
from loanledger.domain.rates import AnnualRate
from loanledger.domain.schedule import (
    Installment,
    Keep,
    RepaymentMethod,
    annuity_payment,
    build_schedule,
    reamortise_after_prepayment,
    reamortise_after_rate_change,
)

FEN = Decimal("0.01")


def fen_string(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


principals = st.integers(min_value=1, max_value=10_000_000_00).map(fen_string)
realistic_principals = st.integers(min_value=1_000_00, max_value=10_000_000_00).map(fen_string)
# Rates in hundredths of a percent, 0% to 24%, written as exact decimal strings.
rates = st.integers(min_value=0, max_value=2400).map(lambda bp: f"0.{bp:04d}")
terms = st.integers(min_value=1, max_value=600)
disbursement_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))
repayment_days = st.integers(min_value=1, max_value=28)
methods = st.sampled_from(list(RepaymentMethod))


def build(
    amount: str, annual: str, term: int, method: RepaymentMethod, disbursed_on: date, day: int
) -> tuple[Installment, ...]:
    return build_schedule(Money.of(amount), AnnualRate.of(annual), term, method, disbursed_on, day)


def half_up(numerator: Decimal, denominator: int) -> Decimal:
    """round(numerator / denominator) to the fen, half-up, in a 60-digit context.

    The product feeding `numerator` has at most 17 digits, so 60 digits hold the quotient far
    beyond where a tie could be confused with a near-tie.
    """
    with localcontext() as context:
        context.prec = 60
        return (numerator / denominator).quantize(FEN, rounding=ROUND_HALF_UP)


def is_regular_first(disbursed_on: date, day: int) -> bool:
    return first_due_date(disbursed_on, day) == add_months(disbursed_on, 1)


def drift_bound(annual: str, term: int) -> Fraction:
    """The most the rounding can move the outstanding by the last row: each row's payment and
    interest are each off by at most half a fen, compounding at the monthly rate."""
    monthly = Fraction(Decimal(annual)) / 12
    if monthly == 0:
        return Fraction(term, 100)
    return Fraction(1, 100) * ((1 + monthly) ** term - 1) / monthly


@given(principals, rates, terms, methods, disbursement_dates, repayment_days)
def test_principal_sums_exactly_to_the_amount_and_never_goes_negative(
    amount: str, annual: str, term: int, method: RepaymentMethod, disbursed_on: date, day: int
) -> None:
    rows = build(amount, annual, term, method, disbursed_on, day)
    assert total(row.principal for row in rows) == Money.of(amount)
    assert all(not row.principal_remaining.is_negative for row in rows)
    assert all(not row.principal.is_negative and not row.interest.is_negative for row in rows)
    assert rows[-1].principal_remaining == Money.zero()
    assert str(rows[-1].principal_remaining) == "0.00"
    assert len(rows) == (1 if method is RepaymentMethod.BULLET else term)
    assert rows[-1].due_date == installment_due_date(disbursed_on, day, term)
    running = Money.of(amount)
    for number, row in enumerate(rows, start=1):
        running = running - row.principal
        assert row.number == number
        assert row.principal_remaining == running
        assert row.installment == row.principal + row.interest


@given(principals, rates, terms, methods, disbursement_dates, repayment_days)
def test_every_regular_period_charges_the_rounded_monthly_interest_on_the_outstanding(
    amount: str, annual: str, term: int, method: RepaymentMethod, disbursed_on: date, day: int
) -> None:
    assume(method is not RepaymentMethod.BULLET)
    rows = build(amount, annual, term, method, disbursed_on, day)
    rate = Decimal(annual)
    outstanding = Decimal(amount)
    for row in rows:
        if row.number == 1 and not is_regular_first(disbursed_on, day):
            days = (row.due_date - disbursed_on).days
            assert row.interest.amount == half_up(outstanding * rate * days, 360)
        else:
            assert row.interest.amount == half_up(outstanding * rate, 12)
        outstanding -= row.principal.amount


@given(realistic_principals, rates, terms, disbursement_dates, repayment_days)
def test_annuity_installments_are_level_except_an_irregular_first_and_the_last(
    amount: str, annual: str, term: int, disbursed_on: date, day: int
) -> None:
    level = annuity_payment(Money.of(amount), AnnualRate.of(annual), term)
    # Where rounding could exhaust the principal early (tiny payments over long terms at high
    # rates) the rows after it carry 0.00 instead; that case has its own unit test.
    assume(4 * drift_bound(annual, term) <= Fraction(level.amount))
    rows = build(amount, annual, term, RepaymentMethod.ANNUITY, disbursed_on, day)
    first_level = 0 if is_regular_first(disbursed_on, day) else 1
    assert {row.installment for row in rows[first_level:-1]} <= {level}
    if term > 1:
        assert rows[0].principal == level - Money.of(half_up(Decimal(amount) * Decimal(annual), 12))


@given(principals, rates, terms, disbursement_dates, repayment_days)
def test_equal_principal_installments_do_not_rise_after_the_first(
    amount: str, annual: str, term: int, disbursed_on: date, day: int
) -> None:
    rows = build(amount, annual, term, RepaymentMethod.EQUAL_PRINCIPAL, disbursed_on, day)
    middle = rows[1:-1]
    for before, after in pairwise(middle):
        assert after.installment <= before.installment
    if term >= 3:
        # The last row may rise only by the principal residue it absorbs.
        before, last = rows[-2], rows[-1]
        assert last.installment - before.installment <= last.principal - before.principal


@given(
    realistic_principals,
    rates,
    st.integers(min_value=3, max_value=360),
    st.sampled_from([RepaymentMethod.ANNUITY, RepaymentMethod.EQUAL_PRINCIPAL]),
    disbursement_dates,
    repayment_days,
    st.data(),
)
def test_re_amortised_schedules_repay_exactly_the_reduced_principal(
    amount: str,
    annual: str,
    term: int,
    method: RepaymentMethod,
    disbursed_on: date,
    day: int,
    data: st.DataObject,
) -> None:
    if method is RepaymentMethod.ANNUITY:
        level = annuity_payment(Money.of(amount), AnnualRate.of(annual), term)
        assume(4 * drift_bound(annual, term) <= Fraction(level.amount))
    rows = build(amount, annual, term, method, disbursed_on, day)
    offset = data.draw(
        st.integers(min_value=0, max_value=(rows[-1].due_date - disbursed_on).days - 1)
    )
    prepaid_on = disbursed_on + timedelta(days=offset)
    kept = [row for row in rows if row.due_date <= prepaid_on]
    outstanding = kept[-1].principal_remaining if kept else Money.of(amount)
    assume(outstanding.amount >= Decimal("0.02"))
    fraction = data.draw(st.integers(min_value=1, max_value=99))
    prepayment = outstanding.times(Decimal(fraction) / 100)
    assume(prepayment.is_positive and prepayment < outstanding)
    reduced = outstanding - prepayment
    keep = data.draw(st.sampled_from(list(Keep)))
    new_rows = reamortise_after_prepayment(
        rows, prepaid_on, prepayment, AnnualRate.of(annual), method, keep=keep
    )
    assert total(row.principal for row in new_rows) == reduced
    assert new_rows[-1].principal_remaining == Money.zero()
    assert all(not row.principal_remaining.is_negative for row in new_rows)
    assert [row.number for row in new_rows] == list(
        range(len(kept) + 1, len(kept) + 1 + len(new_rows))
    )
    assert new_rows[0].due_date > prepaid_on
    if keep is Keep.TERM:
        assert len(new_rows) == term - len(kept)
        assert new_rows[-1].due_date == rows[-1].due_date
    else:
        assert len(new_rows) <= term - len(kept)


@given(
    realistic_principals,
    rates,
    rates,
    st.integers(min_value=2, max_value=360),
    st.sampled_from(
        [RepaymentMethod.ANNUITY, RepaymentMethod.EQUAL_PRINCIPAL, RepaymentMethod.INTEREST_ONLY]
    ),
    disbursement_dates,
    repayment_days,
    st.data(),
)
def test_a_rate_change_re_amortises_exactly_what_remains_at_the_new_rate(
    amount: str,
    annual: str,
    new_annual: str,
    term: int,
    method: RepaymentMethod,
    disbursed_on: date,
    day: int,
    data: st.DataObject,
) -> None:
    rows = build(amount, annual, term, method, disbursed_on, day)
    index = data.draw(st.integers(min_value=0, max_value=term - 2))
    anchor = rows[index]
    effective_on = anchor.due_date - timedelta(days=data.draw(st.integers(0, 27)))
    new_rows = reamortise_after_rate_change(rows, effective_on, AnnualRate.of(new_annual), method)
    if anchor.principal_remaining.is_zero:
        assert new_rows == ()
        return
    assert total(row.principal for row in new_rows) == anchor.principal_remaining
    assert new_rows[0].number == anchor.number + 1
    assert new_rows[-1].due_date == rows[-1].due_date
    outstanding = anchor.principal_remaining.amount
    for row in new_rows:
        assert row.interest.amount == half_up(outstanding * Decimal(new_annual), 12)
        outstanding -= row.principal.amount
