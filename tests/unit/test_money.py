"""Money: one constructor, exact amounts at the minor unit, rounding named where it happens."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from loanledger.domain.errors import (
    CurrencyMismatchError,
    DomainError,
    InvalidAmountError,
    InvalidNumberError,
    InvalidRoundingError,
    UnknownCurrencyError,
)
from loanledger.domain.money import (
    CURRENCIES,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Currency,
    Money,
    currency,
    parse_decimal,
    positive_amount,
    round_ratio,
    round_to_minor,
    total,
)

# -- construction


def test_an_amount_is_stored_at_exactly_the_minor_unit() -> None:
    five = Money.of("5")
    assert five.amount == Decimal("5.00")
    assert five.amount.as_tuple().exponent == -2
    assert str(five) == "5.00"
    assert five.currency is CURRENCIES["CNY"]


def test_str_prints_the_amount_with_the_minor_unit_places_and_no_currency() -> None:
    assert str(Money.of("1234.5")) == "1234.50"
    assert str(Money.of(7, "JPY")) == "7"
    assert str(Money.of("-0.1", "USD")) == "-0.10"


def test_ints_decimals_and_exponent_strings_are_accepted() -> None:
    assert Money.of(12).amount == Decimal("12.00")
    assert Money.of(Decimal("0.10")).amount == Decimal("0.10")
    assert Money.of("1.5e2").amount == Decimal("150.00")


def test_trailing_zeros_beyond_the_minor_unit_are_not_extra_places() -> None:
    assert Money.of("1.500") == Money.of("1.50")
    assert Money.of("100.0", "JPY") == Money.of(100, "JPY")


def test_zero_and_negative_amounts_are_values() -> None:
    assert Money.of("0").is_zero
    assert Money.of("-3.20").is_negative
    assert Money.zero() == Money.of("0.00")
    assert str(Money.zero("JPY")) == "0"


def test_negative_zero_prints_as_zero() -> None:
    assert str(Money.of("-0")) == "0.00"
    assert str(-Money.zero()) == "0.00"


def test_the_currency_table_holds_the_minor_units() -> None:
    assert {code: cur.minor_unit for code, cur in CURRENCIES.items()} == {
        "CNY": 2,
        "USD": 2,
        "EUR": 2,
        "HKD": 2,
        "JPY": 0,
    }
    assert currency("JPY") == Currency("JPY", 0)
    assert Currency("CNY", 2).quantum == Decimal("0.01")


@pytest.mark.parametrize("code", ["XYZ", "cny", "", "RMB"])
def test_an_unknown_currency_code_is_refused(code: str) -> None:
    with pytest.raises(UnknownCurrencyError, match="unknown currency"):
        currency(code)
    with pytest.raises(UnknownCurrencyError, match="unknown currency"):
        Money.of("1", code)


# -- refused amounts


def test_a_float_amount_is_refused_by_name() -> None:
    with pytest.raises(
        InvalidAmountError, match="amount must be a decimal string, int or Decimal, not float"
    ):
        Money.of(0.1)  # type: ignore[arg-type]


def test_a_bool_amount_is_refused() -> None:
    with pytest.raises(InvalidAmountError, match="not bool"):
        Money.of(True)


@pytest.mark.parametrize("value", ["NaN", "nan", "-Infinity", "inf", "sNaN"])
def test_non_finite_strings_are_refused(value: str) -> None:
    with pytest.raises(InvalidAmountError, match="amount must be a finite number"):
        Money.of(value)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_non_finite_decimals_are_refused(value: Decimal) -> None:
    with pytest.raises(InvalidAmountError, match="amount must be a finite number"):
        Money.of(value)


@pytest.mark.parametrize("value", ["1e9999", "1e18", 10**18, Decimal("1E+30")])
def test_amounts_of_1e18_or_more_are_refused(value: str | int | Decimal) -> None:
    with pytest.raises(InvalidAmountError, match="must be smaller than 1e18"):
        Money.of(value)


@pytest.mark.parametrize(
    "value", ["", " 1", "1 ", "1,000.00", "1_000", "abc", "١٢", "0x10", "1e", "--1", "1.2.3"]
)
def test_malformed_strings_are_refused(value: str) -> None:
    with pytest.raises(InvalidAmountError, match="must be a plain decimal number"):
        Money.of(value)


def test_more_places_than_the_minor_unit_are_refused_not_rounded() -> None:
    with pytest.raises(
        InvalidAmountError, match=r"amount 1\.001 has more than 2 decimal places allowed for CNY"
    ):
        Money.of("1.001")
    with pytest.raises(InvalidAmountError, match="more than 0 decimal places allowed for JPY"):
        Money.of("1.5", "JPY")


def test_a_direct_construction_off_the_minor_unit_is_refused() -> None:
    with pytest.raises(InvalidAmountError, match="exactly 2 decimal places"):
        Money(Decimal("5"), CURRENCIES["CNY"])


def test_a_positive_amount_refuses_zero_and_negative() -> None:
    assert positive_amount("0.01") == Money.of("0.01")
    with pytest.raises(InvalidAmountError, match="amount must be greater than zero"):
        positive_amount("0")
    with pytest.raises(InvalidAmountError, match="amount must be greater than zero"):
        positive_amount("-5.00")


def test_every_refusal_is_a_domain_error_and_a_value_error() -> None:
    with pytest.raises(DomainError):
        Money.of("x")
    with pytest.raises(ValueError):
        Money.of("x")


# -- arithmetic


def test_addition_subtraction_and_negation_are_exact() -> None:
    assert Money.of("0.10") + Money.of("0.20") == Money.of("0.30")
    assert Money.of("1.00") - Money.of("2.50") == Money.of("-1.50")
    assert -Money.of("3.00") == Money.of("-3.00")
    assert abs(Money.of("-3.00")) == Money.of("3.00")


def test_comparisons_order_amounts_of_one_currency() -> None:
    assert Money.of("1.00") < Money.of("1.01") <= Money.of("1.01")
    assert Money.of("2") > Money.of("1.99") >= Money.of("1.99")
    assert max(Money.of("1"), Money.of("3"), Money.of("2")) == Money.of("3")


def test_combining_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError, match="cannot combine CNY and USD"):
        _ = Money.of("1") + Money.of("1", "USD")
    with pytest.raises(CurrencyMismatchError):
        _ = Money.of("1") - Money.of("1", "EUR")
    with pytest.raises(CurrencyMismatchError):
        _ = Money.of("1") < Money.of("1", "HKD")


def test_equal_amounts_in_different_currencies_are_not_equal() -> None:
    assert Money.of("1") != Money.of("1", "USD")


def test_multiplying_with_a_star_is_refused_because_it_would_hide_rounding() -> None:
    with pytest.raises(TypeError, match=r"use money\.times"):
        _ = Money.of("1.00") * Decimal("2")
    with pytest.raises(TypeError, match=r"use money\.times"):
        _ = Decimal("2") * Money.of("1.00")


def test_times_rounds_the_exact_product_as_named() -> None:
    # 0.05 × 0.5 = 0.025, a tie: half-up goes away from zero, half-even to the even fen.
    assert Money.of("0.05").times(Decimal("0.5")) == Money.of("0.03")
    assert Money.of("0.05").times(Decimal("0.5"), ROUND_HALF_EVEN) == Money.of("0.02")
    assert Money.of("-0.05").times(Decimal("0.5")) == Money.of("-0.03")
    assert Money.of("10.00").times(3) == Money.of("30.00")


def test_times_refuses_a_float_factor() -> None:
    with pytest.raises(InvalidAmountError, match="factor must be an int or Decimal, not float"):
        Money.of("1").times(1.5)  # type: ignore[arg-type]


def test_total_sums_exactly_from_zero() -> None:
    assert total([Money.of("0.10")] * 10) == Money.of("1.00")
    assert total([], "USD") == Money.zero("USD")


# -- rounding helpers


def test_round_to_minor_rounds_half_up_by_default() -> None:
    # 2.675 as a float is 2.67499999...; as a Decimal it is a true tie and rounds up.
    assert round_to_minor(Decimal("2.675"), "CNY") == Decimal("2.68")
    assert round_to_minor(Decimal("2.665"), "CNY", ROUND_HALF_UP) == Decimal("2.67")
    assert round_to_minor(Decimal("2.665"), "CNY", ROUND_HALF_EVEN) == Decimal("2.66")
    assert round_to_minor(Decimal("-2.665"), "CNY", ROUND_HALF_UP) == Decimal("-2.67")
    assert round_to_minor(Decimal("1234.5"), "JPY") == Decimal("1235")


def test_round_to_minor_does_not_depend_on_the_thread_decimal_context() -> None:
    with localcontext() as context:
        context.prec = 3
        assert round_to_minor(Decimal("123456.785"), "CNY") == Decimal("123456.79")
        assert round_ratio(1, 3, "CNY") == Decimal("0.33")


def test_only_the_two_half_way_roundings_are_accepted() -> None:
    with pytest.raises(InvalidRoundingError, match="ROUND_HALF_UP or ROUND_HALF_EVEN"):
        round_to_minor(Decimal("1.005"), "CNY", "ROUND_DOWN")


def test_parse_decimal_refuses_floats_and_overflowing_exponents_with_a_domain_error() -> None:
    assert parse_decimal("0.049", "rate") == Decimal("0.049")
    with pytest.raises(InvalidNumberError, match="rate must be a decimal string, int or Decimal"):
        parse_decimal(0.049, "rate")
    with pytest.raises(InvalidNumberError, match="rate must be smaller than 1e18"):
        parse_decimal("1e9999", "rate")
    with pytest.raises(InvalidNumberError, match="at most 28 decimal places"):
        parse_decimal("1e-29", "rate")
    with pytest.raises(InvalidNumberError, match="not list"):
        parse_decimal(["1"], "rate")
