"""The background projector (issue #6 item 1): it wakes on PostgreSQL's NOTIFY, polls on every
store so that a lost NOTIFY or a dead listener never stalls it, stops promptly when asked, and
keeps the read models exactly once.

The writer in these tests is a second `LoanLedger` on the same store that only executes commands
(queries and close of day would catch the shared read models up themselves); the follower's
progress is read from the tracking table, never by catching up from the test.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from loanledger import LoanLedger
from loanledger.persistence.read_store import ReadStore, Transaction
from loanledger.projection.engine import Recorded
from loanledger.projection.follow import ListenWaker, Waker
from tests.journal import disburse, pre_loan, repay

DEADLINE_SECONDS = 10.0
"""How long a test waits for the follower to project what was recorded (a busy machine)."""

REPORTS = ("loan_ledger", "five_category", "aging", "ifrs9_stages", "notices", "trial_balance")

NEVER_POLLS = 120.0
"""A poll interval no test lasts: progress within the deadline then came from a NOTIFY."""


def _record(ledger: LoanLedger, first: int, count: int) -> None:
    for number in range(first, first + count):
        loan_id = f"L-{number:04d}"
        for command in pre_loan(loan_id, borrower_id=f"B-{number % 3}"):
            ledger.execute(command)
        ledger.execute(disburse(loan_id, "2024-01-15", "12000.00"))
        if number % 2:
            ledger.execute(repay(loan_id, "2024-02-15", "1032.80", "R-1"))


def _recorded_through(ledger: LoanLedger) -> int:
    return ledger.recorder.max_notification_id() or 0


def _projected_through(ledger: LoanLedger) -> int:
    return min(ledger.projections.position(p) for p in ledger.projections.projections)


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DEADLINE_SECONDS:.0f} s: {what}")
        time.sleep(0.05)


def _projects(follower: LoanLedger, writer: LoanLedger) -> None:
    target = _recorded_through(writer)
    _wait_until(
        lambda: _projected_through(follower) >= target,
        f"the follower projects through event {target}",
    )


def _index(ledger: LoanLedger) -> list[tuple[Any, ...]]:
    return ledger.read_store.query(
        "SELECT loan_id, aggregate_id, borrower_id, applied_on, last_version "
        "FROM loanledger_loan_index ORDER BY loan_id"
    )


def _state(ledger: LoanLedger) -> Counter[tuple[Any, ...]]:
    return Counter(ledger.read_store.query("SELECT * FROM loanledger_loan_state"))


def _reports(ledger: LoanLedger) -> str:
    return json.dumps(
        {name: ledger.report(name, as_of="2024-02-16") for name in REPORTS}, sort_keys=True
    )


def _equal_a_fresh_rebuild(ledger: LoanLedger) -> None:
    """Exactly once: the loan index and every report equal a rebuild's. The `loan_state`
    segments a follower wrote are all among a rebuild's, none twice; a rebuild may hold more,
    since it writes each moment's segments up to the final business horizon while a follower's
    small batches reach only the horizon of their time (reports replay what is not covered)."""
    index, state = _index(ledger), _state(ledger)
    reports = _reports(ledger)
    ledger.rebuild()
    assert _index(ledger) == index
    assert not state - _state(ledger)
    assert _reports(ledger) == reports


@contextmanager
def following(
    ledger: LoanLedger,
    *,
    poll_seconds: float,
    wake: Waker | None = None,
    default_waker: bool = True,
) -> Iterator[threading.Event]:
    """Run the follower on a thread; on leaving, stop it and check it ended promptly and that
    no exception escaped it."""
    stop = threading.Event()
    escaped: list[BaseException] = []

    def run() -> None:
        try:
            if wake is None and default_waker:
                ledger.follow_projections(stop, poll_seconds=poll_seconds)
            else:
                ledger.projections.follow(stop, poll_seconds=poll_seconds, wake=wake)
        except BaseException as error:
            escaped.append(error)

    thread = threading.Thread(target=run, name="follower", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive(), "the follower did not stop within 5 s of being asked"
    assert escaped == []


def _open(url: str) -> Iterator[LoanLedger]:
    ledger = LoanLedger.open(url)
    try:
        yield ledger
    finally:
        ledger.close()


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    return f"{postgres_url}?schema=t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def reader(pg_url: str) -> Iterator[LoanLedger]:
    yield from _open(pg_url)


@pytest.fixture
def writer(pg_url: str, reader: LoanLedger) -> Iterator[LoanLedger]:
    yield from _open(pg_url)


def _listener(ledger: LoanLedger, channel: str | None = None) -> ListenWaker:
    waker = ledger.projection_waker()
    assert isinstance(waker, ListenWaker)
    if channel is None:
        return waker
    return ListenWaker(ledger.settings.postgres_connection(), channel)


def _listening(waker: ListenWaker) -> int:
    _wait_until(lambda: waker.backend_pid is not None, "the listener connects")
    pid = waker.backend_pid
    assert pid is not None
    return pid


@pytest.mark.postgres
def test_on_postgresql_a_follower_projects_what_another_ledger_records(
    reader: LoanLedger, writer: LoanLedger
) -> None:
    with following(reader, poll_seconds=1.0):
        _record(writer, 0, 4)
        _projects(reader, writer)
        _record(writer, 4, 2)
        _projects(reader, writer)

    _equal_a_fresh_rebuild(reader)


@pytest.mark.postgres
def test_a_notify_wakes_the_follower_long_before_its_next_poll(
    reader: LoanLedger, writer: LoanLedger
) -> None:
    waker = _listener(reader)
    with following(reader, poll_seconds=NEVER_POLLS, wake=waker):
        pid = _listening(waker)
        _record(writer, 0, 2)
        _projects(reader, writer)
        _record(writer, 2, 2)
        _projects(reader, writer)
        assert waker.backend_pid == pid  # the same listener throughout: no reopening helped

    _equal_a_fresh_rebuild(reader)


@pytest.mark.postgres
def test_a_lost_notify_never_stalls_the_follower_because_it_also_polls(
    reader: LoanLedger, writer: LoanLedger
) -> None:
    deaf = _listener(reader, channel="loanledger_nobody_notifies_this")
    with following(reader, poll_seconds=0.2, wake=deaf):
        _listening(deaf)
        _record(writer, 0, 3)
        _projects(reader, writer)

    _equal_a_fresh_rebuild(reader)


@pytest.mark.postgres
def test_a_killed_listener_is_reopened_and_the_follower_keeps_projecting(
    reader: LoanLedger, writer: LoanLedger, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    waker = _listener(reader)
    caplog.set_level(logging.WARNING, logger="loanledger.projection.follow")
    with following(reader, poll_seconds=NEVER_POLLS, wake=waker):
        killed = _listening(waker)
        _record(writer, 0, 2)
        _projects(reader, writer)

        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
        _wait_until(
            lambda: waker.backend_pid not in (None, killed), "a new listener replaces the dead one"
        )
        _record(writer, 2, 3)
        _projects(reader, writer)

    assert "listener" in caplog.text
    _equal_a_fresh_rebuild(reader)


def test_on_sqlite_a_polling_follower_projects_what_another_ledger_records(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/books.db"
    for reader in _open(url):
        assert reader.projection_waker() is None  # no NOTIFY on SQLite: polling alone
        for writer in _open(url):
            with following(reader, poll_seconds=0.1):
                _record(writer, 0, 3)
                _projects(reader, writer)
                _record(writer, 3, 2)
                _projects(reader, writer)
        _equal_a_fresh_rebuild(reader)


def test_stop_ends_a_follower_promptly_even_in_a_long_wait(ledger: LoanLedger) -> None:
    _record(ledger, 0, 2)
    started = time.monotonic()
    with following(ledger, poll_seconds=NEVER_POLLS):
        _wait_until(
            lambda: _projected_through(ledger) >= _recorded_through(ledger), "the first catch-up"
        )

    assert time.monotonic() - started < NEVER_POLLS / 2
    _equal_a_fresh_rebuild(ledger)


class _Crash(Exception):
    pass


def test_a_failed_catch_up_is_logged_and_retried_at_the_next_poll_exactly_once(
    ledger: LoanLedger, caplog: pytest.LogCaptureFixture
) -> None:
    _record(ledger, 0, 3)
    original = ledger.loan_index.process
    failures = {"left": 1}

    def fails_once(txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None:
        original(txn, store, batch)
        if failures["left"]:
            failures["left"] -= 1
            raise _Crash("the read model refused the batch")

    ledger.loan_index.process = fails_once  # type: ignore[method-assign]
    with following(ledger, poll_seconds=0.1, default_waker=False):
        _wait_until(
            lambda: _projected_through(ledger) >= _recorded_through(ledger),
            "the follower retries the batch",
        )

    assert failures["left"] == 0
    assert "the read model refused the batch" in caplog.text
    ledger.loan_index.process = original  # type: ignore[method-assign]
    _equal_a_fresh_rebuild(ledger)


def test_a_stale_report_serves_the_read_models_as_they_are_without_catching_up(
    ledger: LoanLedger,
) -> None:
    _record(ledger, 0, 3)

    stale = ledger.report("loan_ledger", as_of="2024-02-16", stale_ok=True)

    assert stale == []
    assert _projected_through(ledger) == 0
    fresh = ledger.report("loan_ledger", as_of="2024-02-16")
    assert [row["loan_id"] for row in fresh] == ["L-0000", "L-0001", "L-0002"]
    assert ledger.report("loan_ledger", as_of="2024-02-16", stale_ok=True) == fresh


def test_while_a_follower_runs_a_stale_report_soon_equals_a_fresh_one(ledger: LoanLedger) -> None:
    with following(ledger, poll_seconds=0.1):
        _record(ledger, 0, 3)
        _wait_until(lambda: _projected_through(ledger) >= _recorded_through(ledger), "the follower")
        stale = ledger.report("aging", as_of="2024-02-16", stale_ok=True)

    assert stale == ledger.report("aging", as_of="2024-02-16")
