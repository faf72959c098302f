"""Properties of the general ledger on random books: it always balances and always ties."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from loanledger import DomainError, LoanLedger
from tests.journal import disburse, pre_loan, repay

METHODS = ("annuity", "equal_principal", "interest_only", "bullet")


@st.composite
def books(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few loans with random terms, payments, prepayments, restructures and write-offs."""
    commands: list[dict[str, Any]] = []
    for number in range(draw(st.integers(1, 3))):
        loan_id = f"L-{number:04d}"
        amount = Decimal(draw(st.integers(100_00, 5_000_000))) / 100
        term = draw(st.integers(1, 24))
        rate = Decimal(draw(st.integers(0, 2400))) / 10000
        commands += pre_loan(
            loan_id,
            amount=f"{amount:.2f}",
            term_months=term,
            annual_rate=f"{rate:.4f}",
            method=draw(st.sampled_from(METHODS)),
            borrower_id=f"B-{draw(st.integers(0, 1))}",
        )
        start = date(2024, 1, 10) + timedelta(days=draw(st.integers(0, 40)))
        commands.append(disburse(loan_id, start.isoformat(), f"{amount:.2f}"))
        for step in range(draw(st.integers(0, 6))):
            on = start + timedelta(days=draw(st.integers(0, 500)))
            kind = draw(st.sampled_from(["repay", "repay", "prepay", "restructure", "write_off"]))
            if kind in ("repay", "prepay"):
                paid = Decimal(draw(st.integers(1, int(amount * 100)))) / 100
                commands.append(
                    repay(
                        loan_id, on.isoformat(), f"{paid:.2f}", f"R-{step}", prepay=kind == "prepay"
                    )
                )
            elif kind == "restructure":
                commands.append(
                    {
                        "command": "restructure",
                        "loan_id": loan_id,
                        "on": on.isoformat(),
                        "approver": "approver-1",
                        "term_months": draw(st.integers(1, 24)),
                        "annual_rate": f"{rate:.4f}",
                        "repayment_method": draw(st.sampled_from(METHODS)),
                    }
                )
            else:
                commands.append(
                    {
                        "command": "write_off",
                        "loan_id": loan_id,
                        "on": on.isoformat(),
                        "approver": "board",
                        "reason": "test",
                    }
                )
    return commands


def _balanced(rows: list[dict[str, Any]]) -> bool:
    return sum(Decimal(row["debit"]) for row in rows) == sum(Decimal(row["credit"]) for row in rows)


@given(commands=books(), report_days=st.lists(st.integers(0, 800), min_size=1, max_size=4))
def test_the_trial_balance_balances_and_every_subledger_ties_on_random_books(
    commands: list[dict[str, Any]], report_days: list[int]
) -> None:
    ledger = LoanLedger.open("memory://")
    for command in commands:
        # A random step may be refused (e.g. paying a settled loan); then nothing is recorded.
        with contextlib.suppress(DomainError):
            ledger.execute(command)
    for offset in report_days:
        day = date(2024, 1, 10) + timedelta(days=offset)
        rows = ledger.report("trial_balance", as_of=day)
        assert _balanced(rows)
        assert all(Decimal(row["debit"]) >= 0 and Decimal(row["credit"]) >= 0 for row in rows)
        assert ledger.reconcile(day) == []
        principal = sum(
            Decimal(row["principal_outstanding"])
            for row in ledger.report("loan_ledger", as_of=day)
            if row["status"] != "written_off"
        )
        ledger_principal = next(row for row in rows if row["account"] == "loans_principal")
        assert Decimal(ledger_principal["debit"]) - Decimal(ledger_principal["credit"]) == principal
    ledger.close()
