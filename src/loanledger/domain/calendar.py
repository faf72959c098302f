"""Month arithmetic and due dates for monthly repayment schedules.

Conventions, and why:

* Months are added by calendar month with end-of-month clamping: 31 January plus one month is
  28 February (29 in a leap year). This is how a "one month" period is measured everywhere in
  the library, including the test whether a first period is regular.
* A repayment day (还款日) is 1 to 28, so that every month has it and a due date never has to be
  clamped. The default repayment day is the disbursement day, capped at 28 (DESIGN §6).
* Installment k (1-based) is due on the repayment day k months after the disbursement month, so
  the first due date is the repayment day in the month after the disbursement month, whatever
  the disbursement day.

Everything here is a pure function of its arguments; no function reads the clock.
"""

from __future__ import annotations

from datetime import date, timedelta

from loanledger.domain.errors import InvalidDateError, InvalidTermError

__all__ = [
    "REPAYMENT_DAY_MAX",
    "REPAYMENT_DAY_MIN",
    "add_months",
    "days_in_month",
    "default_repayment_day",
    "due_date",
    "first_due_date",
    "installment_due_date",
    "validate_repayment_day",
]

REPAYMENT_DAY_MIN = 1
REPAYMENT_DAY_MAX = 28
"""The highest repayment day: the 28th exists in every month, so due dates never clamp."""


def _require_date(value: object, what: str) -> date:
    # A datetime is a date subclass, but a due date with a time of day would make date arithmetic
    # and equality silently wrong, so only plain dates are accepted.
    if not isinstance(value, date) or hasattr(value, "hour"):
        raise InvalidDateError(f"{what} must be a datetime.date, got {type(value).__name__}")
    return value


def _require_int(value: object, what: str, error: type[InvalidDateError | InvalidTermError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what} must be an int, got {type(value).__name__}")
    return value


def days_in_month(year: int, month: int) -> int:
    """Return the number of days in the month (28 to 31), counting leap years."""
    _require_int(year, "year", InvalidDateError)
    _require_int(month, "month", InvalidDateError)
    if not 1 <= month <= 12:
        raise InvalidDateError(f"month must be between 1 and 12, got {month}")
    if not date.min.year <= year <= date.max.year:
        raise InvalidDateError(f"year must be between 1 and 9999, got {year}")
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - timedelta(days=1)).day


def add_months(d: date, n: int) -> date:
    """Add n calendar months (n may be negative), clamping the day to the end of the month.

    Clamping, rather than rolling over into the next month, keeps "one month after 31 January" in
    February, which is what a borrower and a bank both mean by it. Results outside the years
    1 to 9999 are refused with InvalidDateError.
    """
    _require_date(d, "date")
    _require_int(n, "months", InvalidDateError)
    month_index = d.year * 12 + (d.month - 1) + n
    year, month_zero_based = divmod(month_index, 12)
    if not date.min.year <= year <= date.max.year:
        raise InvalidDateError(f"{d.isoformat()} plus {n} months is outside the years 1 to 9999")
    month = month_zero_based + 1
    day = d.day
    if day > 28:  # every month has days 1 to 28
        day = min(day, days_in_month(year, month))
    return date(year, month, day)


def validate_repayment_day(day: int) -> int:
    """Return the repayment day if it is an int from 1 to 28; refuse it with InvalidTermError.

    Days 29 to 31 are refused because some months lack them, and a due date that moves with the
    month length would make periods of unequal contractual length.
    """
    _require_int(day, "repayment_day", InvalidTermError)
    if not REPAYMENT_DAY_MIN <= day <= REPAYMENT_DAY_MAX:
        raise InvalidTermError(
            f"repayment_day must be between {REPAYMENT_DAY_MIN} and {REPAYMENT_DAY_MAX} "
            f"so that every month has it, got {day}"
        )
    return day


def due_date(year: int, month: int, repayment_day: int) -> date:
    """Return the due date on the repayment day of the given month (the day is validated)."""
    validate_repayment_day(repayment_day)
    _require_int(year, "year", InvalidDateError)
    _require_int(month, "month", InvalidDateError)
    if not 1 <= month <= 12:
        raise InvalidDateError(f"month must be between 1 and 12, got {month}")
    if not date.min.year <= year <= date.max.year:
        raise InvalidDateError(f"year must be between 1 and 9999, got {year}")
    return date(year, month, repayment_day)


def installment_due_date(disbursed_on: date, repayment_day: int, number: int) -> date:
    """Return the due date of installment `number` (1-based): the repayment day `number` months
    after the disbursement month.

    Counting from the disbursement month, not from the disbursement day, is what makes every due
    date fall on the repayment day even when the loan was disbursed late in a month.
    """
    _require_date(disbursed_on, "disbursed_on")
    _require_int(number, "installment number", InvalidTermError)
    if number < 1:
        raise InvalidTermError(f"installment number must be 1 or more, got {number}")
    month_start = add_months(disbursed_on.replace(day=1), number)
    return due_date(month_start.year, month_start.month, repayment_day)


def first_due_date(disbursed_on: date, repayment_day: int) -> date:
    """Return the first due date: the repayment day in the month after the disbursement month."""
    return installment_due_date(disbursed_on, repayment_day, 1)


def default_repayment_day(disbursed_on: date) -> int:
    """Return the default repayment day: the disbursement day, capped at 28 (DESIGN §6)."""
    _require_date(disbursed_on, "disbursed_on")
    return min(disbursed_on.day, REPAYMENT_DAY_MAX)
