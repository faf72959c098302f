"""The payoff quote settles exactly (issue 23, DESIGN §12): on any book, a `repay` with
`prepay: true` of the payoff total leaves nothing owed and nothing held; money received after
that is held (`overpaid`) until refunded, and the books tie all along (issue 17 item 5)."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from loanledger import DomainError, LoanLedger
from loanledger.domain.errors import OverRefundError
from tests.journal import repay
from tests.property.test_books_properties import books


@given(commands=books(), later_days=st.integers(0, 400), data=st.data())
def test_a_prepayment_of_the_payoff_total_leaves_nothing_owed_and_nothing_held(
    commands: list[dict[str, Any]], later_days: int, data: st.DataObject
) -> None:
    ledger = LoanLedger.open("memory://")
    for command in commands:
        if command.get("prepay"):
            keep = data.draw(st.sampled_from([None, "term", "installment"]))
            command = command if keep is None else {**command, "keep": keep}
        with contextlib.suppress(DomainError):
            ledger.execute(command)
    loan_ids = sorted({command["loan_id"] for command in commands})
    loan_id = data.draw(st.sampled_from(loan_ids))
    latest = max(
        date.fromisoformat(command["on"]) for command in commands if command["loan_id"] == loan_id
    )
    on = (latest + timedelta(days=later_days)).isoformat()

    quote = ledger.payoff(loan_id, on)
    if quote["total"] == "0.00":
        # What the loan holds covers the payoff already (it is applied as installments fall due).
        parts = sum(Decimal(quote[part]) for part in ("principal", "interest", "penalty", "fees"))
        assert parts <= Decimal(quote["held"]), quote
        ledger.close()
        return
    ledger.execute(repay(loan_id, on, quote["total"], "PAYOFF", prepay=True))
    view = ledger.loan(loan_id, as_of=on)

    owed = (
        view["principal_outstanding"],
        view["overdue_interest"],
        view["penalty_outstanding"],
        view["overpayment"],
    )
    assert owed == ("0.00", "0.00", "0.00", "0.00"), (quote, view)
    assert view["status"] == "closed", (quote, view)
    assert ledger.payoff(loan_id, on)["total"] == "0.00"
    assert ledger.reconcile(date.fromisoformat(on)) == []
    ledger.close()


@given(
    commands=books(),
    later_days=st.integers(0, 400),
    extra_fen=st.integers(1, 1_000_000),
    refund_percent=st.integers(1, 100),
    data=st.data(),
)
def test_money_after_the_payoff_is_held_until_refunded_and_the_books_tie(
    commands: list[dict[str, Any]],
    later_days: int,
    extra_fen: int,
    refund_percent: int,
    data: st.DataObject,
) -> None:
    ledger = LoanLedger.open("memory://")
    for command in commands:
        with contextlib.suppress(DomainError):
            ledger.execute(command)
    loan_id = data.draw(st.sampled_from(sorted({command["loan_id"] for command in commands})))
    latest = max(
        date.fromisoformat(command["on"]) for command in commands if command["loan_id"] == loan_id
    )
    on = latest + timedelta(days=later_days)
    total = ledger.payoff(loan_id, on)["total"]
    assume(total != "0.00")
    ledger.execute(repay(loan_id, on.isoformat(), total, "PAYOFF", prepay=True))
    later = on + timedelta(days=data.draw(st.integers(0, 60)))
    extra = Decimal(extra_fen) / 100
    refunded = (extra * refund_percent / 100).quantize(Decimal("0.01")) or Decimal("0.01")

    ledger.execute(repay(loan_id, later.isoformat(), f"{extra:.2f}", "AFTER"))
    held = ledger.loan(loan_id, as_of=later)
    ledger.execute(
        {
            "command": "refund",
            "loan_id": loan_id,
            "on": later.isoformat(),
            "amount": f"{refunded:.2f}",
            "reference": "BACK",
        }
    )
    after = ledger.loan(loan_id, as_of=later)

    assert (held["status"], held["overpayment"]) == ("overpaid", f"{extra:.2f}")
    assert after["overpayment"] == f"{extra - refunded:.2f}"
    assert after["status"] == ("closed" if refunded == extra else "overpaid")
    with pytest.raises(OverRefundError):
        ledger.execute(
            {
                "command": "refund",
                "loan_id": loan_id,
                "on": later.isoformat(),
                "amount": f"{extra - refunded + Decimal('0.01'):.2f}",
                "reference": "TOO-MUCH",
            }
        )
    rows = ledger.report("trial_balance", as_of=later)
    account = next(row for row in rows if row["account"] == "overpayments")
    held_total = sum(
        Decimal(row["overpayment"]) for row in ledger.report("loan_ledger", as_of=later)
    )
    assert Decimal(account["credit"]) - Decimal(account["debit"]) == held_total
    assert sum(Decimal(r["debit"]) for r in rows) == sum(Decimal(r["credit"]) for r in rows)
    assert ledger.reconcile(later) == []
    ledger.close()
