"""Repayment schedules to the fen, by the rules of DESIGN §7, and their re-amortisation.

Exact figures are checked two ways: constants worked out by hand (the arithmetic is in the
comment beside each), and whole schedules compared with `reference_schedule`, a second,
deliberately plain computation in 100-digit Decimal arithmetic that shares no code with the
library beyond the date type.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext

import pytest

from loanledger.domain.errors import (
    InvalidAmountError,
    InvalidDateError,
    InvalidRateError,
    InvalidRoundingError,
    InvalidTermError,
    UnknownRepaymentMethodError,
)
from loanledger.domain.money import Money
from loanledger.domain.rates import AnnualRate, DayCount
from loanledger.domain.schedule import (
    Installment,
    Keep,
    RepaymentMethod,
    accrued_interest,
    annuity_payment,
    build_schedule,
    parse_repayment_method,
    reamortise,
    reamortise_after_prepayment,
    reamortise_after_rate_change,
    reamortise_after_restructure,
    shorten_term,
)

FEN = Decimal("0.01")
Row = tuple[int, str, str, str, str, str]


def _month_after(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


def _clamped(start: date, months: int) -> date:
    year, month = _month_after(start.year, start.month, months)
    following_year, following_month = _month_after(year, month, 1)
    last_day = (date(following_year, following_month, 1) - date(year, month, 1)).days
    return date(year, month, min(start.day, last_day))


def reference_schedule(
    amount: str,
    annual: str,
    term: int,
    method: str,
    disbursed_on: date,
    day: int,
    rounding: str = ROUND_HALF_UP,
) -> list[Row]:
    """DESIGN §7 written out plainly, ACT/360, in a 100-digit Decimal context."""
    with localcontext() as context:
        context.prec = 100
        principal, rate = Decimal(amount), Decimal(annual)
        monthly = rate / 12
        dues = []
        for k in range(1, term + 1):
            year, month = _month_after(disbursed_on.year, disbursed_on.month, k)
            dues.append(date(year, month, day))
        regular_first = dues[0] == _clamped(disbursed_on, 1)
        first_rate = monthly if regular_first else rate * (dues[0] - disbursed_on).days / 360

        def fen(value: Decimal) -> Decimal:
            return value.quantize(FEN, rounding=rounding)

        if method == "bullet":
            interest = fen(principal * rate * term / 12)
            total = principal + interest
            return [(1, dues[-1].isoformat(), str(principal), str(interest), str(total), "0.00")]
        if method == "annuity":
            if monthly == 0:
                level = fen(principal / term)
            else:
                level = fen(principal * monthly / (1 - (1 + monthly) ** -term))
        rows: list[Row] = []
        remaining = principal
        for k in range(1, term + 1):
            interest = fen(remaining * (first_rate if k == 1 else monthly))
            if k == term:
                paid = remaining
            elif method == "annuity":
                paid = level - fen(remaining * monthly)
            elif method == "equal_principal":
                paid = fen(principal / term)
            else:
                paid = Decimal("0.00")
            remaining -= paid
            rows.append(
                (
                    k,
                    dues[k - 1].isoformat(),
                    str(paid),
                    str(interest),
                    str(paid + interest),
                    str(remaining),
                )
            )
        return rows


def as_rows(schedule: tuple[Installment, ...]) -> list[Row]:
    return [
        (
            row.number,
            row.due_date.isoformat(),
            str(row.principal),
            str(row.interest),
            str(row.installment),
            str(row.principal_remaining),
        )
        for row in schedule
    ]


def schedule(
    amount: str,
    annual: str,
    term: int,
    method: str,
    disbursed_on: date,
    day: int,
    **options: object,
) -> tuple[Installment, ...]:
    return build_schedule(
        Money.of(amount),
        AnnualRate.of(annual),
        term,
        parse_repayment_method(method),
        disbursed_on,
        day,
        **options,  # type: ignore[arg-type]
    )


# -- the published check


def test_a_30_year_annuity_of_one_million_at_4_9_percent_pays_5307_27_a_month() -> None:
    rows = schedule("1000000.00", "0.049", 360, "annuity", date(2024, 1, 15), 15)
    assert len(rows) == 360
    assert {row.installment for row in rows[:-1]} == {Money.of("5307.27")}
    # Row 1: interest 1,000,000 × 0.049 / 12 = 4083.333… → 4083.33; principal 5307.27 − 4083.33.
    assert rows[0].as_row() == {
        "number": 1,
        "due_date": "2024-02-15",
        "principal": "1223.94",
        "interest": "4083.33",
        "installment": "5307.27",
        "principal_remaining": "998776.06",
    }
    # The last row takes the remaining principal; its interest is 5283.62 × 0.049 / 12 = 21.57.
    assert rows[-1].as_row() == {
        "number": 360,
        "due_date": "2054-01-15",
        "principal": "5283.62",
        "interest": "21.57",
        "installment": "5305.19",
        "principal_remaining": "0.00",
    }
    assert as_rows(rows) == reference_schedule(
        "1000000.00", "0.049", 360, "annuity", date(2024, 1, 15), 15
    )


# -- annuity 等额本息


def test_an_annuity_with_a_regular_first_period_pays_a_level_installment() -> None:
    rows = schedule("120000.00", "0.06", 12, "annuity", date(2024, 1, 15), 15)
    # P = 120000 × 0.005 / (1 − 1.005^−12) = 600 / 0.0580946… = 10327.97 (10327.9724…).
    assert annuity_payment(Money.of("120000.00"), AnnualRate.of("0.06"), 12) == Money.of("10327.97")
    assert {row.installment for row in rows[:-1]} == {Money.of("10327.97")}
    # Row 1: interest 120000 × 0.005 = 600.00, principal 10327.97 − 600.00 = 9727.97.
    assert (rows[0].interest, rows[0].principal) == (Money.of("600.00"), Money.of("9727.97"))
    # Row 2: interest 110272.03 × 0.005 = 551.36015 → 551.36.
    assert rows[1].interest == Money.of("551.36")
    # Row 12: 10276.61 left; interest 10276.61 × 0.005 = 51.383 → 51.38; 10276.61 + 51.38.
    assert rows[-1].installment == Money.of("10327.99")
    assert as_rows(rows) == reference_schedule(
        "120000.00", "0.06", 12, "annuity", date(2024, 1, 15), 15
    )


def test_an_irregular_first_annuity_installment_charges_actual_days_on_the_regular_principal() -> (
    None
):
    rows = schedule("120000.00", "0.06", 12, "annuity", date(2024, 1, 10), 15)
    # 10 January to 15 February is 36 days: 120000 × 0.06 × 36 / 360 = 720.00. The principal is
    # still the regular portion 10327.97 − 600.00 = 9727.97, so installment 1 is 10447.97.
    assert rows[0].as_row() == {
        "number": 1,
        "due_date": "2024-02-15",
        "principal": "9727.97",
        "interest": "720.00",
        "installment": "10447.97",
        "principal_remaining": "110272.03",
    }
    assert {row.installment for row in rows[1:-1]} == {Money.of("10327.97")}
    assert rows[-1].installment == Money.of("10327.99")
    assert as_rows(rows) == reference_schedule(
        "120000.00", "0.06", 12, "annuity", date(2024, 1, 10), 15
    )


def test_an_annuity_at_a_zero_rate_splits_the_principal_and_the_last_row_takes_the_residue() -> (
    None
):
    rows = schedule("1000.00", "0", 3, "annuity", date(2024, 1, 15), 15)
    # 1000 / 3 = 333.333… → 333.33 twice; the last row takes 1000 − 666.66 = 333.34.
    assert [str(row.installment) for row in rows] == ["333.33", "333.33", "333.34"]
    assert {row.interest for row in rows} == {Money.zero()}


def test_a_one_month_annuity_with_a_long_first_period_is_principal_plus_day_interest() -> None:
    rows = schedule("1000.00", "0.12", 1, "annuity", date(2024, 1, 10), 15)
    # 36 days: 1000 × 0.12 × 36 / 360 = 12.00.
    assert as_rows(rows) == [(1, "2024-02-15", "1000.00", "12.00", "1012.00", "0.00")]


# -- equal principal 等额本金


def test_equal_principal_with_a_regular_first_period() -> None:
    rows = schedule("100000.00", "0.05", 3, "equal_principal", date(2024, 3, 5), 5)
    # 100000 / 3 = 33333.33 (×2), the last row 33333.34. Interest at 0.05 / 12:
    # 100000 → 416.666… → 416.67; 66666.67 → 277.777… → 277.78; 33333.34 → 138.888… → 138.89.
    assert as_rows(rows) == [
        (1, "2024-04-05", "33333.33", "416.67", "33750.00", "66666.67"),
        (2, "2024-05-05", "33333.33", "277.78", "33611.11", "33333.34"),
        (3, "2024-06-05", "33333.34", "138.89", "33472.23", "0.00"),
    ]


def test_equal_principal_with_an_irregular_first_period() -> None:
    rows = schedule("120000.00", "0.06", 12, "equal_principal", date(2024, 1, 10), 15)
    # Row 1: 36 days → 720.00; row 2: 110000 × 0.005 = 550.00; row 12: 10000 × 0.005 = 50.00.
    assert [str(row.installment) for row in rows[:3]] == ["10720.00", "10550.00", "10500.00"]
    assert str(rows[-1].installment) == "10050.00"
    assert as_rows(rows) == reference_schedule(
        "120000.00", "0.06", 12, "equal_principal", date(2024, 1, 10), 15
    )


# -- interest only 先息后本


def test_interest_only_pays_interest_monthly_and_all_principal_at_the_end() -> None:
    regular = schedule("120000.00", "0.06", 12, "interest_only", date(2024, 1, 15), 15)
    # 120000 × 0.06 / 12 = 600.00 every month; the last row adds the 120000.00 principal.
    assert {row.installment for row in regular[:-1]} == {Money.of("600.00")}
    assert regular[-1].as_row()["installment"] == "120600.00"
    irregular = schedule("120000.00", "0.06", 12, "interest_only", date(2024, 1, 10), 15)
    assert [str(row.interest) for row in irregular[:2]] == ["720.00", "600.00"]
    assert as_rows(irregular) == reference_schedule(
        "120000.00", "0.06", 12, "interest_only", date(2024, 1, 10), 15
    )


# -- bullet 一次性还本付息


def test_a_bullet_loan_has_one_installment_at_maturity() -> None:
    rows = schedule("120000.00", "0.06", 12, "bullet", date(2024, 1, 15), 15)
    # 120000 × 0.06 × 12 / 12 = 7200.00, due on the date installment 12 would have.
    assert as_rows(rows) == [(1, "2025-01-15", "120000.00", "7200.00", "127200.00", "0.00")]


def test_a_bullet_loan_charges_whole_months_even_with_an_irregular_first_period() -> None:
    rows = schedule("50000.00", "0.0435", 6, "bullet", date(2024, 1, 10), 15)
    # DESIGN §7 fixes term-based interest: 50000 × 0.0435 × 6 / 12 = 1087.50.
    assert as_rows(rows) == [(1, "2024-07-15", "50000.00", "1087.50", "51087.50", "0.00")]


# -- first-period rule, day counts and rounding


def test_a_first_period_of_exactly_one_clamped_month_is_regular() -> None:
    # One month after 31 January 2023 is 28 February 2023: regular, 120000 × 0.005 = 600.00.
    common = schedule("120000.00", "0.06", 12, "interest_only", date(2023, 1, 31), 28)
    assert common[0].interest == Money.of("600.00")
    # In 2024 one month after 31 January is 29 February, so the period to the 28th is 28 days:
    # 120000 × 0.06 × 28 / 360 = 560.00.
    leap = schedule("120000.00", "0.06", 12, "interest_only", date(2024, 1, 31), 28)
    assert leap[0].interest == Money.of("560.00")


def test_the_irregular_first_period_follows_the_chosen_day_count() -> None:
    act_365 = schedule(
        "120000.00", "0.06", 12, "interest_only", date(2024, 1, 10), 15, day_count=DayCount.ACT_365F
    )
    # 120000 × 0.06 × 36 / 365 = 710.1369… → 710.14.
    assert act_365[0].interest == Money.of("710.14")
    thirty_360 = schedule(
        "120000.00",
        "0.06",
        12,
        "interest_only",
        date(2024, 1, 10),
        15,
        day_count=DayCount.THIRTY_360,
    )
    # 30/360 counts 30 + (15 − 10) = 35 days: 120000 × 0.06 × 35 / 360 = 700.00.
    assert thirty_360[0].interest == Money.of("700.00")
    # Regular periods are annual / 12 whatever the day count.
    assert act_365[1].interest == thirty_360[1].interest == Money.of("600.00")


def test_rounding_is_half_up_by_default_and_half_even_on_request() -> None:
    # 1001.00 × 0.06 / 12 = 5.005, a tie: half-up 5.01, half-even 5.00.
    half_up = schedule("1001.00", "0.06", 2, "interest_only", date(2024, 1, 15), 15)
    half_even = schedule(
        "1001.00", "0.06", 2, "interest_only", date(2024, 1, 15), 15, rounding=ROUND_HALF_EVEN
    )
    assert [str(row.interest) for row in half_up] == ["5.01", "5.01"]
    assert [str(row.interest) for row in half_even] == ["5.00", "5.00"]
    assert as_rows(half_even) == reference_schedule(
        "1001.00", "0.06", 2, "interest_only", date(2024, 1, 15), 15, ROUND_HALF_EVEN
    )


@pytest.mark.parametrize(
    ("amount", "annual", "term", "method", "disbursed_on", "day"),
    [
        ("250000.00", "0.0435", 36, "annuity", date(2023, 11, 30), 28),
        ("9999.99", "0.1799", 24, "annuity", date(2024, 2, 29), 1),
        ("1000.00", "0.2399", 60, "annuity", date(2024, 6, 1), 1),
        ("777777.77", "0.0365", 240, "equal_principal", date(2024, 8, 31), 28),
        ("3000.00", "0.24", 7, "interest_only", date(2024, 12, 31), 10),
        ("88888.88", "0.0001", 600, "annuity", date(2024, 5, 20), 20),
    ],
)
def test_schedules_match_an_independent_reference_computation_to_the_fen(
    amount: str, annual: str, term: int, method: str, disbursed_on: date, day: int
) -> None:
    rows = schedule(amount, annual, term, method, disbursed_on, day)
    assert as_rows(rows) == reference_schedule(amount, annual, term, method, disbursed_on, day)


def test_a_tiny_principal_never_overpays_and_keeps_the_contract_term() -> None:
    rows = schedule("0.05", "0", 10, "equal_principal", date(2024, 1, 15), 15)
    # 0.05 / 10 = 0.005 → 0.01 half-up, so five rows clear it and the other five carry 0.00.
    assert [str(row.principal) for row in rows] == ["0.01"] * 5 + ["0.00"] * 5
    assert rows[-1].due_date == date(2024, 11, 15)
    assert rows[-1].principal_remaining == Money.zero()


def test_a_tiny_annuity_stops_taking_principal_once_it_is_repaid() -> None:
    rows = schedule("1.00", "0.2399", 60, "annuity", date(2024, 6, 1), 1)
    # P = 0.0287… → 0.03; rounding it up repays the principal early. Applied literally, the rule
    # principal = P − interest would drive row 59 to −0.02 (the reference computation does);
    # instead row 59 takes only the 0.01 left and row 60 carries 0.00.
    naive = reference_schedule("1.00", "0.2399", 60, "annuity", date(2024, 6, 1), 1)
    assert naive[58][5] == "-0.02"
    assert as_rows(rows)[58] == (59, "2029-05-01", "0.01", "0.00", "0.01", "0.00")
    assert as_rows(rows)[59] == (60, "2029-06-01", "0.00", "0.00", "0.00", "0.00")
    assert all(not row.principal_remaining.is_negative for row in rows)
    assert as_rows(rows)[:58] == naive[:58]


def test_rows_are_json_ready() -> None:
    rows = schedule("1000.00", "0.049", 2, "annuity", date(2024, 1, 15), 15)
    assert json.loads(json.dumps([row.as_row() for row in rows]))[0] == {
        "number": 1,
        "due_date": "2024-02-15",
        # P = 1000 × 0.0040833… / (1 − 1.0040833…^−2) = 503.0645… → 503.06; interest
        # 1000 × 0.049 / 12 = 4.0833… → 4.08; principal 503.06 − 4.08 = 498.98.
        "principal": "498.98",
        "interest": "4.08",
        "installment": "503.06",
        "principal_remaining": "501.02",
    }


def test_a_row_whose_installment_is_not_principal_plus_interest_is_refused() -> None:
    with pytest.raises(InvalidAmountError, match="is not principal"):
        Installment(
            1, date(2024, 2, 15), Money.of("1"), Money.of("1"), Money.of("3"), Money.of("0")
        )


# -- refused inputs


@pytest.mark.parametrize("term", [0, 601, -12])
def test_a_term_outside_1_to_600_months_is_refused(term: int) -> None:
    with pytest.raises(InvalidTermError, match="term_months must be between 1 and 600"):
        schedule("1000.00", "0.05", term, "annuity", date(2024, 1, 15), 15)


def test_a_repayment_day_of_29_is_refused() -> None:
    with pytest.raises(InvalidTermError, match="repayment_day must be between 1 and 28"):
        schedule("1000.00", "0.05", 12, "annuity", date(2024, 1, 29), 29)


@pytest.mark.parametrize("amount", ["0.00", "-100.00"])
def test_a_principal_that_is_not_positive_is_refused(amount: str) -> None:
    with pytest.raises(InvalidAmountError, match="principal must be greater than zero"):
        schedule(amount, "0.05", 12, "annuity", date(2024, 1, 15), 15)


def test_an_unknown_repayment_method_is_refused() -> None:
    with pytest.raises(UnknownRepaymentMethodError, match="repayment_method must be one of"):
        parse_repayment_method("balloon")
    with pytest.raises(UnknownRepaymentMethodError, match="got 'Annuity'"):
        schedule("1000.00", "0.05", 12, "Annuity", date(2024, 1, 15), 15)


def test_a_rate_that_is_not_an_annual_rate_value_is_refused() -> None:
    with pytest.raises(InvalidRateError, match="annual_rate must be an AnnualRate"):
        build_schedule(
            Money.of("1000.00"),
            Decimal("0.05"),  # type: ignore[arg-type]
            12,
            RepaymentMethod.ANNUITY,
            date(2024, 1, 15),
            15,
        )


def test_a_rounding_other_than_the_half_way_rules_is_refused() -> None:
    with pytest.raises(InvalidRoundingError, match="ROUND_HALF_UP or ROUND_HALF_EVEN"):
        schedule("1000.00", "0.05", 12, "annuity", date(2024, 1, 15), 15, rounding="ROUND_UP")


# -- re-amortisation

BASE = schedule("120000.00", "0.06", 12, "annuity", date(2024, 1, 15), 15)
RATE = AnnualRate.of("0.06")
# After rows 1–3 of BASE the scheduled outstanding is 90669.93 (see the annuity test above).


def test_a_prepayment_on_a_due_date_keeps_the_term_and_lowers_the_installment() -> None:
    rows = reamortise_after_prepayment(
        BASE, date(2024, 4, 15), Money.of("20000.00"), RATE, RepaymentMethod.ANNUITY
    )
    # 90669.93 − 20000.00 = 70669.93 over the 9 remaining months, from a due date (regular).
    assert [row.number for row in rows] == list(range(4, 13))
    assert rows[0].due_date == date(2024, 5, 15)
    # P = 70669.93 × 0.005 / (1 − 1.005^−9) = 8049.8252… → 8049.83; interest
    # 70669.93 × 0.005 = 353.34965 → 353.35; principal 8049.83 − 353.35 = 7696.48.
    assert rows[0].as_row() == {
        "number": 4,
        "due_date": "2024-05-15",
        "principal": "7696.48",
        "interest": "353.35",
        "installment": "8049.83",
        "principal_remaining": "62973.45",
    }
    assert {row.installment for row in rows[:-1]} == {Money.of("8049.83")}
    assert sum(row.principal.amount for row in rows) == Decimal("70669.93")
    reference = reference_schedule("70669.93", "0.06", 9, "annuity", date(2024, 4, 15), 15)
    assert [row[2:] for row in as_rows(rows)] == [row[2:] for row in reference]


def test_a_prepayment_between_due_dates_starts_an_irregular_period_on_the_prepayment_date() -> None:
    rows = reamortise_after_prepayment(
        BASE, date(2024, 4, 25), Money.of("20000.00"), RATE, RepaymentMethod.ANNUITY
    )
    # Row 3 (due 15 April) is kept, so 70669.93 remains; 25 April to 15 May is 20 days:
    # 70669.93 × 0.06 × 20 / 360 = 235.5664… → 235.57. The principal is the regular portion
    # 8049.83 − 353.35 = 7696.48, so the installment is 7696.48 + 235.57 = 7932.05.
    assert rows[0].as_row() == {
        "number": 4,
        "due_date": "2024-05-15",
        "principal": "7696.48",
        "interest": "235.57",
        "installment": "7932.05",
        "principal_remaining": "62973.45",
    }
    # The interest from 15 to 25 April on 90669.93 is settled with the prepayment:
    # 90669.93 × 0.06 × 10 / 360 = 151.1165… → 151.12.
    assert accrued_interest(
        Money.of("90669.93"), RATE, date(2024, 4, 15), date(2024, 4, 25)
    ) == Money.of("151.12")


def test_a_prepayment_keeping_the_installment_shortens_the_term() -> None:
    rows = reamortise_after_prepayment(
        BASE,
        date(2024, 4, 15),
        Money.of("20000.00"),
        RATE,
        RepaymentMethod.ANNUITY,
        keep=Keep.INSTALLMENT,
    )
    # 70669.93 at 10327.97 a month: 7 installments (6 level ones and a smaller last one).
    assert [row.number for row in rows] == list(range(4, 11))
    assert {row.installment for row in rows[:-1]} == {Money.of("10327.97")}
    assert rows[-1].installment < Money.of("10327.97")
    assert sum(row.principal.amount for row in rows) == Decimal("70669.93")
    assert rows[-1].principal_remaining == Money.zero()


def test_keeping_the_installment_of_equal_principal_keeps_the_principal_portion() -> None:
    base = schedule("120000.00", "0.06", 12, "equal_principal", date(2024, 1, 15), 15)
    rows = reamortise_after_prepayment(
        base,
        date(2024, 4, 15),
        Money.of("25000.00"),
        RATE,
        "equal_principal",
        keep="installment",
    )
    # 90000.00 − 25000.00 = 65000.00 at 10000.00 a month: six rows and a last one of 5000.00.
    assert [str(row.principal) for row in rows] == ["10000.00"] * 6 + ["5000.00"]
    assert rows[-1].due_date == date(2024, 11, 15)


def test_keeping_the_installment_is_refused_for_interest_only() -> None:
    base = schedule("120000.00", "0.06", 12, "interest_only", date(2024, 1, 15), 15)
    with pytest.raises(InvalidTermError, match="only to annuity and equal_principal"):
        reamortise_after_prepayment(
            base, date(2024, 4, 15), Money.of("1.00"), RATE, "interest_only", keep="installment"
        )


def test_a_level_that_does_not_cover_the_interest_is_refused() -> None:
    with pytest.raises(InvalidAmountError, match="does not cover the interest"):
        shorten_term(
            Money.of("100000.00"),
            RATE,
            12,
            "annuity",
            date(2024, 1, 15),
            date(2024, 2, 15),
            Money.of("500.00"),
            first_number=1,
        )


def test_prepaying_the_whole_outstanding_leaves_no_rows() -> None:
    assert (
        reamortise_after_prepayment(
            BASE, date(2024, 4, 15), Money.of("90669.93"), RATE, RepaymentMethod.ANNUITY
        )
        == ()
    )


def test_prepaying_more_than_the_outstanding_is_refused() -> None:
    with pytest.raises(InvalidAmountError, match=r"exceeds the outstanding principal 90669\.93"):
        reamortise_after_prepayment(
            BASE, date(2024, 4, 15), Money.of("90669.94"), RATE, RepaymentMethod.ANNUITY
        )


def test_a_prepayment_on_or_after_the_last_due_date_is_refused() -> None:
    with pytest.raises(InvalidDateError, match="nothing remains to re-amortise"):
        reamortise_after_prepayment(
            BASE, date(2025, 1, 15), Money.of("1.00"), RATE, RepaymentMethod.ANNUITY
        )


def test_a_bullet_prepayment_charges_the_stub_by_days_and_the_rest_by_months() -> None:
    base = schedule("120000.00", "0.06", 12, "bullet", date(2024, 1, 15), 15)
    rows = reamortise_after_prepayment(
        base, date(2024, 3, 10), Money.of("20000.00"), RATE, RepaymentMethod.BULLET
    )
    # 100000.00 from 10 March: 5 days to 15 March, then 10 months to 15 January 2025:
    # 100000 × (0.06 × 5 / 360 + 0.005 × 10) = 83.333… + 5000 = 5083.33.
    assert as_rows(rows) == [(1, "2025-01-15", "100000.00", "5083.33", "105083.33", "0.00")]


def test_a_rate_change_applies_from_the_next_due_date_on_or_after_it() -> None:
    new_rate = AnnualRate.of("0.0435")
    rows = reamortise_after_rate_change(BASE, date(2024, 4, 20), new_rate, "annuity")
    # The period to 15 May keeps 6%; rows 5–12 re-amortise 80795.31 at 4.35% over 8 months.
    assert [row.number for row in rows] == list(range(5, 13))
    # P = 80795.31 × 0.003625 / (1 − 1.003625^−8) = 10264.8559… → 10264.86;
    # interest 80795.31 × 0.0435 / 12 = 292.8829… → 292.88.
    assert (str(rows[0].installment), str(rows[0].interest)) == ("10264.86", "292.88")
    reference = reference_schedule("80795.31", "0.0435", 8, "annuity", date(2024, 5, 15), 15)
    assert [row[2:] for row in as_rows(rows)] == [row[2:] for row in reference]
    on_the_due_date = reamortise_after_rate_change(BASE, date(2024, 5, 15), new_rate, "annuity")
    assert on_the_due_date == rows


def test_a_rate_change_on_the_last_period_leaves_nothing_to_re_amortise() -> None:
    assert reamortise_after_rate_change(BASE, date(2025, 1, 1), RATE, "annuity") == ()
    with pytest.raises(InvalidDateError, match="after the last due date"):
        reamortise_after_rate_change(BASE, date(2025, 1, 16), RATE, "annuity")


def test_a_restructure_re_amortises_the_outstanding_over_the_new_term_from_its_date() -> None:
    rows = reamortise_after_restructure(
        BASE, date(2024, 4, 15), 24, RATE, RepaymentMethod.EQUAL_PRINCIPAL
    )
    # 90669.93 over 24 months from 15 April (a due date: regular), numbered from 4.
    assert [row.number for row in rows] == list(range(4, 28))
    assert rows[-1].due_date == date(2026, 4, 15)
    # 90669.93 / 24 = 3777.91375 → 3777.91; interest 90669.93 × 0.005 = 453.34965 → 453.35.
    assert (str(rows[0].principal), str(rows[0].interest)) == ("3777.91", "453.35")
    assert sum(row.principal.amount for row in rows) == Decimal("90669.93")


def test_a_restructure_can_capitalise_arrears_into_the_principal() -> None:
    rows = reamortise_after_restructure(
        BASE,
        date(2024, 4, 25),
        12,
        RATE,
        "annuity",
        principal=Money.of("91000.00"),
    )
    # 25 April to 15 May is 20 days: 91000 × 0.06 × 20 / 360 = 303.33.
    assert rows[0].interest == Money.of("303.33")
    assert sum(row.principal.amount for row in rows) == Decimal("91000.00")


def test_reamortise_numbers_rows_on_and_follows_the_first_period_rule() -> None:
    rows = reamortise(
        Money.of("1000.00"),
        RATE,
        2,
        "interest_only",
        date(2024, 1, 15),
        date(2024, 2, 15),
        first_number=7,
    )
    assert [(row.number, str(row.interest)) for row in rows] == [(7, "5.00"), (8, "5.00")]
    with pytest.raises(InvalidDateError, match="must be after the accrual start"):
        reamortise(
            Money.of("1000.00"),
            RATE,
            2,
            "annuity",
            date(2024, 2, 15),
            date(2024, 2, 15),
            first_number=1,
        )
