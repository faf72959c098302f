"""The payoff quote settles exactly (issue 23, DESIGN §12): on any book, a `repay` with
`prepay: true` of the payoff total leaves nothing owed and nothing held."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from loanledger import DomainError, LoanLedger
from tests.journal import repay
from tests.property.test_books_properties import books


@given(commands=books(), later_days=st.integers(0, 400), data=st.data())
def test_a_prepayment_of_the_payoff_total_leaves_nothing_owed_and_nothing_held(
    commands: list[dict[str, Any]], later_days: int, data: st.DataObject
) -> None:
    ledger = LoanLedger.open("memory://")
    for command in commands:
        with contextlib.suppress(DomainError):
            ledger.execute(command)
    loan_ids = sorted({command["loan_id"] for command in commands})
    loan_id = data.draw(st.sampled_from(loan_ids))
    latest = max(
        date.fromisoformat(command["on"]) for command in commands if command["loan_id"] == loan_id
    )
    on = (latest + timedelta(days=later_days)).isoformat()

    quote = ledger.payoff(loan_id, on)
    if quote["total"] != "0.00":
        ledger.execute(repay(loan_id, on, quote["total"], "PAYOFF", prepay=True))
    view = ledger.loan(loan_id, as_of=on)

    owed = (
        view["principal_outstanding"],
        view["overdue_interest"],
        view["penalty_outstanding"],
    )
    assert owed == ("0.00", "0.00", "0.00"), (quote, view)
    if quote["total"] != "0.00":
        assert view["overpayment"] == "0.00", (quote, view)
        assert view["status"] == "closed", (quote, view)
    assert ledger.payoff(loan_id, on)["total"] == "0.00"
    assert ledger.reconcile(date.fromisoformat(on)) == []
    ledger.close()
