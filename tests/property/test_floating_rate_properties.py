"""Recording an index publication late equals recording it on time (DESIGN §2, principle 2):
a floating loan's figures, schedule, read-model rows and books after a backdated `publish_rate`
are those of a book where the value was published before the reset was reached."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger import LoanLedger
from tests.journal import disburse, repay
from tests.products.floating import home_loan, home_product, publish


def _clock() -> Callable[[], datetime]:
    state = {"now": datetime(2024, 1, 1, 9, 0, tzinfo=UTC)}

    def tick() -> datetime:
        state["now"] += timedelta(seconds=1)
        return state["now"]

    return tick


def _figures(ledger: LoanLedger) -> list[Any]:
    return [
        {
            key: value
            for key, value in ledger.loan("L-1", as_of=day).items()
            if key != "next_check_due"
        }
        for day in ("2025-01-20", "2025-06-30")
    ] + [
        ledger.schedule("L-1", as_of="2025-06-30"),
        ledger.report("loan_ledger", as_of="2025-06-30"),
        ledger.report("trial_balance", as_of="2025-06-30"),
    ]


@settings(max_examples=8)
@given(
    published_on=st.dates(date(2024, 1, 16), date(2025, 1, 20)),
    bp=st.integers(300, 500),
    paid=st.booleans(),
    method=st.sampled_from(["annuity", "equal_principal"]),
)
def test_recording_a_publication_late_equals_recording_it_on_time(
    published_on: date, bp: int, paid: bool, method: str
) -> None:
    rate = str(Decimal(bp) / 10000)
    lines = [
        home_product(),
        publish("2023-12-20", "0.042"),
        *home_loan(method=method),
        disburse("L-1", "2024-01-15", "1000000.00"),
    ]
    # Monthly payments of a fixed amount (more than either rate's installment near the reset).
    payments = [
        repay("L-1", f"{2024 + month // 12}-{month % 12 + 1:02d}-15", "21000.00", f"R-{month}")
        for month in range(1, 17)
        if paid
    ]
    books = []
    for late in (False, True):
        ledger = LoanLedger.open("memory://", clock=_clock())
        for line in lines + ([] if late else [publish(published_on.isoformat(), rate)]):
            ledger.execute(line)
        for line in payments:
            ledger.execute(line)
        ledger.close_day("2024-12-31")
        ledger.close_day("2025-01-20")
        if late:
            ledger.execute(publish(published_on.isoformat(), rate))
        books.append(_figures(ledger))
        ledger.close()
    on_time, late_book = books
    assert late_book == on_time
