"""Reports served by the bitemporal `loan_state` read model equal a full replay of the events.

The reference is `portfolio`'s builders over each loan replayed from its events
(`LoanLedger._loan_rows`); the read model must give byte-identical rows (same JSON text, key order
included) for any report date and any moment of knowledge, on SQLite and on PostgreSQL, after
facts recorded in order, late, in several batches, and after a rebuild.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger import DomainError, LoanLedger
from loanledger.application import REPORTS
from loanledger.domain.rules import CN_2023
from loanledger.projection.segments import Timeline
from loanledger.reports.portfolio import loan_ledger
from loanledger.reports.views import loan_row
from tests.journal import disburse, pre_loan, repay
from tests.property.test_books_properties import books

SERVED = ("loan_ledger", "five_category", "aging", "ifrs9_stages", "notices")
START = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


class SteppingClock:
    """Each reading one minute after the last, so every command has its own recorded time."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@st.composite
def post_loan(draw: st.DrawFn, loan_ids: list[str]) -> list[dict[str, Any]]:
    """Collateral, revaluations, adverse checks, weakened guarantors and manual downgrades: the
    facts that move LTV, warnings, stage and classification without moving money."""
    commands: list[dict[str, Any]] = []
    for loan_id in loan_ids:
        on = date(2024, 3, 1) + timedelta(days=draw(st.integers(0, 400)))
        kind = draw(st.sampled_from(["collateral", "check", "guarantor", "downgrade", "none"]))
        if kind == "collateral":
            commands.append(
                {
                    "command": "pledge_collateral",
                    "loan_id": loan_id,
                    "on": on.isoformat(),
                    "collateral_id": "C-1",
                    "kind": "property",
                    "value": f"{draw(st.integers(1000, 90000))}.00",
                }
            )
            later = on + timedelta(days=draw(st.integers(0, 200)))
            commands.append(
                {
                    "command": "revalue_collateral",
                    "loan_id": loan_id,
                    "on": later.isoformat(),
                    "collateral_id": "C-1",
                    "value": f"{draw(st.integers(100, 90000))}.00",
                }
            )
        elif kind == "check":
            commands.append(
                {
                    "command": "record_post_loan_check",
                    "loan_id": loan_id,
                    "on": on.isoformat(),
                    "inspector": "inspector-1",
                    "findings": {
                        "use_of_funds": "as agreed",
                        "repayment_ability": "weak",
                        "collateral": "n/a",
                        "guarantor": "n/a",
                    },
                    "rating": draw(st.sampled_from(["normal", "attention", "adverse"])),
                }
            )
        elif kind == "guarantor":
            commands.append(
                {
                    "command": "add_guarantor",
                    "loan_id": loan_id,
                    "on": on.isoformat(),
                    "guarantor": {"id": "G-1", "name": "Guarantor"},
                    "guaranteed_amount": "1000.00",
                }
            )
        elif kind == "downgrade":
            commands.append(
                {
                    "command": "downgrade",
                    "loan_id": loan_id,
                    "on": on.isoformat(),
                    "approver": "approver-9",
                    "classification": draw(st.sampled_from(["special_mention", "substandard"])),
                    "reason": "adverse signals",
                }
            )
    return commands


def _record(ledger: LoanLedger, commands: list[dict[str, Any]]) -> None:
    for command in commands:
        with contextlib.suppress(DomainError):
            ledger.execute(command)


def _reference(ledger: LoanLedger, name: str, day: date, known_at: datetime | None) -> str:
    return json.dumps(REPORTS[name](ledger._loan_rows(day, known_at)))


def _served(ledger: LoanLedger, name: str, day: date, known_at: datetime | None) -> str:
    return json.dumps(ledger.report(name, as_of=day, known_at=known_at))


@contextlib.contextmanager
def _ledger(kind: str, clock: SteppingClock, pg_base: str | None) -> Iterator[LoanLedger]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            ledger = LoanLedger.open(f"sqlite:///{Path(directory).resolve()}/l.db", clock=clock)
            try:
                yield ledger
            finally:
                ledger.close()
    else:
        assert pg_base is not None
        schema = f"rm_{uuid.uuid4().hex[:12]}"
        ledger = LoanLedger.open(f"{pg_base}?schema={schema}", clock=clock)
        try:
            yield ledger
        finally:
            ledger.close()


def _acknowledge_some(ledger: LoanLedger) -> None:
    """Receipts for every other notice, some the day it was issued, some weeks later, so that
    reports before a receipt's date (or moment) show the notice unacknowledged."""
    notices = ledger.report("notices", as_of=date(2024, 12, 31))
    for number, notice in enumerate(notices[::2]):
        issued = date.fromisoformat(notice["issued_on"])
        _record(
            ledger,
            [
                {
                    "command": "acknowledge_notice",
                    "loan_id": notice["loan_id"],
                    "on": (issued + timedelta(days=(number * 17) % 40)).isoformat(),
                    "notice_id": notice["notice_id"],
                }
            ],
        )


def _check_equal_to_replay(
    ledger: LoanLedger, clock: SteppingClock, days: list[int], moments: list[float]
) -> None:
    recorded = (clock.now - START).total_seconds()
    horizon = ledger.read_store.query(ledger.loan_state.sql(ledger.read_store)["horizon"])
    for offset in days:
        day = date(2024, 1, 1) + timedelta(days=offset)
        if horizon and day.isoformat() <= horizon[0][0]:
            # Within the business horizon, as known now, nothing falls back to a replay.
            assert ledger._state_query("summary_at", day, None)[1] == set()
        for fraction in [*moments, None]:
            known_at = None if fraction is None else START + timedelta(seconds=recorded * fraction)
            for name in SERVED:
                assert _served(ledger, name, day, known_at) == _reference(
                    ledger, name, day, known_at
                ), (name, day, known_at)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    commands = draw(books())
    loan_ids = sorted({command["loan_id"] for command in commands})
    return commands, draw(post_loan(loan_ids))


GIVEN = given(
    book=scenario(),
    split=st.integers(0, 40),
    days=st.lists(st.integers(0, 900), min_size=1, max_size=3),
    moments=st.lists(st.floats(0, 1), min_size=1, max_size=2),
)


def _run(
    kind: str,
    pg_base: str | None,
    book: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    split: int,
    days: list[int],
    moments: list[float],
) -> None:
    """Facts are recorded in two batches with reports (and so projection catch-ups) in between,
    the second batch holding backdated facts; then a close of day; then a rebuild. Every report
    equals the replay's, for dates before, inside and after the book, known now and earlier."""
    commands, checks = book
    clock = SteppingClock()
    with _ledger(kind, clock, pg_base) as ledger:
        _record(ledger, commands[:split])
        _check_equal_to_replay(ledger, clock, days, moments)
        _record(ledger, commands[split:] + checks)
        # Two weeks closed day by day (reminders, first dunning notices), then a few days.
        closed = [date(2024, 2, 6) + timedelta(days=offset) for offset in range(15)]
        for day in [*closed, date(2024, 3, 17), date(2024, 6, 30), date(2024, 9, 1)]:
            with contextlib.suppress(DomainError):
                ledger.close_day(day)
        _acknowledge_some(ledger)
        _check_equal_to_replay(ledger, clock, days, moments)
        before = [_served(ledger, name, date(2024, 9, 1), None) for name in SERVED]
        ledger.rebuild()
        assert [_served(ledger, name, date(2024, 9, 1), None) for name in SERVED] == before
        _check_equal_to_replay(ledger, clock, days[:1], moments[:1])


@GIVEN
def test_reports_from_the_read_model_equal_a_full_replay_on_random_sqlite_books(
    book: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    split: int,
    days: list[int],
    moments: list[float],
) -> None:
    _run("sqlite", None, book, split, days, moments)


@pytest.mark.postgres
@settings(max_examples=15)
@GIVEN
def test_reports_from_the_read_model_equal_a_full_replay_on_random_postgresql_books(
    postgres_url: str,
    book: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    split: int,
    days: list[int],
    moments: list[float],
) -> None:
    """The same on PostgreSQL (fewer examples: each one creates its own schema)."""
    _run("postgresql", postgres_url, book, split, days, moments)


def _segments_equal_replay(ledger: LoanLedger, loan_id: str, end: date) -> int:
    loan = ledger._get(loan_id)
    timeline = Timeline(loan, CN_2023)
    segments = list(timeline.segments(timeline.starts_on, end))
    checked = 0
    day = timeline.starts_on
    index = 0
    while day <= end:
        while not segments[index].valid_from <= day < segments[index].valid_to:
            index += 1
        got = segments[index].row_on(day, CN_2023)
        want = loan_ledger([loan_row(loan, day, CN_2023)])[0]
        assert json.dumps(got) == json.dumps(want), (day, segments[index])
        day += timedelta(days=1)
        checked += 1
    return checked


def test_a_loan_row_from_its_segments_equals_the_replay_on_every_day_of_its_life() -> None:
    """Daily from application to two years after maturity: a loan paid on time, then short,
    then late, then with a lump that leaves overpayment held; through every DPD threshold."""
    ledger = LoanLedger.open("memory://")
    commands = pre_loan(
        "L-1", amount="12000.00", term_months=12, annual_rate="0.0600", method="annuity"
    )
    commands += [
        disburse("L-1", "2024-01-15", "12000.00"),
        repay("L-1", "2024-02-15", "1032.80", "R-1"),
        repay("L-1", "2024-05-20", "500.00", "R-2"),
        repay("L-1", "2024-09-01", "3000.00", "R-3"),
        repay("L-1", "2025-07-01", "9000.00", "R-4"),
    ]
    for command in commands:
        ledger.execute(command)
    assert _segments_equal_replay(ledger, "L-1", date(2026, 6, 1)) == 882
