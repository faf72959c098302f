"""Re-amortising the rest of a schedule: after a further tranche, a prepayment, a rate change or
a restructure, over the same installments or fewer (`shorten_term`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP
from itertools import pairwise

from loanledger.domain.calendar import (
    add_months,
    validate_repayment_day,
)
from loanledger.domain.errors import (
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidDateError,
    InvalidTermError,
)
from loanledger.domain.money import (
    Money,
    validate_rounding,
)
from loanledger.domain.products.calendars import BusinessCalendar
from loanledger.domain.rates import AnnualRate, DayCount
from loanledger.domain.schedule.build import generate_rows
from loanledger.domain.schedule.rows import (
    Installment,
    Keep,
    RepaymentMethod,
    parse_repayment_method,
    validate_date,
    validate_day_count,
    validate_principal,
    validate_rate,
    validate_term,
)


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
    calendar: BusinessCalendar | None = None,
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
    validate_principal(principal)
    validate_rate(annual_rate)
    count = validate_term(installments, "installments")
    chosen = parse_repayment_method(method)
    start = validate_date(accrual_start, "accrual_start")
    first_due = validate_date(first_due_date, "first_due_date")
    validate_repayment_day(first_due.day)
    number = _validate_first_number(first_number)
    validate_rounding(rounding)
    convention = validate_day_count(day_count)
    return generate_rows(
        principal,
        annual_rate,
        count,
        chosen,
        start,
        first_due,
        number,
        rounding,
        convention,
        calendar=calendar,
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
    calendar: BusinessCalendar | None = None,
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
    validate_principal(principal)
    validate_rate(annual_rate)
    count = validate_term(max_installments, "max_installments")
    chosen = parse_repayment_method(method)
    if chosen not in (RepaymentMethod.ANNUITY, RepaymentMethod.EQUAL_PRINCIPAL):
        raise InvalidTermError(
            f"keeping the installment applies only to annuity and equal_principal, not {chosen}"
        )
    validate_principal(level, "level")
    if level.currency != principal.currency:
        raise CurrencyMismatchError(
            f"level is in {level.currency.code} but principal is in {principal.currency.code}"
        )
    start = validate_date(accrual_start, "accrual_start")
    first_due = validate_date(first_due_date, "first_due_date")
    validate_repayment_day(first_due.day)
    number = _validate_first_number(first_number)
    validate_rounding(rounding)
    convention = validate_day_count(day_count)
    return generate_rows(
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
        calendar=calendar,
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
    on = validate_date(prepaid_on, "prepaid_on")
    validate_principal(prepayment, "prepayment")
    validate_rate(annual_rate)
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
    on = validate_date(effective_on, "effective_on")
    validate_rate(new_rate)
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
    on = validate_date(effective_on, "effective_on")
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
