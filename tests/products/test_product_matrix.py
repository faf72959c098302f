"""The product matrix (issue 19 "Done when"): over hypothesis books, for every day count ×
rounding × repayment method × allocation strategy (with grace days and origination fees drawn
too), principal sums exactly to the amount, every installment's interest and every overdue
installment's penalty equal a reference computed here from first principles, a repayment is
allocated as the strategy says, days past due count from each due date + the grace, the
loan_state read model's row agrees with the view, and the APR is the IRR of the contract's cash
flows with the origination fee withheld (numpy-financial's `irr`)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy_financial as npf
from hypothesis import given
from hypothesis import strategies as st

from loanledger import LoanLedger
from tests.journal import disburse, repay
from tests.products.builders import loan_on, product

DAY_COUNTS = ("ACT/360", "ACT/365F", "30/360", "ACT/ACT")
ROUNDINGS = ("HALF_UP", "HALF_EVEN")
METHODS = ("annuity", "equal_principal", "interest_only", "bullet")
ALLOCATIONS = (
    "penalty_interest_principal",
    "interest_principal_penalty",
    "principal_interest_penalty",
    "horizontal",
)


# -- the reference, from first principles --------------------------------------------------------


def fen(value: Fraction, rounding: str) -> Fraction:
    """`value` rounded to the fen: half away from zero (HALF_UP) or to even (HALF_EVEN)."""
    cents = value * 100
    whole = math.floor(cents + Fraction(1, 2)) if rounding == "HALF_UP" else round(cents)
    return Fraction(whole, 100)


def year_fraction(day_count: str, start: date, end: date) -> Fraction:
    if day_count == "ACT/360":
        return Fraction((end - start).days, 360)
    if day_count == "ACT/365F":
        return Fraction((end - start).days, 365)
    if day_count == "30/360":
        d1 = 30 if start.day == 31 else start.day
        d2 = 30 if end.day == 31 and d1 == 30 else end.day
        days = 360 * (end.year - start.year) + 30 * (end.month - start.month) + d2 - d1
        return Fraction(days, 360)
    total = Fraction(0)
    day = start
    while day < end:  # ACT/ACT: day by day, each over its own year's length
        total += Fraction(1, 366 if date(day.year, 12, 31).timetuple().tm_yday == 366 else 365)
        day += timedelta(days=1)
    return total


def one_month_after(start: date) -> date:
    month = start.month % 12 + 1
    year = start.year + (start.month == 12)
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(start.day, last))


def penalty_basis(day_count: str) -> int:
    return 365 if day_count in ("ACT/365F", "ACT/ACT") else 360


def money(text: str) -> Fraction:
    return Fraction(Decimal(text))


# -- the books -----------------------------------------------------------------------------------


@st.composite
def books(draw: st.DrawFn) -> dict[str, Any]:
    method = draw(st.sampled_from(METHODS))
    disbursed = date(2024, 1, 1) + timedelta(days=draw(st.integers(0, 700)))
    return {
        "day_count": draw(st.sampled_from(DAY_COUNTS)),
        "rounding": draw(st.sampled_from(ROUNDINGS)),
        "allocation": draw(st.sampled_from(ALLOCATIONS)),
        "method": method,
        "amount": Decimal(draw(st.integers(100_000, 50_000_000))) / 100,
        "term": draw(st.integers(6, 36)),
        "rate": Decimal(draw(st.integers(300, 1200))) / 10_000,
        "multiplier": Decimal(draw(st.sampled_from(("1.3", "1.5", "2"))))
        + Decimal(draw(st.integers(0, 3))) / 10,
        "repayment_day": draw(st.integers(1, 28)),
        "disbursed": disbursed,
        "missed_days": draw(st.integers(1, 500)),
        "share": Fraction(draw(st.integers(1, 1000)), 1000),
        "grace": draw(st.sampled_from((0, 0, 3, 10))),
        "fee": draw(
            st.sampled_from((None, {"flat": "99.99"}, {"percent": "0.005"}, {"percent": "0.0199"}))
        ),
    }


def _ledger(book: dict[str, Any]) -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    fees: dict[str, Any] = {"fees": {"origination": book["fee"]}} if book["fee"] else {}
    ledger.execute(
        product(
            on="2024-01-01",
            repayment_methods=list(METHODS),
            amount_max="1000000.00",
            term_min=1,
            term_max=60,
            rate_min="0",
            rate_max="0.2",
            day_count=book["day_count"],
            rounding=book["rounding"],
            allocation=book["allocation"],
            penalty_multiplier=str(book["multiplier"]),
            misuse_multiplier="10",
            grace_days=book["grace"],
            **fees,
        )
    )
    on = book["disbursed"].isoformat()
    for line in loan_on(
        "SME",
        amount=f"{book['amount']:.2f}",
        term_months=book["term"],
        annual_rate=str(book["rate"]),
        method=book["method"],
        applied_on=on,
        approved_on=on,
        repayment_day=book["repayment_day"],
    ):
        ledger.execute(line)
    ledger.execute(disburse("L-1", on, f"{book['amount']:.2f}"))
    return ledger


@given(books())
def test_every_product_prices_its_schedule_and_penalty_as_the_reference_does(
    book: dict[str, Any],
) -> None:
    ledger = _ledger(book)
    rows = ledger.schedule("L-1")
    rate, rounding, day_count = Fraction(book["rate"]), book["rounding"], book["day_count"]
    amount = Fraction(book["amount"])

    # Principal sums exactly; each installment's interest is the reference's.
    assert sum(money(row["principal"]) for row in rows) == amount
    assert rows[-1]["principal_remaining"] == "0.00"
    if book["method"] == "bullet":
        assert money(rows[0]["interest"]) == fen(amount * rate * book["term"] / 12, rounding)
    else:
        remaining = amount
        start = book["disbursed"]
        for row in rows:
            due = date.fromisoformat(row["due_date"])
            regular = row["number"] > 1 or due == one_month_after(start)
            periodic = rate / 12 if regular else rate * year_fraction(day_count, start, due)
            assert money(row["interest"]) == fen(remaining * periodic, rounding), row
            remaining -= money(row["principal"])

    # Nothing paid: each installment due before as_of accrues penalty on all of it, every
    # calendar day after its due date (the first overdue day counts), at rate × multiplier over
    # the day count's basis; the amount owed is each accrual rounded, summed.
    as_of = book["disbursed"] + timedelta(days=book["missed_days"])
    daily = rate * Fraction(book["multiplier"]) / penalty_basis(day_count)
    owed = []  # every installment due by the payment day below, with its penalty on as_of
    for row in rows:
        due = date.fromisoformat(row["due_date"])
        if due <= as_of + timedelta(days=1):
            days = max((as_of - due).days - book["grace"], 0)  # none inside the grace
            owed.append((row, fen(money(row["installment"]) * daily * days, rounding)))
    view = ledger.loan("L-1", as_of=as_of)
    # The loan_state read model's row (report) agrees with the view derived afresh.
    (row_of_report,) = ledger.report("loan_ledger", as_of=as_of)
    assert {key: row_of_report[key] for key in view if key in row_of_report} == {
        key: view[key] for key in view if key in row_of_report
    }
    unpaid = [date.fromisoformat(row["due_date"]) for row in rows]
    oldest = min(unpaid)
    assert view["days_past_due"] == max((as_of - oldest).days - book["grace"], 0)
    assert money(view["penalty_outstanding"]) == sum((p for _, p in owed), start=Fraction(0))

    # A payment the next day meets the penalty accrued through as_of, by the strategy (over
    # every installment due by then, oldest first).
    if owed:
        arrears = [
            (penalty, money(row["interest"]), money(row["principal"])) for row, penalty in owed
        ]
        total = sum((sum(parts) for parts in arrears), start=Fraction(0))
        paid = max(fen(total * book["share"], "HALF_UP"), Fraction(1, 100))
        expected = _allocate(book["allocation"], arrears, paid)
        result = ledger.execute(
            repay(
                "L-1",
                (as_of + timedelta(days=1)).isoformat(),
                f"{Decimal(paid.numerator) / paid.denominator:.2f}",
                "R-1",
            )
        )
        got = {kind: money(result["allocation"][kind]) for kind in expected}
        assert got == expected

    # The APR is 12 × numpy-financial's IRR of the contract's monthly flows, to 4 places.
    # Period = months from the disbursement month to the due month (a bullet's one flow falls at
    # period term_months; months without an installment hold zero).
    start = book["disbursed"]
    fee = Fraction(0)  # withheld from the proceeds: the borrower receives amount - fee
    if book["fee"] is not None and "flat" in book["fee"]:
        fee = money(book["fee"]["flat"])
    elif book["fee"] is not None:
        fee = fen(amount * money(book["fee"]["percent"]), rounding)
    assert money(view["fees_charged"]) == fee
    flows = [-float(amount - fee)] + [0.0] * 700
    for row in rows:
        due = date.fromisoformat(row["due_date"])
        flows[(due.year - start.year) * 12 + due.month - start.month] += float(
            money(row["installment"])
        )
    while flows[-1] == 0.0:
        flows.pop()
    assert abs(Decimal(view["apr"]) - Decimal(str(npf.irr(flows) * 12))) <= Decimal("0.00005")


def _allocate(
    strategy: str, arrears: list[tuple[Fraction, Fraction, Fraction]], paid: Fraction
) -> dict[str, Fraction]:
    """What the strategy pays of each kind, installment by installment (oldest first)."""
    names = ("penalty", "interest", "principal")
    order = {
        "penalty_interest_principal": (0, 1, 2),
        "horizontal": (0, 1, 2),
        "interest_principal_penalty": (1, 2, 0),
        "principal_interest_penalty": (2, 1, 0),
    }[strategy]
    got = dict.fromkeys(names, Fraction(0))
    left = paid
    if strategy == "horizontal":
        steps = [(kind, parts) for kind in order for parts in arrears]
    else:
        steps = [(kind, parts) for parts in arrears for kind in order]
    for kind, parts in steps:
        take = min(left, parts[kind])
        got[names[kind]] += take
        left -= take
    return got
