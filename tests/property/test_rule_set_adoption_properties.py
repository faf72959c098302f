"""Adopting a rule set never rewrites the past (issue 17 item 8, DESIGN §12): on random books,
every report as known before the adoption, and every report for a date before its effective
date, is byte-identical afterwards; from the effective date on, the stage honours the grade."""

from __future__ import annotations

import contextlib
import json
from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger import DomainError, LoanLedger
from tests.property.test_books_properties import books
from tests.property.test_read_models import SteppingClock, post_loan

REPORTS = ("loan_ledger", "five_category", "aging", "ifrs9_stages", "worklist")
STAGE_OF = {"special_mention": 2, "substandard": 3, "doubtful": 3, "loss": 3}


@st.composite
def scenario(draw: st.DrawFn) -> list[dict[str, Any]]:
    commands = draw(books())
    loan_ids = sorted({command["loan_id"] for command in commands})
    return [*commands, *draw(post_loan(loan_ids))]


def _reports(ledger: LoanLedger, day: date, known_at: Any = None) -> str:
    return json.dumps(
        {name: ledger.report(name, as_of=day, known_at=known_at) for name in REPORTS},
        sort_keys=True,
    )


@settings(max_examples=20, deadline=None)
@given(
    commands=scenario(),
    adopted_after=st.integers(0, 500),
    days=st.lists(st.integers(0, 800), min_size=1, max_size=3),
)
def test_adopting_a_rule_set_leaves_reports_known_before_it_and_dates_before_it_unchanged(
    commands: list[dict[str, Any]], adopted_after: int, days: list[int]
) -> None:
    clock = SteppingClock()
    ledger = LoanLedger.open("memory://", clock=clock)
    try:
        for command in commands:
            with contextlib.suppress(DomainError):
                ledger.execute(command)
        dates = [date(2024, 1, 1) + timedelta(days=offset) for offset in days]
        before = {day: _reports(ledger, day) for day in dates}
        known_before = clock()
        adopted_on = date(2024, 1, 1) + timedelta(days=adopted_after)
        ledger.execute(
            {"command": "set_policy", "on": adopted_on.isoformat(), "rule_set": "CN-2026"}
        )

        for day in dates:
            assert _reports(ledger, day, known_before) == before[day], day
            if day < adopted_on:
                assert _reports(ledger, day) == before[day], day
                continue
            for row in ledger.report("loan_ledger", as_of=day):
                floor = STAGE_OF.get(row["classification"], 1)
                if row["status"] in ("active", "overdue", "legal_recovery"):
                    assert row["ifrs9_stage"] >= floor, row
                    assert row["rule_set"] == "CN-2026"
    finally:
        ledger.close()
