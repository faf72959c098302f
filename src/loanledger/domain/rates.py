"""Annual interest rates and day-count conventions.

Conventions, and why:

* A rate is an annual fraction held as an exact Decimal: 0.049 means 4.9% a year (年利率). It is
  parsed from a decimal string, an int or a Decimal, never a float, and must lie between 0 and 1.
  A rate given in percent (4.9) is refused rather than guessed at, because a 100-fold error in a
  rate is the costliest typo a ledger can accept.
* A regular monthly period charges annual / 12 (DESIGN §7). `AnnualRate.monthly` gives that
  quotient as a Decimal computed in `decimal_context()` (40 significant digits), for display and
  for callers that need a Decimal; schedules use the exact rational `monthly_exact` instead, so
  that no intermediate rounding happens before the one named rounding to the fen.
* Irregular periods are charged by a day count. The default is ACT/360 (actual days over a
  360-day year), the convention of Chinese bank lending and of DESIGN §7. ACT/365F and 30/360 are
  available per product.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from loanledger.domain.errors import InvalidDateError, InvalidRateError
from loanledger.domain.money import decimal_context, parse_decimal

__all__ = ["MONTHS_PER_YEAR", "AnnualRate", "DayCount"]

MONTHS_PER_YEAR = 12

_RATE_RANGE_RULE = "annual_rate must be between 0 and 1 (a fraction, 0.049 for 4.9%)"


@dataclass(frozen=True, slots=True)
class AnnualRate:
    """An annual interest rate as an exact fraction between 0 and 1 inclusive (0.049 = 4.9%).

    Build it with `AnnualRate.of("0.049")`; `AnnualRate(Decimal("0.049"))` is checked the same
    way. Refused with InvalidRateError — floats and bools, NaN and infinities, malformed strings,
    negative rates and rates above 1. Zero is allowed (an interest-free loan).
    """

    value: Decimal

    def __post_init__(self) -> None:
        parsed = parse_decimal(self.value, "annual_rate", error=InvalidRateError)
        if not 0 <= parsed <= 1:
            raise InvalidRateError(f"{_RATE_RANGE_RULE}, got {self.value}")
        # Normalise -0 to 0 so that equal rates print and hash alike.
        object.__setattr__(self, "value", parsed.copy_abs() if parsed.is_zero() else parsed)

    @classmethod
    def of(cls, value: str | int | Decimal) -> AnnualRate:
        """Parse an annual rate from a decimal string, int or Decimal (never a float)."""
        if not isinstance(value, Decimal):
            value = parse_decimal(value, "annual_rate", error=InvalidRateError)
        return cls(value)

    @property
    def exact(self) -> Fraction:
        """The annual rate as an exact rational number."""
        return Fraction(self.value)

    @property
    def monthly_exact(self) -> Fraction:
        """The regular monthly rate annual / 12 as an exact rational; schedules use this."""
        return Fraction(self.value) / MONTHS_PER_YEAR

    @property
    def monthly(self) -> Decimal:
        """The regular monthly rate annual / 12 as a Decimal, unrounded to the fen.

        The quotient is computed in `decimal_context()`, a local context of 40 significant digits,
        so it does not depend on the caller's thread context; 0.049 / 12 is
        0.004083333333333333333333333333333333333333.
        """
        with decimal_context():
            return self.value / MONTHS_PER_YEAR

    def __str__(self) -> str:
        return format(self.value, "f")


class DayCount(StrEnum):
    """How many days a period has and how many days a year has, for day-count interest.

    * ACT_360 ("ACT/360"): actual calendar days over 360. The default (DESIGN §7): Chinese banks
      quote daily interest as the annual rate / 360 (日利率 = 年利率 / 360).
    * ACT_365F ("ACT/365F"): actual calendar days over a fixed 365, leap years included.
    * THIRTY_360 ("30/360"): the ISDA 2006 section 4.16(f) "30/360" (Bond Basis, also called
      30/360 US without the February end-of-month rule): D1 = 31 becomes 30; D2 = 31 becomes 30
      only if D1 is then 30 or 31; days = 360 (Y2 - Y1) + 30 (M2 - M1) + (D2 - D1), over 360.
      This variant is chosen because it is the one ISDA names plainly "30/360"; the February rule
      of the NASD variant adds nothing for schedules whose due dates fall on days 1 to 28.
    * ACT_ACT ("ACT/ACT"): ISDA actual/actual: each day of the period counts 1/366 of a year if
      it falls in a leap year, else 1/365 (a period across 1 January is split there). Its
      `basis` (used where one daily figure is needed, such as penalty per day) is 365.
    """

    ACT_360 = "ACT/360"
    ACT_365F = "ACT/365F"
    THIRTY_360 = "30/360"
    ACT_ACT = "ACT/ACT"

    @property
    def basis(self) -> int:
        """Days in the convention's year: 365 for ACT/365F and ACT/ACT, otherwise 360."""
        return 365 if self in (DayCount.ACT_365F, DayCount.ACT_ACT) else 360

    def days(self, start: date, end: date) -> int:
        """Days from `start` (counted) to `end` (not counted) under this convention.

        `end` before `start` is refused with InvalidDateError: a period never runs backwards.
        """
        for what, value in (("start", start), ("end", end)):
            if not isinstance(value, date) or hasattr(value, "hour"):
                raise InvalidDateError(
                    f"{what} must be a datetime.date, got {type(value).__name__}"
                )
        if end < start:
            raise InvalidDateError(
                f"period end {end.isoformat()} is before its start {start.isoformat()}"
            )
        if self is not DayCount.THIRTY_360:
            return (end - start).days
        day_start = min(start.day, 30)
        day_end = 30 if end.day == 31 and day_start == 30 else end.day
        return (
            360 * (end.year - start.year) + 30 * (end.month - start.month) + (day_end - day_start)
        )

    def year_fraction_exact(self, start: date, end: date) -> Fraction:
        """The period's length in years as an exact rational: days / basis (ACT/ACT: the days
        in each calendar year over that year's length, summed)."""
        if self is not DayCount.ACT_ACT:
            return Fraction(self.days(start, end), self.basis)
        self.days(start, end)  # the same checks
        total = Fraction(0)
        cursor = start
        while cursor < end:
            year_end = date(cursor.year + 1, 1, 1)
            stop = min(end, year_end)
            length = (year_end - date(cursor.year, 1, 1)).days
            total += Fraction((stop - cursor).days, length)
            cursor = stop
        return total

    def year_fraction(self, start: date, end: date) -> Decimal:
        """The period's length in years, days / basis, as a Decimal.

        The quotient is computed in `decimal_context()` (40 significant digits); use
        `year_fraction_exact` where the figure feeds an amount that will be rounded to the fen.
        """
        fraction = self.year_fraction_exact(start, end)
        with decimal_context():
            return Decimal(fraction.numerator) / fraction.denominator
