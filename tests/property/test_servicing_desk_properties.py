"""Properties of the servicing desk's answers on random books (memory store, bounded)."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from loanledger import DomainError, LoanLedger
from tests.journal import repay
from tests.property.test_books_properties import books


def _recorded(commands: list[dict[str, Any]]) -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    for command in commands:
        with contextlib.suppress(DomainError):
            ledger.execute(command)
    return ledger


@given(commands=books(), offset=st.integers(0, 800))
def test_installment_outstanding_amounts_always_sum_to_the_loan_view(
    commands: list[dict[str, Any]], offset: int
) -> None:
    ledger = _recorded(commands)
    day = date(2024, 1, 10) + timedelta(days=offset)
    for loan_id in sorted({command["loan_id"] for command in commands}):
        view = ledger.loan(loan_id, as_of=day)
        rows = ledger.installments(loan_id, as_of=day)
        if not rows:
            continue
        for field in ("principal_outstanding", "penalty_outstanding"):
            total = sum((Decimal(row[field]) for row in rows), start=Decimal(0))
            assert total == Decimal(view[field]), (loan_id, field)
        overdue = [row for row in rows if row["status"] == "overdue"]
        assert sum((Decimal(row["principal_outstanding"]) for row in overdue), Decimal(0)) == (
            Decimal(view["overdue_principal"])
        )
        for row in rows:
            assert (row["status"] == "paid") == (row["paid_on"] is not None)
            assert row["paid_on"] is None or row["paid_on"] <= day.isoformat()


@given(
    commands=books(),
    offset=st.integers(0, 600),
    cents=st.integers(1, 2_000_000),
    prepay=st.booleans(),
)
def test_a_previewed_repayment_gives_exactly_the_figures_it_then_records(
    commands: list[dict[str, Any]], offset: int, cents: int, prepay: bool
) -> None:
    ledger = _recorded(commands)
    loan_id = commands[0]["loan_id"]
    on = (date(2024, 1, 10) + timedelta(days=offset)).isoformat()
    command = repay(loan_id, on, f"{Decimal(cents) / 100:.2f}", "R-preview", prepay=prepay)
    stored_before = ledger.recorder.max_notification_id()
    previewed = ledger.preview([command], as_of=on)
    assert ledger.recorder.max_notification_id() == stored_before
    try:
        ledger.execute(command)
    except DomainError as error:
        assert [refusal["error"] for refusal in previewed["refusals"]] == [type(error).__name__]
        return
    assert previewed["refusals"] == []
    after = previewed["loans"][loan_id]["after"]
    assert ledger.loan(loan_id, as_of=on) == after["loan"]
    assert ledger.schedule(loan_id, as_of=on) == after["schedule"]


@given(commands=books(), start=st.integers(0, 300), length=st.integers(0, 500))
def test_a_statement_always_opens_and_closes_at_the_loan_view(
    commands: list[dict[str, Any]], start: int, length: int
) -> None:
    ledger = _recorded(commands)
    first = date(2024, 1, 10) + timedelta(days=start)
    last = first + timedelta(days=length)
    for loan_id in sorted({command["loan_id"] for command in commands}):
        result = ledger.statement(loan_id, first, last)
        closing = ledger.loan(loan_id, as_of=last)
        assert result["closing"] == {name: closing[name] for name in result["closing"]}
        if ledger.loan(loan_id, as_of=first - timedelta(days=1))["status"] != "applied":
            opening = ledger.loan(loan_id, as_of=first - timedelta(days=1))
            assert result["opening"] == {name: opening[name] for name in result["opening"]}
        moved = sum(
            (Decimal(m["amount"]) for m in result["movements"] if m["kind"] == "repayment"),
            start=Decimal(0),
        )
        assert Decimal(result["totals"]["repayment"]) == moved


MONEY_FIELDS = (
    "principal_outstanding",
    "overdue_principal",
    "overdue_interest",
    "penalty_outstanding",
    "overpayment",
)


@given(commands=books(), offset=st.integers(0, 800))
def test_explained_money_parts_always_sum_exactly_to_the_figure(
    commands: list[dict[str, Any]], offset: int
) -> None:
    ledger = _recorded(commands)
    day = date(2024, 1, 10) + timedelta(days=offset)
    for loan_id in sorted({command["loan_id"] for command in commands}):
        for field in MONEY_FIELDS:
            result = ledger.explain(loan_id, field, as_of=day)
            total = sum((Decimal(part["amount"]) for part in result["parts"]), start=Decimal(0))
            assert total == Decimal(result["value"]), (loan_id, field, result)
        penalty = ledger.explain(loan_id, "penalty_outstanding", as_of=day)
        for part in penalty["parts"]:
            accrued = sum((Decimal(w["accrued_exact"]) for w in part["windows"]), Decimal(0))
            assert abs(accrued - Decimal(part["accrued_exact"])) <= Decimal("0.00001") * (
                len(part["windows"]) + 1
            )
        grade = ledger.explain(loan_id, "classification", as_of=day)
        assert any(part["decides"] for part in grade["parts"])
        stage = ledger.explain(loan_id, "ifrs9_stage", as_of=day)
        assert max(part["stage"] for part in stage["parts"]) == stage["value"]
