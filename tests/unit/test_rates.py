"""Annual rates are exact fractions in [0, 1]; day counts say how long a period is."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest

from loanledger.domain.errors import InvalidDateError, InvalidRateError
from loanledger.domain.rates import AnnualRate, DayCount

RATE_RULE = r"annual_rate must be between 0 and 1 \(a fraction, 0\.049 for 4\.9%\)"


def test_a_rate_is_parsed_exactly_from_a_string_an_int_or_a_decimal() -> None:
    assert AnnualRate.of("0.049").value == Decimal("0.049")
    assert AnnualRate.of(0).value == Decimal(0)
    assert AnnualRate.of(1).value == Decimal(1)
    assert AnnualRate.of(Decimal("0.0435")) == AnnualRate(Decimal("0.0435"))
    assert str(AnnualRate.of("0.049")) == "0.049"


def test_the_monthly_rate_is_annual_over_twelve_at_forty_digits() -> None:
    assert AnnualRate.of("0.049").monthly == Decimal("0.004083333333333333333333333333333333333333")
    assert AnnualRate.of("0.06").monthly == Decimal("0.005")


def test_the_monthly_rate_does_not_depend_on_the_thread_decimal_context() -> None:
    with localcontext() as context:
        context.prec = 5
        assert AnnualRate.of("0.049").monthly == Decimal(
            "0.004083333333333333333333333333333333333333"
        )


def test_the_exact_monthly_rate_is_a_rational() -> None:
    assert AnnualRate.of("0.049").monthly_exact == Fraction(49, 12000)


def test_a_float_rate_is_refused() -> None:
    with pytest.raises(InvalidRateError, match="annual_rate must be a decimal string, int or"):
        AnnualRate.of(0.049)  # type: ignore[arg-type]
    with pytest.raises(InvalidRateError, match="not float"):
        AnnualRate(0.049)  # type: ignore[arg-type]


def test_a_negative_rate_is_refused() -> None:
    with pytest.raises(InvalidRateError, match=RATE_RULE + ", got -0.01"):
        AnnualRate.of("-0.01")


def test_a_rate_above_one_is_refused_because_it_is_probably_a_percentage() -> None:
    with pytest.raises(InvalidRateError, match=RATE_RULE + ", got 4.9"):
        AnnualRate.of("4.9")


@pytest.mark.parametrize("value", ["NaN", "Infinity", Decimal("NaN")])
def test_a_non_finite_rate_is_refused(value: str | Decimal) -> None:
    with pytest.raises(InvalidRateError, match="annual_rate must be a finite number"):
        AnnualRate.of(value)


def test_an_overflowing_exponent_is_refused() -> None:
    with pytest.raises(InvalidRateError, match="annual_rate must be smaller than 1e18"):
        AnnualRate.of("1e9999")


def test_a_bool_rate_is_refused() -> None:
    with pytest.raises(InvalidRateError, match="not bool"):
        AnnualRate.of(True)


# -- day counts


def test_act_360_counts_actual_days_over_360() -> None:
    # 10 January to 15 February 2024: 21 days left in January + 15 in February = 36 days.
    assert DayCount.ACT_360.days(date(2024, 1, 10), date(2024, 2, 15)) == 36
    assert DayCount.ACT_360.year_fraction(date(2024, 1, 10), date(2024, 2, 15)) == Decimal("0.1")
    assert DayCount.ACT_360.year_fraction_exact(date(2024, 1, 10), date(2024, 2, 15)) == Fraction(
        1, 10
    )


def test_act_365f_keeps_a_fixed_365_day_year_even_in_a_leap_year() -> None:
    start, end = date(2024, 1, 1), date(2025, 1, 1)
    assert DayCount.ACT_365F.days(start, end) == 366
    assert DayCount.ACT_365F.year_fraction_exact(start, end) == Fraction(366, 365)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (date(2024, 1, 10), date(2024, 2, 15), 35),  # 30 × 1 + (15 − 10)
        (date(2024, 1, 31), date(2024, 2, 28), 28),  # D1 31 → 30: 30 + (28 − 30)
        (date(2024, 1, 30), date(2024, 3, 31), 60),  # D1 30, so D2 31 → 30: 60 + 0
        (date(2024, 1, 15), date(2024, 3, 31), 76),  # D1 15, so D2 stays 31: 60 + 16
        (date(2024, 2, 29), date(2024, 3, 31), 32),  # no February rule in the ISDA variant
        (date(2023, 12, 15), date(2024, 12, 15), 360),
    ],
)
def test_thirty_360_follows_the_isda_bond_basis_rules(start: date, end: date, days: int) -> None:
    assert DayCount.THIRTY_360.days(start, end) == days


def test_a_period_that_runs_backwards_is_refused() -> None:
    with pytest.raises(InvalidDateError, match="is before its start"):
        DayCount.ACT_360.days(date(2024, 2, 1), date(2024, 1, 1))


def test_the_day_count_names_are_the_market_names() -> None:
    assert [convention.value for convention in DayCount] == [
        "ACT/360",
        "ACT/365F",
        "30/360",
        "ACT/ACT",
    ]


def test_act_act_counts_each_day_over_the_length_of_its_own_year() -> None:
    # 2023-12-01 .. 2024-01-31: 31 days of 2023 over 365, 30 days of 2024 over 366.
    fraction = DayCount.ACT_ACT.year_fraction_exact(date(2023, 12, 1), date(2024, 1, 31))
    assert fraction == Fraction(31, 365) + Fraction(30, 366)
    assert DayCount.ACT_ACT.days(date(2023, 12, 1), date(2024, 1, 31)) == 61
    assert DayCount.ACT_ACT.year_fraction_exact(date(2024, 1, 1), date(2025, 1, 1)) == 1
