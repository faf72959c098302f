"""Money: an exact decimal amount in a currency, stored at exactly the currency's minor unit.

Conventions, and why:

* Amounts are `decimal.Decimal`, never `float`. A float cannot hold 0.10 exactly, so a ledger built
  on floats drifts by fractions of a fen (分, the CNY minor unit). Every entry point refuses floats
  (and bools, which are ints in Python but never a deliberate amount).
* A `Money` always holds exactly the currency's minor-unit places (2 for CNY, 0 for JPY), so
  `Money.of("5")` stores 5.00 and `str()` prints "5.00". An input with more places than the minor
  unit is refused rather than silently rounded: rounding is a business decision, so it happens only
  where the caller names it.
* Rounding is explicit. `round_to_minor`, `round_ratio` and `Money.times` take a `rounding`
  argument that defaults to `ROUND_HALF_UP` (ties away from zero, the usual bank convention in
  China, 四舍五入) and also accept `ROUND_HALF_EVEN` (banker's rounding). There is deliberately
  no `Money * x` operator, because it would have to round somewhere without saying so.
* Rounding is exact. Values are converted to exact rationals before rounding, so the result never
  depends on the ambient decimal context precision. The few places that must produce an unrounded
  `Decimal` quotient (a monthly rate, a year fraction) use `decimal_context()`, a local context of
  `DECIMAL_PRECISION` (40) significant digits, instead of the thread's default context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    localcontext,
)
from fractions import Fraction
from types import MappingProxyType
from typing import NoReturn

from loanledger.domain.errors import (
    CurrencyMismatchError,
    DomainError,
    InvalidAmountError,
    InvalidNumberError,
    InvalidRoundingError,
    UnknownCurrencyError,
)

__all__ = [
    "CURRENCIES",
    "DECIMAL_PRECISION",
    "DEFAULT_CURRENCY",
    "MAX_DECIMAL_PLACES",
    "MAX_MAGNITUDE",
    "ROUNDINGS",
    "ROUND_HALF_EVEN",
    "ROUND_HALF_UP",
    "Currency",
    "Money",
    "currency",
    "decimal_context",
    "minor_to_decimal",
    "parse_decimal",
    "positive_amount",
    "round_ratio",
    "round_to_minor",
    "total",
    "validate_rounding",
]

DEFAULT_CURRENCY = "CNY"
"""The currency used when none is named: the ledger's home currency, the renminbi."""

DECIMAL_PRECISION = 40
"""Significant digits of `decimal_context()`; well above the 28 of Python's default context."""

MAX_MAGNITUDE = Decimal(10) ** 18
"""Every parsed number must be strictly smaller than this in absolute value (1e18)."""

MAX_DECIMAL_PLACES = 28
"""Every parsed number may have at most this many places after the decimal point."""

ROUNDINGS = frozenset({ROUND_HALF_UP, ROUND_HALF_EVEN})
"""The rounding modes the library accepts; anything else is refused with InvalidRoundingError."""

_MAX_STRING_LENGTH = 64
_DECIMAL_STRING = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,6})?", re.ASCII)
_NON_FINITE_STRING = re.compile(r"[+-]?(?:s?nan\d*|inf|infinity)", re.IGNORECASE)
# Arithmetic between Money values must be exact; 100 digits with Inexact trapped proves it.
_EXACT = Context(prec=100, traps=[Inexact, Rounded, InvalidOperation, Overflow, DivisionByZero])


def decimal_context() -> AbstractContextManager[Context]:
    """Return a local decimal context of `DECIMAL_PRECISION` (40) digits with errors trapped.

    Use it as `with decimal_context(): ...` wherever an unrounded Decimal quotient is produced, so
    the result does not depend on whatever precision the caller's thread context happens to have.
    Rounding inside the context is ROUND_HALF_EVEN on the 40th digit, which is far below a fen.
    """
    return localcontext(
        Context(
            prec=DECIMAL_PRECISION,
            rounding=ROUND_HALF_EVEN,
            traps=[InvalidOperation, DivisionByZero, Overflow],
        )
    )


def validate_rounding(rounding: str) -> str:
    """Return `rounding` if it is ROUND_HALF_UP or ROUND_HALF_EVEN; refuse anything else.

    Only the two half-way rules are accepted because a fen is always rounded to the nearest fen;
    truncating or ceiling modes would bias every schedule in one direction.
    """
    if rounding not in ROUNDINGS:
        raise InvalidRoundingError(
            f"rounding must be ROUND_HALF_UP or ROUND_HALF_EVEN, got {rounding!r}"
        )
    return rounding


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency code and its minor unit (the number of decimal places it is kept to)."""

    code: str
    minor_unit: int
    _quantum: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not re.fullmatch(r"[A-Z]{3}", self.code):
            raise UnknownCurrencyError(
                f"currency code must be three upper-case letters, got {self.code!r}"
            )
        if (
            isinstance(self.minor_unit, bool)
            or not isinstance(self.minor_unit, int)
            or not 0 <= self.minor_unit <= 4
        ):
            raise UnknownCurrencyError(
                f"minor_unit must be an int between 0 and 4, got {self.minor_unit!r}"
            )
        object.__setattr__(self, "_quantum", Decimal(1).scaleb(-self.minor_unit))

    @property
    def quantum(self) -> Decimal:
        """The smallest amount of the currency as a Decimal: 0.01 for CNY, 1 for JPY."""
        return self._quantum

    def __str__(self) -> str:
        return self.code


CURRENCIES = MappingProxyType(
    {
        code: Currency(code, minor_unit)
        for code, minor_unit in (("CNY", 2), ("USD", 2), ("EUR", 2), ("HKD", 2), ("JPY", 0))
    }
)
"""The currency table: code to Currency. Read-only; the ledger knows exactly these currencies."""


def currency(code: str | Currency) -> Currency:
    """Look up a currency by its exact upper-case ISO code; refuse codes not in `CURRENCIES`.

    Lower-case codes are refused rather than upper-cased, so that a journal always spells a
    currency one way. A `Currency` passed in is returned unchanged.
    """
    if isinstance(code, Currency):
        return code
    if isinstance(code, str) and code in CURRENCIES:
        return CURRENCIES[code]
    known = ", ".join(sorted(CURRENCIES))
    raise UnknownCurrencyError(f"unknown currency {code!r}; known currencies: {known}")


def parse_decimal(
    value: object, what: str, *, error: type[DomainError] = InvalidNumberError
) -> Decimal:
    """Parse an exact decimal from a decimal string, an int or a Decimal; refuse everything else.

    `what` names the value in messages ("amount", "annual_rate"); `error` is the DomainError
    subclass raised, so each caller refuses with its own rule's error. Refused — floats and bools
    (a float is already inexact, a bool is never a number on purpose), NaN and infinities, strings
    that are not plain ASCII decimals (no spaces, underscores, thousands separators or non-ASCII
    digits), magnitudes of 1e18 or more (so "1e9999" is refused, not carried around), and more
    than 28 places after the decimal point. Exponent notation such as "1.5e2" is accepted.
    """
    if isinstance(value, bool | float):
        raise error(f"{what} must be a decimal string, int or Decimal, not {type(value).__name__}")
    if isinstance(value, str):
        if _NON_FINITE_STRING.fullmatch(value):
            raise error(f"{what} must be a finite number, got {value!r}")
        if len(value) > _MAX_STRING_LENGTH or not _DECIMAL_STRING.fullmatch(value):
            shown = value if len(value) <= _MAX_STRING_LENGTH else value[:_MAX_STRING_LENGTH] + "…"
            raise error(f"{what} must be a plain decimal number such as '1234.50', got {shown!r}")
        parsed = Decimal(value)
    elif isinstance(value, int):
        if abs(value) >= 10**18:
            raise error(f"{what} must be smaller than 1e18 in absolute value, got {value}")
        parsed = Decimal(value)
    elif isinstance(value, Decimal):
        parsed = value
    else:
        raise error(f"{what} must be a decimal string, int or Decimal, not {type(value).__name__}")
    if not parsed.is_finite():
        raise error(f"{what} must be a finite number, got {value}")
    if parsed.copy_abs() >= MAX_MAGNITUDE:
        raise error(f"{what} must be smaller than 1e18 in absolute value, got {value}")
    exponent = parsed.as_tuple().exponent
    assert isinstance(exponent, int)  # finite Decimals have an int exponent
    if exponent < -MAX_DECIMAL_PLACES:
        raise error(f"{what} must have at most {MAX_DECIMAL_PLACES} decimal places, got {value}")
    return parsed


def round_ratio(
    numerator: int, denominator: int, currency: str | Currency, rounding: str = ROUND_HALF_UP
) -> Decimal:
    """Round the exact ratio numerator/denominator to the currency's minor unit.

    This is the one rounding routine of the library; `round_to_minor` and `Money.times` call it.
    It works on integers, so it is exact for any size of input. ROUND_HALF_UP rounds a tie away
    from zero; ROUND_HALF_EVEN rounds a tie to the even last digit.
    """
    validate_rounding(rounding)
    if denominator == 0:
        raise InvalidNumberError("cannot round a ratio with a zero denominator")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    places = _currency_of(currency).minor_unit
    scaled = numerator * 10**places
    negative = scaled < 0
    quotient, remainder = divmod(abs(scaled), denominator)
    twice = 2 * remainder
    if twice > denominator or (
        twice == denominator and (rounding == ROUND_HALF_UP or quotient % 2 == 1)
    ):
        quotient += 1
    sign = "-" if negative and quotient != 0 else ""
    return Decimal(f"{sign}{quotient}E-{places}")


def round_to_minor(
    value: Decimal | Fraction | int, currency: str | Currency, rounding: str = ROUND_HALF_UP
) -> Decimal:
    """Round an exact value to the currency's minor unit with the named rounding.

    The value is converted to an exact rational first, so no intermediate rounding happens and the
    result does not depend on the decimal context. The result has exactly the minor-unit places.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | Fraction | int):
        raise InvalidNumberError(
            f"value to round must be a Decimal, Fraction or int, not {type(value).__name__}"
        )
    if isinstance(value, Decimal) and not value.is_finite():
        raise InvalidNumberError(f"value to round must be finite, got {value}")
    exact = Fraction(value)
    return round_ratio(exact.numerator, exact.denominator, currency, rounding)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency, held at exactly the currency's minor-unit places.

    Build it with `Money.of`. Zero and negative values are allowed, because balances and
    differences can be zero or negative; use `positive_amount` where an input must be > 0.
    Adding, subtracting or comparing different currencies raises CurrencyMismatchError. There is
    no `*` operator: multiply with `times(factor, rounding=...)`, which names its rounding.
    """

    amount: Decimal
    currency: Currency

    def __post_init__(self) -> None:
        if not isinstance(self.currency, Currency):
            raise UnknownCurrencyError(
                f"currency must be a Currency, got {type(self.currency).__name__}; use Money.of"
            )
        amount = self.amount
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise InvalidAmountError(
                f"Money.amount must be a finite Decimal, got {amount!r}; use Money.of"
            )
        if amount.as_tuple().exponent != -self.currency.minor_unit:
            raise InvalidAmountError(
                f"Money.amount must have exactly {self.currency.minor_unit} decimal places for "
                f"{self.currency.code}, got {amount}; use Money.of"
            )
        if amount.is_zero() and amount.is_signed():
            object.__setattr__(self, "amount", amount.copy_abs())

    @classmethod
    def _valid(cls, amount: Decimal, currency: Currency) -> Money:
        """Money from an amount already known to be valid for `currency`: a finite Decimal with
        exactly the minor-unit places, never -0. Skips the checks of `__post_init__`, which
        would only repeat what the caller guarantees; the library's own arithmetic builds its
        results this way (the exact sum of two amounts at the same places keeps those places,
        and an exact zero sum is +0), which is most of the Money ever built."""
        money = object.__new__(cls)
        _set_amount(money, amount)
        _set_currency(money, currency)
        return money

    @classmethod
    def of_minor(cls, units: int, currency: str | Currency = DEFAULT_CURRENCY) -> Money:
        """Money from an exact whole number of minor units: `Money.of_minor(12345)` is 123.45
        CNY. Schedules compute in whole fen and build Money only for their results."""
        if type(units) is not int and (isinstance(units, bool) or not isinstance(units, int)):
            raise InvalidAmountError(f"units must be an int, not {type(units).__name__}")
        cur = currency if type(currency) is Currency else _currency_of(currency)
        money = object.__new__(cls)
        _set_amount(money, Decimal(units).scaleb(-cur.minor_unit, _EXACT))
        _set_currency(money, cur)
        return money

    @property
    def minor_units(self) -> int:
        """The amount as an exact whole number of minor units: 123.45 CNY is 12345."""
        return int(self.amount.scaleb(self.currency.minor_unit, _EXACT))

    @classmethod
    def of(cls, value: str | int | Decimal, currency: str | Currency = DEFAULT_CURRENCY) -> Money:
        """Build Money from a decimal string, int or Decimal in a currency (CNY by default).

        Refused with InvalidAmountError — floats and bools, NaN and infinities, malformed strings,
        magnitudes of 1e18 or more, and more decimal places than the currency's minor unit
        (trailing zeros are fine: "1.500" is 1.50). The amount is stored at exactly the minor
        unit, so `Money.of("5")` holds 5.00.
        """
        cur = _currency_of(currency)
        parsed = parse_decimal(value, "amount", error=InvalidAmountError)
        exponent = parsed.as_tuple().exponent
        assert isinstance(exponent, int)  # parse_decimal refuses non-finite values
        if exponent >= -cur.minor_unit:
            # No more places than the minor unit: padding with zeros is exact (nothing rounds).
            padded = parsed.quantize(cur.quantum, context=_EXACT)
            return cls._valid(padded.copy_abs() if padded.is_zero() else padded, cur)
        exact = Fraction(parsed)
        rounded = round_ratio(exact.numerator, exact.denominator, cur, ROUND_HALF_UP)
        if rounded != parsed:
            raise InvalidAmountError(
                f"amount {value} has more than {cur.minor_unit} decimal places allowed "
                f"for {cur.code}"
            )
        return cls._valid(rounded, cur)

    @classmethod
    def zero(cls, currency: str | Currency = DEFAULT_CURRENCY) -> Money:
        """Zero in the currency, at the minor unit (0.00 for CNY, 0 for JPY)."""
        cur = _currency_of(currency)
        return cls._valid(Decimal(f"0E-{cur.minor_unit}"), cur)

    # -- arithmetic -------------------------------------------------------------------------------

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self.currency.code} and {other.currency.code} amounts"
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if self.currency is not other.currency:
            self._same(other)
        return Money._valid(_EXACT.add(self.amount, other.amount), self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if self.currency is not other.currency:
            self._same(other)
        return Money._valid(_EXACT.subtract(self.amount, other.amount), self.currency)

    def __neg__(self) -> Money:
        if self.amount.is_zero():
            return self  # never -0
        return Money._valid(self.amount.copy_negate(), self.currency)

    def __abs__(self) -> Money:
        return Money._valid(self.amount.copy_abs(), self.currency)

    def __mul__(self, other: object) -> NoReturn:
        raise TypeError(
            "Money cannot be multiplied with '*' because the product must be rounded; "
            "use money.times(factor, rounding=ROUND_HALF_UP)"
        )

    __rmul__ = __mul__

    def times(self, factor: Decimal | int, rounding: str = ROUND_HALF_UP) -> Money:
        """Multiply by an exact factor and round the product to the minor unit, as named.

        The product is computed exactly (as a rational), then rounded once with `rounding`
        (ROUND_HALF_UP by default). Floats and bools are refused with InvalidAmountError.
        """
        if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
            raise InvalidAmountError(
                f"factor must be an int or Decimal, not {type(factor).__name__}"
            )
        if isinstance(factor, Decimal) and not factor.is_finite():
            raise InvalidAmountError(f"factor must be a finite number, got {factor}")
        product = Fraction(self.amount) * Fraction(factor)
        return Money._valid(
            round_ratio(product.numerator, product.denominator, self.currency, rounding),
            self.currency,
        )

    # -- comparison -------------------------------------------------------------------------------

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        if self.currency is not other.currency:
            self._same(other)
        return self.amount < other.amount

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        if self.currency is not other.currency:
            self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        if self.currency is not other.currency:
            self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        if self.currency is not other.currency:
            self._same(other)
        return self.amount >= other.amount

    @property
    def is_zero(self) -> bool:
        """True when the amount is exactly zero."""
        return self.amount.is_zero()

    @property
    def is_positive(self) -> bool:
        """True when the amount is greater than zero."""
        return self.amount > 0

    @property
    def is_negative(self) -> bool:
        """True when the amount is less than zero."""
        return self.amount < 0

    # -- display ----------------------------------------------------------------------------------

    def __str__(self) -> str:
        """The amount with exactly the minor-unit places and no currency: "1234.50"."""
        return format(self.amount, "f")

    def __repr__(self) -> str:
        return f"Money.of({str(self)!r}, {self.currency.code!r})"


_set_amount = Money.__dict__["amount"].__set__
_set_currency = Money.__dict__["currency"].__set__
"""The slots' own setters: they bypass the frozen dataclass's refusing `__setattr__`."""


def minor_to_decimal(units: int, places: int) -> Decimal:
    """`units` minor units as an exact Decimal with exactly `places` places (12345, 2: 123.45)."""
    return Decimal(units).scaleb(-places, _EXACT)


def positive_amount(
    value: str | int | Decimal, currency: str | Currency = DEFAULT_CURRENCY
) -> Money:
    """Build Money like `Money.of` and also refuse zero and negative amounts.

    Use it for inputs that must be a real sum of money, such as a loan principal or a payment.
    """
    money = Money.of(value, currency)
    if not money.is_positive:
        raise InvalidAmountError(f"amount must be greater than zero, got {money}")
    return money


def total(amounts: Iterable[Money], currency: str | Currency = DEFAULT_CURRENCY) -> Money:
    """Sum amounts exactly, starting from zero in `currency`; mixed currencies are refused."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


def _currency_of(value: str | Currency) -> Currency:
    return currency(value)
