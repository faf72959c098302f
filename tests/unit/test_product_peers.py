"""Products checked against schedules other systems publish (issue 19, "Peers").

Each published table is copied inline from its source, a scenario of Apache Fineract's end-to-end
test suite (repository `apache/fineract`, the path and scenario name in each test's docstring).
A Fineract scenario states its loan product's conventions in the scenario's table and the
product's name (`..._EMI_360_30`: days in year 360, days in month 30; `..._EMI_365_ACTUAL`: days in
year 365, actual days in month; `..._ACTUAL_ACTUAL`: actual both), its currency is EUR with two
places, and every installment is due on the disbursement day of the following months. Amounts
are written here to two places (Fineract prints 16.6 for 16.60). The tables were read at commit
0258af6872d8b87c3e8049504387d91394622a32 (EMICalculation.feature) and
4198b0bcf9a94e1c7aa0f386317ba71f40ceb1d9 (Loan.feature, LoanRepayment.feature,
LoanDownPayment.feature, and the progressive loans' ProgressiveEMICalculator.java).

Where our product can express the scenario's conventions the test defines that product, records
the loan on the ledger and asserts our schedule equals the published one row by row, to the cent.
Where a convention differs, the test pins our figure beside the published one and the difference
between them; docs/products.md ("How this compares with other systems") says why.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.money import Money
from loanledger.domain.rates import AnnualRate, DayCount
from loanledger.domain.schedule import accrued_interest
from tests.journal import disburse, repay
from tests.products.builders import loan_on, product

Row = tuple[str, str, str, str, str]
"""A schedule row as the tests compare it: due date, principal, interest, installment, balance."""

ROUNDINGS = ("HALF_UP", "HALF_EVEN")


def _ledger(
    *,
    amount: str,
    annual_rate: str,
    term_months: int,
    disbursed_on: str,
    day_count: str,
    rounding: str = "HALF_EVEN",
    method: str = "annuity",
    repayment_day: int | None = None,
) -> LoanLedger:
    """A EUR product with the scenario's conventions and one loan on it, disbursed in full.

    The loan is applied for, approved and disbursed on the same day, as in the Fineract scenarios,
    and its repayment day is the disbursement day unless `repayment_day` says otherwise, so
    installment k is due k months later.
    """
    ledger = LoanLedger.open("memory://")
    ledger.execute(
        product(
            "PEER",
            on="2020-01-01",
            name="peer comparison",
            currency="EUR",
            repayment_methods=[method],
            amount_min="1.00",
            amount_max="100000.00",
            term_min=1,
            term_max=36,
            rate_min="0",
            rate_max="0.5",
            day_count=day_count,
            rounding=rounding,
        )
    )
    lines: list[dict[str, Any]] = loan_on(
        "PEER",
        amount=amount,
        term_months=term_months,
        annual_rate=annual_rate,
        method=method,
        applied_on=disbursed_on,
        approved_on=disbursed_on,
        repayment_day=repayment_day or int(disbursed_on[-2:]),
    )
    lines[0]["currency"] = "EUR"
    for line in lines:
        ledger.execute(line)
    ledger.execute(disburse("L-1", disbursed_on, amount))
    return ledger


def _rows(ledger: LoanLedger) -> list[Row]:
    return [
        (
            row["due_date"],
            row["principal"],
            row["interest"],
            row["installment"],
            row["principal_remaining"],
        )
        for row in ledger.schedule("L-1")
    ]


def _total_interest(rows: list[Row]) -> Decimal:
    return sum((Decimal(row[2]) for row in rows), Decimal("0"))


# -- schedules we reproduce to the cent -----------------------------------------------------------

# fineract-e2e-tests-runner/src/test/resources/features/EMICalculation.feature,
# "EMI calculation with 360/30 setup - integer" (TestRail C3154): 100 EUR at 12 % for 6 months,
# disbursed 1 January 2024, product LP2_ADV_PYMNT_INTEREST_DAILY_EMI_360_30, equal installments.
FINERACT_C3154: list[Row] = [
    ("2024-02-01", "16.25", "1.00", "17.25", "83.75"),
    ("2024-03-01", "16.41", "0.84", "17.25", "67.34"),
    ("2024-04-01", "16.58", "0.67", "17.25", "50.76"),
    ("2024-05-01", "16.74", "0.51", "17.25", "34.02"),
    ("2024-06-01", "16.91", "0.34", "17.25", "17.11"),
    ("2024-07-01", "17.11", "0.17", "17.28", "0.00"),
]

# The same file, "EMI calculation with 360/30 setup - decimal" (C3155): 100 EUR at 9.4822 %.
FINERACT_C3155: list[Row] = [
    ("2024-02-01", "16.34", "0.79", "17.13", "83.66"),
    ("2024-03-01", "16.47", "0.66", "17.13", "67.19"),
    ("2024-04-01", "16.60", "0.53", "17.13", "50.59"),
    ("2024-05-01", "16.73", "0.40", "17.13", "33.86"),
    ("2024-06-01", "16.86", "0.27", "17.13", "17.00"),
    ("2024-07-01", "17.00", "0.13", "17.13", "0.00"),
]

# fineract-e2e-tests-runner/src/test/resources/features/Loan.feature,
# "Early pay-off loan with interest, TILL_PRECLOSE product": 100 EUR at 7 % for 6 months,
# disbursed 1 January 2024, product LP2_ADV_PYMNT_INTEREST_DAILY_EMI_360_30_INTEREST_RECALCULATION_
# TILL_PRECLOSE (360/30, equal installments).
FINERACT_TILL_PRECLOSE: list[Row] = [
    ("2024-02-01", "16.43", "0.58", "17.01", "83.57"),
    ("2024-03-01", "16.52", "0.49", "17.01", "67.05"),
    ("2024-04-01", "16.62", "0.39", "17.01", "50.43"),
    ("2024-05-01", "16.72", "0.29", "17.01", "33.71"),
    ("2024-06-01", "16.81", "0.20", "17.01", "16.90"),
    ("2024-07-01", "16.90", "0.10", "17.00", "0.00"),
]

# fineract-e2e-tests-runner/src/test/resources/features/LoanRepayment.feature, "RS04 - Repayment
# Schedule with interest type: Declining Balance, interest period: Same as payment period,
# amortization type: Equal principal payments": 5000 EUR at 12 % for 18 months, disbursed
# 1 November 2022, product LP1_INTEREST_DECLINING_BALANCE_PERIOD_SAME_AS_PAYMENT.
FINERACT_RS04: list[Row] = [
    ("2022-12-01", "277.78", "50.00", "327.78", "4722.22"),
    ("2023-01-01", "277.78", "47.22", "325.00", "4444.44"),
    ("2023-02-01", "277.78", "44.44", "322.22", "4166.66"),
    ("2023-03-01", "277.78", "41.67", "319.45", "3888.88"),
    ("2023-04-01", "277.78", "38.89", "316.67", "3611.10"),
    ("2023-05-01", "277.78", "36.11", "313.89", "3333.32"),
    ("2023-06-01", "277.78", "33.33", "311.11", "3055.54"),
    ("2023-07-01", "277.78", "30.56", "308.34", "2777.76"),
    ("2023-08-01", "277.78", "27.78", "305.56", "2499.98"),
    ("2023-09-01", "277.78", "25.00", "302.78", "2222.20"),
    ("2023-10-01", "277.78", "22.22", "300.00", "1944.42"),
    ("2023-11-01", "277.78", "19.44", "297.22", "1666.64"),
    ("2023-12-01", "277.78", "16.67", "294.45", "1388.86"),
    ("2024-01-01", "277.78", "13.89", "291.67", "1111.08"),
    ("2024-02-01", "277.78", "11.11", "288.89", "833.30"),
    ("2024-03-01", "277.78", "8.33", "286.11", "555.52"),
    ("2024-04-01", "277.78", "5.56", "283.34", "277.74"),
    ("2024-05-01", "277.74", "2.78", "280.52", "0.00"),
]


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_a_30_360_annuity_at_12_percent_equals_fineract_s_published_schedule(
    rounding: str,
) -> None:
    """Fineract EMICalculation.feature, "EMI calculation with 360/30 setup - integer" (C3154).

    Every period is a whole month, so both systems charge annual / 12 on the balance, and the
    level payment 100 × 0.01 / (1 − 1.01^−6) = 17.2548 rounds to 17.25. The last installment
    takes what is left (17.11 + 0.17 = 17.28): Fineract's rule to re-level the payment applies
    only when the last installment differs by more than half the number of installments in
    cents (3 here), and this one differs by 3.
    """
    ledger = _ledger(
        amount="100.00",
        annual_rate="0.12",
        term_months=6,
        disbursed_on="2024-01-01",
        day_count="30/360",
        rounding=rounding,
    )
    assert _rows(ledger) == FINERACT_C3154
    assert _total_interest(FINERACT_C3154) == Decimal("3.53")  # the scenario's Total row


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_a_30_360_annuity_at_a_four_place_rate_equals_fineract_s_published_schedule(
    rounding: str,
) -> None:
    """Fineract EMICalculation.feature, "EMI calculation with 360/30 setup - decimal" (C3155).

    9.4822 % / 12 = 0.79018 % a month; the level payment 17.1306 rounds to 17.13 and the last
    installment happens to equal it.
    """
    ledger = _ledger(
        amount="100.00",
        annual_rate="0.094822",
        term_months=6,
        disbursed_on="2024-01-01",
        day_count="30/360",
        rounding=rounding,
    )
    assert _rows(ledger) == FINERACT_C3155
    assert _total_interest(FINERACT_C3155) == Decimal("2.78")


def test_a_30_360_annuity_at_7_percent_equals_fineract_s_published_schedule() -> None:
    """Fineract Loan.feature, "Early pay-off loan with interest, TILL_PRECLOSE product": the
    schedule before any payment (the pay-off itself is compared in
    `test_paying_off_mid_period_charges_our_day_count_where_fineract_prorates_the_period`)."""
    ledger = _ledger(
        amount="100.00",
        annual_rate="0.07",
        term_months=6,
        disbursed_on="2024-01-01",
        day_count="30/360",
    )
    assert _rows(ledger) == FINERACT_TILL_PRECLOSE
    assert _total_interest(FINERACT_TILL_PRECLOSE) == Decimal("2.05")


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_an_equal_principal_loan_equals_fineract_s_published_schedule(rounding: str) -> None:
    """Fineract LoanRepayment.feature, "RS04 - Repayment Schedule with interest type: Declining
    Balance, interest period: Same as payment period, amortization type: Equal principal
    payments".

    5000 / 18 = 277.777... rounds to 277.78 a month; the 18th installment takes the 277.74 left.
    Interest is 1 % of the balance each month, rounded row by row: 4166.66 × 1 % = 41.6666 →
    41.67, 3888.88 × 1 % = 38.8888 → 38.89.
    """
    ledger = _ledger(
        amount="5000.00",
        annual_rate="0.12",
        term_months=18,
        disbursed_on="2022-11-01",
        day_count="30/360",
        rounding=rounding,
        method="equal_principal",
    )
    assert _rows(ledger) == FINERACT_RS04
    assert _total_interest(FINERACT_RS04) == Decimal("475.00")


# -- conventions that differ: our figure pinned beside the published one -------------------------

# EMICalculation.feature, "EMI calculation with 360/30 setup - decimal - iterate" (C3165):
# 75 EUR at 12.3 % for 5 months, disbursed 1 January 2024, 360/30.
FINERACT_C3165: list[Row] = [
    ("2024-02-01", "14.70", "0.77", "15.47", "60.30"),
    ("2024-03-01", "14.85", "0.62", "15.47", "45.45"),
    ("2024-04-01", "15.00", "0.47", "15.47", "30.45"),
    ("2024-05-01", "15.16", "0.31", "15.47", "15.29"),
    ("2024-06-01", "15.29", "0.16", "15.45", "0.00"),
]
OURS_C3165: list[Row] = [
    ("2024-02-01", "14.69", "0.77", "15.46", "60.31"),
    ("2024-03-01", "14.84", "0.62", "15.46", "45.47"),
    ("2024-04-01", "14.99", "0.47", "15.46", "30.48"),
    ("2024-05-01", "15.15", "0.31", "15.46", "15.33"),
    ("2024-06-01", "15.33", "0.16", "15.49", "0.00"),
]


def test_fineract_re_levels_the_payment_when_the_last_installment_is_off_and_we_do_not() -> None:
    """Fineract EMICalculation.feature, "EMI calculation with 360/30 setup - decimal - iterate"
    (C3165).

    The level payment 75 × 0.01025 / (1 − 1.01025^−5) = 15.4644 rounds to 15.46 in both systems,
    which leaves a last installment of 15.49, 3 cents over. Fineract then moves every installment
    by 0.03 / 5 rounded (0.01) to 15.47 because that brings the last one closer (15.45, 2 cents
    under); we keep the correctly rounded payment of the formula and let the last installment
    take the difference. The interest of each installment, the total interest (2.33) and the
    total paid (77.33) are the same in both; the principal moves by a cent a month.
    """
    ledger = _ledger(
        amount="75.00",
        annual_rate="0.123",
        term_months=5,
        disbursed_on="2024-01-01",
        day_count="30/360",
    )
    ours = _rows(ledger)
    assert ours == OURS_C3165
    assert Decimal(ours[-1][3]) - Decimal(ours[0][3]) == Decimal("0.03")
    assert Decimal(FINERACT_C3165[0][3]) - Decimal(ours[0][3]) == Decimal("0.01")
    assert [row[2] for row in ours] == [row[2] for row in FINERACT_C3165]
    assert (_total_interest(ours), _total_interest(FINERACT_C3165)) == (
        Decimal("2.33"),
        Decimal("2.33"),
    )
    total_paid = sum((Decimal(row[3]) for row in ours), Decimal("0"))
    assert total_paid == sum((Decimal(row[3]) for row in FINERACT_C3165), Decimal("0"))


# EMICalculation.feature, "EMI calculation with 365/Actual setup - integer" (C3159): 100 EUR at
# 12 % for 6 months, disbursed 1 January 2024, days in year 365, actual days in month.
FINERACT_C3159: list[Row] = [
    ("2024-02-01", "16.23", "1.02", "17.25", "83.77"),
    ("2024-03-01", "16.45", "0.80", "17.25", "67.32"),
    ("2024-04-01", "16.56", "0.69", "17.25", "50.76"),
    ("2024-05-01", "16.75", "0.50", "17.25", "34.01"),
    ("2024-06-01", "16.90", "0.35", "17.25", "17.11"),
    ("2024-07-01", "17.11", "0.17", "17.28", "0.00"),
]


def test_a_regular_month_is_a_twelfth_of_the_rate_under_act_365f_where_fineract_counts_days() -> (
    None
):
    """Fineract EMICalculation.feature, "EMI calculation with 365/Actual setup - integer" (C3159).

    Fineract charges each month its actual days over 365 (January: 100 × 12 % × 31 / 365 =
    1.0192 → 1.02; February: 83.77 × 12 % × 29 / 365 = 0.7987 → 0.80). Our ACT/365F product
    charges a whole month annual / 12 (DESIGN §7; 1.00, then 0.84) and counts days only in an
    irregular first period, a prepayment's broken period and penalty. The payment, 17.25, is the
    same; the split between interest and principal moves by up to 0.04 a month.
    """
    ledger = _ledger(
        amount="100.00",
        annual_rate="0.12",
        term_months=6,
        disbursed_on="2024-01-01",
        day_count="ACT/365F",
    )
    ours = _rows(ledger)
    assert ours == FINERACT_C3154  # the same as 30/360: every period is a regular month
    assert [row[3] for row in ours] == [row[3] for row in FINERACT_C3159]
    differences = [
        Decimal(mine[2]) - Decimal(theirs[2])
        for mine, theirs in zip(ours, FINERACT_C3159, strict=True)
    ]
    assert differences == [
        Decimal("-0.02"),
        Decimal("0.04"),
        Decimal("-0.02"),
        Decimal("0.01"),
        Decimal("-0.01"),
        Decimal("0.00"),
    ]


# EMICalculation.feature, "EMI calculation with Actual/Actual setup - integer" (C3152):
# 10000 EUR at 12 % for 6 months, disbursed 12 December 2023 (the first period straddles the
# year end, and Fineract charges it 19 days over 365 and 12 days over 366).
FINERACT_C3152: list[Row] = [
    ("2024-01-12", "1623.75", "101.81", "1725.56", "8376.25"),
    ("2024-02-12", "1640.42", "85.14", "1725.56", "6735.83"),
    ("2024-03-12", "1661.51", "64.05", "1725.56", "5074.32"),
    ("2024-04-12", "1673.98", "51.58", "1725.56", "3400.34"),
    ("2024-05-12", "1692.11", "33.45", "1725.56", "1708.23"),
    ("2024-06-12", "1708.23", "17.36", "1725.59", "0.00"),
]
OURS_C3152: list[Row] = [
    ("2024-01-12", "1625.48", "100.00", "1725.48", "8374.52"),
    ("2024-02-12", "1641.73", "83.75", "1725.48", "6732.79"),
    ("2024-03-12", "1658.15", "67.33", "1725.48", "5074.64"),
    ("2024-04-12", "1674.73", "50.75", "1725.48", "3399.91"),
    ("2024-05-12", "1691.48", "34.00", "1725.48", "1708.43"),
    ("2024-06-12", "1708.43", "17.08", "1725.51", "0.00"),
]


def test_act_act_charges_a_whole_month_a_twelfth_where_fineract_counts_its_days() -> None:
    """Fineract EMICalculation.feature, "EMI calculation with Actual/Actual setup - integer"
    (C3152).

    Fineract's first month is 10000 × 12 % × (19 / 365 + 12 / 366) = 101.81, and its level
    payment 1725.56 comes from those day-counted period rates. Our ACT/ACT product charges each
    whole month 1 % (100.00), so its payment is the textbook annuity 10000 × 0.01 /
    (1 − 1.01^−6) = 1725.4837 → 1725.48, and the loan costs 0.48 less (352.91 against 353.39).
    Where we do count days under ACT/ACT (an irregular first period) the year-end split differs
    by one day too: ISDA (ours) counts 31 December in its own year, 20 / 365 + 11 / 366 for the
    first period here (101.82), while Fineract's splitter (`calculatePeriodFractions` in
    fineract-progressive-loan's ProgressiveEMICalculator.java) counts the days to 31 December in
    the old year and from 31 December in the new one, 19 / 365 + 12 / 366 (101.81).
    """
    ledger = _ledger(
        amount="10000.00",
        annual_rate="0.12",
        term_months=6,
        disbursed_on="2023-12-12",
        day_count="ACT/ACT",
    )
    ours = _rows(ledger)
    assert ours == OURS_C3152
    assert (_total_interest(ours), _total_interest(FINERACT_C3152)) == (
        Decimal("352.91"),
        Decimal("353.39"),
    )
    # A loan disbursed on 12 December with a repayment day of 13 has an irregular first period
    # of 32 days (12 December to 13 January), charged by ISDA ACT/ACT: 20 days of 2023 over 365
    # and 12 of 2024 over 366. Fineract's split (19 / 365 + 13 / 366) would charge a cent less.
    straddling = _ledger(
        amount="10000.00",
        annual_rate="0.12",
        term_months=6,
        disbursed_on="2023-12-12",
        day_count="ACT/ACT",
        repayment_day=13,
    )
    first = straddling.schedule("L-1")[0]
    # 10000 × 0.12 × (20 / 365 + 12 / 366) = 65.7534 + 39.3443 = 105.0977 → 105.10.
    assert (first["due_date"], first["interest"]) == ("2024-01-13", "105.10")
    # The scenario's own period by ISDA: 10000 × 0.12 × (20 / 365 + 11 / 366) = 101.8191 → 101.82,
    # a cent over Fineract's 101.81.
    isda = accrued_interest(
        Money.of("10000.00", "EUR"),
        AnnualRate.of("0.12"),
        date(2023, 12, 12),
        date(2024, 1, 12),
        day_count=DayCount.ACT_ACT,
        rounding=ROUND_HALF_EVEN,
    )
    assert isda == Money.of("101.82", "EUR")
    fineract_split = Decimal(10000) * Decimal("0.12") * (Decimal(19) / 365 + Decimal(13) / 366)
    assert fineract_split.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) == Decimal("105.09")


def test_paying_off_mid_period_charges_our_day_count_where_fineract_prorates_the_period() -> None:
    """Fineract Loan.feature, "Early pay-off loan with interest, TILL_PRECLOSE product".

    After the first installment (17.01) is paid on 1 February 2024, the loan is paid off on
    15 February with 83.81: 83.57 principal and 0.24 interest, which is one month's interest
    prorated by the period's actual days, 83.57 × 7 % / 12 × 14 / 29 = 0.2353. Our 30/360
    product charges the broken period by its day count, 83.57 × 7 % × 14 / 360 = 0.2275 → 0.23,
    so our pay-off quote is 83.80.
    """
    ledger = _ledger(
        amount="100.00",
        annual_rate="0.07",
        term_months=6,
        disbursed_on="2024-01-01",
        day_count="30/360",
    )
    ledger.execute(repay("L-1", "2024-02-01", "17.01", "R-1"))
    quote = ledger.payoff("L-1", "2024-02-15")
    assert (quote["principal"], quote["interest"], quote["total"]) == ("83.57", "0.23", "83.80")
    fineract_interest = Decimal("0.24")
    assert fineract_interest - Decimal(quote["interest"]) == Decimal("0.01")
    ledger.execute(repay("L-1", "2024-02-15", quote["total"], "R-2", prepay=True))
    view = ledger.loan("L-1", as_of="2024-02-15")
    assert (view["principal_outstanding"], view["overpayment"]) == ("0.00", "0.00")


def test_installments_are_rounded_to_the_cent_where_fineract_can_round_them_to_whole_units() -> (
    None
):
    """Fineract LoanDownPayment.feature, "Verify correct Loan Repayment EMI Amount is calculated
    and is rounded off if loan product installmentAmountInMultiplesOf is set".

    After a 312 down payment, Fineract's product (installment amounts in multiples of 1) spreads
    the remaining 938 at 0 % over three months as 313, 313 and 312 (the last takes the rest).
    A product here has no down payment and no whole-unit rounding: the same 938.00 at 0 % over
    three months is 312.67, 312.67 and 312.66, every amount to the cent.
    """
    ledger = _ledger(
        amount="938.00",
        annual_rate="0",
        term_months=3,
        disbursed_on="2022-01-01",
        day_count="ACT/360",
    )
    ours = _rows(ledger)
    assert ours == [
        ("2022-02-01", "312.67", "0.00", "312.67", "625.33"),
        ("2022-03-01", "312.67", "0.00", "312.67", "312.66"),
        ("2022-04-01", "312.66", "0.00", "312.66", "0.00"),
    ]
    fineract_installments = [Decimal("313"), Decimal("313"), Decimal("312")]
    assert sum(Decimal(row[3]) for row in ours) == sum(fineract_installments)


# EMICalculation.feature, "EMI calculation with 360/30 setup - decimal - reschedule" (C3156): the
# loan of C3155 after a reschedule moved its first due date from 1 to 18 February 2024, so its
# first period runs 48 days and every later installment falls on the 18th.
FINERACT_C3156: list[Row] = [
    ("2024-02-18", "15.88", "1.25", "17.13", "84.12"),
    ("2024-03-18", "16.47", "0.66", "17.13", "67.65"),
    ("2024-04-18", "16.60", "0.53", "17.13", "51.05"),
    ("2024-05-18", "16.73", "0.40", "17.13", "34.32"),
    ("2024-06-18", "16.86", "0.27", "17.13", "17.46"),
    ("2024-07-18", "17.46", "0.14", "17.60", "0.00"),
]
OURS_C3156: list[Row] = [
    ("2024-02-18", "16.34", "1.24", "17.58", "83.66"),
    ("2024-03-18", "16.47", "0.66", "17.13", "67.19"),
    ("2024-04-18", "16.60", "0.53", "17.13", "50.59"),
    ("2024-05-18", "16.73", "0.40", "17.13", "33.86"),
    ("2024-06-18", "16.86", "0.27", "17.13", "17.00"),
    ("2024-07-18", "17.00", "0.13", "17.13", "0.00"),
]


def test_a_long_first_period_adds_its_extra_interest_to_the_first_installment_only() -> None:
    """Fineract EMICalculation.feature, "EMI calculation with 360/30 setup - decimal -
    reschedule" (C3156): a 48-day first period (1 January to 18 February 2024).

    Fineract keeps the level payment 17.13 in the first installment, so the first period's
    larger interest (one month plus 17 of February's 29 days: 100 × 9.4822 % / 12 × 46 / 29 =
    1.2534 → 1.25) leaves less for principal, and the last installment grows to 17.60. We charge
    the irregular first period by its day count (30/360: 47 days, 100 × 9.4822 % × 47 / 360 =
    1.2380 → 1.24) on top of the regular principal portion (DESIGN §7), so only the first
    installment is larger (17.58) and installments 2 to 6 are the regular schedule's (C3155's).
    """
    ledger = _ledger(
        amount="100.00",
        annual_rate="0.094822",
        term_months=6,
        disbursed_on="2024-01-01",
        day_count="30/360",
        repayment_day=18,
    )
    ours = _rows(ledger)
    assert ours == OURS_C3156
    assert ours[-1][3] == "17.13"
    assert (_total_interest(ours), _total_interest(FINERACT_C3156)) == (
        Decimal("3.23"),
        Decimal("3.25"),
    )
