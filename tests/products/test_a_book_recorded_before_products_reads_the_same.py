"""A book recorded before products existed rebuilds to the reports `main` gave for it.

`tests/fixtures/main_book/expected.json` was written by `main`'s code before any product code
(see `make.py` there). The same journal, loaded with today's code, must give every report, loan
view and schedule field for field; products only add fields (`ADDED`), never change one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from loanledger import LoanLedger
from tests.fixtures.main_book.make import DATES, snapshot

FIXTURE = Path(__file__).parent.parent / "fixtures" / "main_book"

ADDED = {
    "loan_view": {"product", "product_version", "apr", "fees_charged", "fees_outstanding"},
    "schedule": {"fee", "annual_rate"},
}
"""Fields products add to the loan view (and `loan_ledger` rows) and to schedule rows."""

ADDED_ACCOUNTS = {"fee_receivable", "fee_income"}
"""Accounts products add to the chart (after the others: no old row moves)."""

PROVISIONED = ("loan_loss_allowance", "impairment_expense", "write_off_expense")
"""Accounts the provisions issue changes on purpose: the allowance is now charged to
`impairment_expense` at month ends and a write-off draws it down before `write_off_expense`.
What the book charged to profit and loss in all is unchanged: write-off expense plus impairment
expense less the allowance still held equals the write-off expense `main` showed."""


def _net_debit(rows: list[dict[str, str]], account: str) -> Decimal:
    for row in rows:
        if row["account"] == account:
            return Decimal(row["debit"]) - Decimal(row["credit"])
    return Decimal("0.00")


def _clock() -> Any:
    state = {"now": datetime(2024, 1, 1, 9, 0, tzinfo=UTC)}

    def tick() -> datetime:
        state["now"] += timedelta(seconds=1)
        return state["now"]

    return tick


def _without_added(value: Any, added: set[str]) -> Any:
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if key not in added}
    return value


def test_the_book_recorded_before_products_gives_main_s_reports_exactly() -> None:
    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    ledger = LoanLedger.open("memory://", clock=_clock())
    try:
        ledger.load(FIXTURE / "journal.jsonl")
        loan_ids = sorted(expected[DATES[0]]["loans"])
        actual = json.loads(json.dumps(snapshot(ledger, loan_ids)))
        ledger.rebuild()
        rebuilt = json.loads(json.dumps(snapshot(ledger, loan_ids)))
    finally:
        ledger.close()
    assert rebuilt == actual
    for day in DATES:
        got, want = actual[day], expected[day]
        for name, rows in want["reports"].items():
            added = ADDED["loan_view"] if name == "loan_ledger" else set()
            shown = [_without_added(row, added) for row in got["reports"][name]]
            if name == "trial_balance":
                # The fee accounts join the chart after every old one, with nothing in them.
                new = [row for row in shown if row["account"] in ADDED_ACCOUNTS]
                assert new == [
                    {"account": account, "debit": "0.00", "credit": "0.00"}
                    for account in ("fee_receivable", "fee_income")
                ]
                shown = [row for row in shown if row["account"] not in ADDED_ACCOUNTS]
                charged = sum(
                    (_net_debit(shown, account) for account in PROVISIONED), Decimal("0.00")
                )
                assert charged == _net_debit(rows, "write_off_expense"), day
                shown = [row for row in shown if row["account"] not in PROVISIONED]
                rows = [row for row in rows if row["account"] not in PROVISIONED]
            assert shown == rows, name
        for loan_id, view in want["loans"].items():
            assert _without_added(got["loans"][loan_id], ADDED["loan_view"]) == view, loan_id
            # A loan on the default product has no fees: the fee fields it gains are zero.
            assert got["loans"][loan_id]["fees_outstanding"] == "0.00", loan_id
        for loan_id, rows in want["schedules"].items():
            shown = got["schedules"][loan_id]
            if isinstance(rows, list):
                assert {row["fee"] for row in shown} <= {"0.00"}, loan_id
                shown = [_without_added(row, ADDED["schedule"]) for row in shown]
            assert shown == rows, loan_id
