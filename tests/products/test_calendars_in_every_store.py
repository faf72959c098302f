"""Calendars are stored facts like any other: a journal with `define_calendar` loads into SQLite
and PostgreSQL, reads the same after reopening and rebuilding, and `verify` checks the
calendar's chain with the loan's (issue 19 item 6)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from loanledger import LoanLedger
from tests.journal import repay
from tests.products.calendar_book import HOLIDAYS_2026, WORKING_DAYS_2026, calendar, calendar_loan

STORE_KINDS = ("sqlite", "postgresql")
"""A memory store does not outlive its ledger."""


def _clock() -> object:
    """Recorded times from 2026-12-01, one second apart (the journal's dates are in 2026)."""
    state = {"now": datetime(2026, 12, 1, 9, 0, tzinfo=UTC)}
    lock = threading.Lock()

    def tick() -> datetime:
        with lock:
            state["now"] += timedelta(seconds=1)
            return state["now"]

    return tick


def test_a_calendar_journal_round_trips_through_the_store(store_url: str) -> None:
    lines = calendar_loan()
    # Only New Year at first; the Spring Festival is published after the loan was approved.
    lines[0] = calendar(holidays=HOLIDAYS_2026[:3], working_days=["2026-01-04"])
    lines += [
        calendar(on="2026-02-01", holidays=HOLIDAYS_2026[3:], working_days=WORKING_DAYS_2026[1:]),
        repay("L-1", "2026-01-16", "10327.97", "R-1"),
        repay("L-1", "2026-02-24", "10493.38", "R-2"),
    ]
    clock = _clock()
    ledger = LoanLedger.open(store_url, clock=clock)  # type: ignore[arg-type]
    try:
        ledger.load(json.dumps(line, ensure_ascii=False) for line in lines)
        schedule = ledger.schedule("L-1")
        view = ledger.loan("L-1", as_of="2026-02-25")
        report = ledger.report("loan_ledger", as_of="2026-02-25")
        archive_kinds = [fact["fact"] for fact in ledger.archive("L-1")["facts"]]
        assert ledger.verify().ok
    finally:
        ledger.close()
    assert [row["due_date"] for row in schedule][:3] == ["2026-01-16", "2026-02-24", "2026-03-16"]
    assert (view["days_past_due"], view["penalty_outstanding"]) == (0, "0.00")
    assert archive_kinds.count("CalendarApplied") == 2  # at approval, and when v2 was defined
    reopened = LoanLedger.open(store_url, clock=clock)  # type: ignore[arg-type]
    try:
        assert reopened.schedule("L-1") == schedule
        assert reopened.loan("L-1", as_of="2026-02-25") == view
        reopened.rebuild()
        assert reopened.report("loan_ledger", as_of="2026-02-25") == report
        result = reopened.verify()
        assert result.ok and result.loans_checked == 3  # the loan, the product, the calendar
    finally:
        reopened.close()
