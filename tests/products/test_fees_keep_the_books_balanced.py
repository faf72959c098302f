"""Fees over hypothesis books (issue 19 item 4): with late fees (flat or percent, capped or not)
and an origination fee spread over the schedule, under every allocation strategy, with or
without grace days, and any repayments, the trial balance balances, `fee_receivable` is the
loan's `fees_outstanding` and `fee_income` its `fees_charged` (up to 2024-05-15, when no day can
be over 90 days past due, so nothing is held off the balance sheet), the loan_state read model
agrees with the view, and recording the repayments late — each one backdated before the ones
already recorded — gives the same figures as recording them on time."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from loanledger import LoanLedger
from tests.journal import disburse, repay
from tests.products.builders import loan_on, product

ALLOCATIONS = (
    "penalty_interest_principal",
    "interest_principal_penalty",
    "principal_interest_penalty",
    "horizontal",
)
DISBURSED = date(2024, 1, 15)
ON_BALANCE_SHEET_UNTIL = date(2024, 5, 15)
"""The first installment falls due on 2024-02-15: up to here days past due stay at most 90."""
LAST_DAY = date(2024, 10, 31)


@st.composite
def books(draw: st.DrawFn) -> dict[str, Any]:
    late: dict[str, Any] = {"after_days": draw(st.integers(1, 30))}
    if draw(st.booleans()):
        late["flat"] = draw(st.sampled_from(("5.00", "30.00", "99.99")))
    else:
        late["percent"] = draw(st.sampled_from(("0.01", "0.05", "0.0333")))
    cap = draw(st.sampled_from((None, "20.00", "45.50")))
    if cap is not None:
        late["cap"] = cap
    if draw(st.booleans()):
        late["cap_per_loan"] = "60.00" if cap is None else "91.00"
    fees: dict[str, Any] = {"late": late}
    origination = draw(st.sampled_from((None, {"flat": "100.00"}, {"percent": "0.0125"})))
    if origination is not None:
        fees["origination"] = {**origination, "collect": "schedule"}
    payments = draw(
        st.lists(
            st.tuples(
                st.integers(1, (LAST_DAY - DISBURSED).days),
                st.integers(1, 250_000),
                st.booleans(),
            ),
            max_size=4,
            unique_by=lambda payment: payment[0],  # one a day: same-day order is recording order
        )
    )
    return {
        "fees": fees,
        "grace_days": draw(st.sampled_from((0, 0, 5))),
        "allocation": draw(st.sampled_from(ALLOCATIONS)),
        "payments": [
            repay(
                "L-1",
                (DISBURSED + timedelta(days=offset)).isoformat(),
                f"{Decimal(cents) / 100:.2f}",
                f"R-{number}",
                prepay=prepay and number == 0,
            )
            for number, (offset, cents, prepay) in enumerate(payments)
        ],
    }


def _ledger(book: dict[str, Any], payments: list[dict[str, Any]]) -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    ledger.execute(
        product(fees=book["fees"], allocation=book["allocation"], grace_days=book["grace_days"])
    )
    for line in loan_on("SME"):
        ledger.execute(line)
    ledger.execute(disburse("L-1", DISBURSED.isoformat(), "12000.00"))
    for line in payments:
        ledger.execute(line)
    return ledger


def _net(rows: list[dict[str, str]], account: str) -> Decimal:
    (row,) = [row for row in rows if row["account"] == account]
    return Decimal(row["debit"]) - Decimal(row["credit"])


@given(book=books(), as_of_days=st.integers(0, (LAST_DAY - DISBURSED).days))
def test_fees_keep_the_trial_balance_balanced_and_recording_late_changes_nothing(
    book: dict[str, Any], as_of_days: int
) -> None:
    as_of = (DISBURSED + timedelta(days=as_of_days)).isoformat()
    in_order = sorted(book["payments"], key=lambda line: line["on"])
    on_time = _ledger(book, in_order)
    late = _ledger(book, list(reversed(in_order)))
    view = on_time.loan("L-1", as_of=as_of)
    rows = on_time.report("trial_balance", as_of=as_of)
    assert sum(Decimal(row["debit"]) for row in rows) == sum(Decimal(row["credit"]) for row in rows)
    if as_of <= ON_BALANCE_SHEET_UNTIL.isoformat():
        assert _net(rows, "fee_receivable") == Decimal(view["fees_outstanding"])
        assert -_net(rows, "fee_income") == Decimal(view["fees_charged"])
    installments = on_time.installments("L-1", as_of=as_of)
    assert sum(Decimal(row["fee_outstanding"]) for row in installments) == Decimal(
        view["fees_outstanding"]
    )
    (row,) = on_time.report("loan_ledger", as_of=as_of)
    assert {key: row[key] for key in view if key in row} == {
        key: view[key] for key in view if key in row
    }
    assert late.loan("L-1", as_of=as_of) == view
    assert late.report("trial_balance", as_of=as_of) == rows
    assert late.installments("L-1", as_of=as_of) == installments
