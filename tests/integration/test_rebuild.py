"""A rebuild carries each loan from page to page (`projection/kept_loans.py`) instead of loading
it from the store at every page it appears in (issue 20).

The reference is the rebuild as it was: with nothing kept (`loans_kept = 0`) every page loads
every loan it touches from the store. A rebuild that carries the loans must write the same rows,
byte for byte, into every read model (the bitemporal `loan_state` segments included), whatever
the page size and however small the bounds of what is kept. Every report, for dates across the
book and as known at moments through it, is the same before and after a rebuild, and a book
projected live (the demo's day-by-day catch-ups) reports what its rebuild reports.

The `loan_state` rows of a book projected live are not compared with its rebuild's: each page
ends by carrying the loans it left behind the business horizon on to it, so where the pages fell
(one per day live, 1,000 events in a rebuild) decides which extensions were written before a
later fact superseded them. Reports read the same answers from either.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger import LoanLedger
from loanledger.application import REPORTS
from loanledger.entrypoints.synthetic import SyntheticBook
from loanledger.projection import engine
from loanledger.projection.kept_loans import EVENTS_KEPT, LOANS_KEPT

LOANS = 16
MONTHS = 7
START = date(2024, 1, 1)
READ_MODELS = (
    "loanledger_loan_index",
    "loanledger_loan_state",
    "loanledger_loan_state_cover",
    "loanledger_loan_state_horizon",
    "loanledger_notices",
    "loanledger_notice_receipts",
    "loanledger_tracking",
)
REPORT_DAYS = [START + timedelta(days=offset) for offset in (20, 75, 140, 212, 260, 400)]


@contextmanager
def demo_book(directory: Path) -> Iterator[tuple[LoanLedger, list[datetime]]]:
    """The demo's book (smaller), recorded day by day with the projections caught up at each
    day's close, and the moments at which a few of its month ends were closed."""
    ledger = LoanLedger.open(f"sqlite:///{directory / 'book.db'}")
    moments: list[datetime] = []

    def closed(day: date, _: dict[str, Any]) -> None:
        if day.day == 28 and day.month % 2 == 0:
            moments.append(datetime.now(UTC))

    try:
        SyntheticBook(ledger, loans=LOANS, seed=11, months=MONTHS).run(lambda _: None, closed)
        yield ledger, moments
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def book() -> Iterator[tuple[Path, list[datetime], dict[str, str]]]:
    """The demo book's store (projected live), its moments and every report it gives."""
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name).resolve()
        with demo_book(directory) as (ledger, moments):
            reports = every_report(ledger, moments)
        yield directory / "book.db", moments, reports


def every_report(ledger: LoanLedger, moments: list[datetime]) -> dict[str, str]:
    """Every report as JSON text, for each report day, known now and at each moment."""
    found: dict[str, str] = {}
    for day in REPORT_DAYS:
        for known_at in [None, *moments]:
            for name in REPORTS:
                rows = ledger.report(name, as_of=day, known_at=known_at)
                found[f"{name} {day} {known_at}"] = json.dumps(rows)
    return found


def read_models(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    connection = sqlite3.connect(path)
    try:
        return {
            table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall())
            for table in READ_MODELS
        }
    finally:
        connection.close()


def rebuilt(
    source: Path,
    copy: Path,
    *,
    page: int,
    loans_kept: int = LOANS_KEPT,
    events_kept: int = EVENTS_KEPT,
    prepare: Callable[[LoanLedger], None] = lambda ledger: None,
) -> LoanLedger:
    """A copy of `source`'s store, rebuilt in pages of `page` events with the given bounds
    (after `prepare` had the ledger)."""
    copy.write_bytes(source.read_bytes())
    ledger = LoanLedger.open(f"sqlite:///{copy}")
    ledger.projections.batch_size = page
    ledger.loan_state.kept.loans_kept = loans_kept
    ledger.loan_state.kept.events_kept = events_kept
    prepare(ledger)
    ledger.rebuild()
    return ledger


def test_a_rebuild_reports_what_the_book_projected_live_reported(
    book: tuple[Path, list[datetime], dict[str, str]], tmp_path: Path
) -> None:
    path, moments, live = book
    ledger = rebuilt(path, tmp_path / "copy.db", page=1000, loans_kept=LOANS_KEPT)
    try:
        assert len(ledger.loan_state.kept) > 0  # loans were carried, not all loaded
        after = every_report(ledger, moments)
    finally:
        ledger.close()
    assert after.keys() == live.keys()
    changed = [key for key in live if after[key] != live[key]]
    assert changed == []
    # Not vacuous: the book has loans in arrears, notices and moments before its end.
    assert len(moments) >= 3
    assert json.loads(live[f"notices {REPORT_DAYS[-1]} None"])
    aging = json.loads(live[f"aging {REPORT_DAYS[-1]} None"])
    assert sum(int(bucket["loans"]) for bucket in aging if bucket["bucket"] != "current") > 0


def test_every_report_is_the_same_before_and_after_a_rebuild_of_a_rebuilt_book(
    book: tuple[Path, list[datetime], dict[str, str]], tmp_path: Path
) -> None:
    path, moments, _ = book
    ledger = rebuilt(path, tmp_path / "copy.db", page=1000, loans_kept=LOANS_KEPT)
    try:
        before = every_report(ledger, moments)
        rows = read_models(tmp_path / "copy.db")
        ledger.rebuild()
        assert every_report(ledger, moments) == before
        assert read_models(tmp_path / "copy.db") == rows
    finally:
        ledger.close()


@settings(max_examples=6, deadline=None)
@given(
    page=st.sampled_from([1, 7, 64, 1000]),
    loans_kept=st.sampled_from([1, 3, LOANS_KEPT]),
    events_kept=st.sampled_from([40, EVENTS_KEPT]),
)
def test_a_rebuild_that_carries_loans_writes_the_rows_of_one_that_loads_them_at_every_page(
    book: tuple[Path, list[datetime], dict[str, str]],
    page: int,
    loans_kept: int,
    events_kept: int,
) -> None:
    path, _, _ = book
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        reference = rebuilt(path, directory / "reference.db", page=page, loans_kept=0)
        reference.close()
        carried = rebuilt(
            path,
            directory / "carried.db",
            page=page,
            loans_kept=loans_kept,
            events_kept=events_kept,
        )
        try:
            kept = carried.loan_state.kept
            assert len(kept) <= loans_kept
            assert kept.events <= events_kept
        finally:
            carried.close()
        expected = read_models(directory / "reference.db")
        found = read_models(directory / "carried.db")
    for table in READ_MODELS:
        assert found[table] == expected[table], table
    assert len(expected["loanledger_loan_state"]) > 10 * LOANS


def _loads_by_page(source: Path, copy: Path, page: int) -> tuple[dict[int, list[str]], LoanLedger]:
    """Rebuild a copy of `source` in pages of `page` events; the loans `loan_state` loaded from
    the store, by the last position of the page that loaded them."""
    loaded: dict[int, list[str]] = {}

    def counting(ledger: LoanLedger) -> None:
        projection = ledger.loan_state
        loader, load_many = projection.loader, projection.load_many

        def counted(loan_id: str) -> Any:
            loaded.setdefault(projection._position, []).append(loan_id)
            return loader(loan_id)

        def counted_many(loan_ids: Sequence[str]) -> Any:
            loaded.setdefault(projection._position, []).extend(loan_ids)
            return load_many(loan_ids)

        projection.loader, projection.load_many = counted, counted_many

    return loaded, rebuilt(source, copy, page=page, prepare=counting)


def _moments(path: Path) -> list[tuple[int, str, str]]:
    """(position, timestamp, loan id) of every event of the log, decoded as the rebuild does."""
    ledger = LoanLedger.open(f"sqlite:///{path}")
    try:
        notifications = list(ledger.recorder.select_notifications(1, 1_000_000))
        events = ledger._decode(notifications)
        return [
            (n.id, str(e.timestamp), getattr(e, "loan_id", ""))
            for n, e in zip(notifications, events, strict=True)
        ]
    finally:
        ledger.close()


def test_a_rebuild_in_one_page_loads_no_loan_from_the_store(
    book: tuple[Path, list[datetime], dict[str, str]], tmp_path: Path
) -> None:
    path, _, _ = book
    events = len(_moments(path))
    # The page ends at the log's head: no moment can go on past it, so the loans of its last
    # moment are carried as they are (a page that cuts a moment loads them again, below).
    loaded, ledger = _loads_by_page(path, tmp_path / "copy.db", page=events + 1)
    ledger.close()
    assert loaded == {}


def test_a_page_that_ends_between_two_moments_loads_none_of_its_loans_again(
    book: tuple[Path, list[datetime], dict[str, str]], tmp_path: Path
) -> None:
    path, _, _ = book
    log = _moments(path)
    # A page that ends with a whole moment (the log goes on with another), a few loans in.
    page = next(
        position
        for (position, stamp, loan_id), (_, following, _) in pairwise(log)
        if position >= 20 and loan_id and stamp != following
    )
    loaded, ledger = _loads_by_page(path, tmp_path / "copy.db", page=page)
    ledger.close()
    assert loaded.get(page, []) == []


def _inside_a_moment(log: list[tuple[int, str, str]]) -> int:
    """A position, a few loans in, after which the log goes on with the same moment."""
    return next(
        position
        for (position, stamp, loan_id), (_, following, _) in pairwise(log)
        if position >= 20 and loan_id and stamp == following
    )


def _cut_inside_a_moment(log: list[tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch) -> int:
    """A page size that cuts a moment (`_inside_a_moment`), with pages that never read on past
    their size nor go on by whole pages."""
    monkeypatch.setattr(engine, "MOMENT_READ_ON", 0)
    monkeypatch.setattr(engine, "PAGE_CHUNKS", 1)
    return _inside_a_moment(log)


def test_a_page_reads_on_to_the_end_of_its_last_moment_and_loads_no_loan_again(
    book: tuple[Path, list[datetime], dict[str, str]], tmp_path: Path
) -> None:
    path, _, _ = book
    log = _moments(path)
    page = _inside_a_moment(log)
    loaded, ledger = _loads_by_page(path, tmp_path / "copy.db", page=page)
    ledger.close()
    # Every page went on to the end of its last moment: no loan was met cut in two, and the
    # book is too small for a loan to be dropped as idle.
    assert loaded == {}


def test_a_page_cut_inside_a_moment_loads_that_moments_loans_again(
    book: tuple[Path, list[datetime], dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _, _ = book
    log = _moments(path)
    page = _cut_inside_a_moment(log, monkeypatch)
    last_loan = log[page - 1][2]
    loaded, ledger = _loads_by_page(path, tmp_path / "copy.db", page=page)
    ledger.close()
    # The rest of the moment is in the store already: the loan is read from there.
    assert last_loan in loaded.get(page, [])


def test_a_rebuild_begins_with_nothing_kept_from_the_one_before_it(
    book: tuple[Path, list[datetime], dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _, _ = book
    page = _cut_inside_a_moment(_moments(path), monkeypatch)
    first, ledger = _loads_by_page(path, tmp_path / "copy.db", page=page)
    try:
        assert first  # a page cut inside a moment loads that moment's loans again
        expected = {position: list(loans) for position, loans in first.items()}
        rows = read_models(tmp_path / "copy.db")
        first.clear()  # (the loader still counts into it)
        ledger.rebuild()
        again = first
        # The read models were reset, and so is what their projection kept in memory: the
        # second rebuild does the first one's work (a rebuild's cost, and what it holds, do not
        # depend on what ran before it in the process) and writes its rows.
        assert again == expected
        assert read_models(tmp_path / "copy.db") == rows
    finally:
        ledger.close()


def _rebuilt_loading(
    source: Path, copy: Path, loans_kept: int, batches: list[int] | None
) -> dict[str, list[tuple[Any, ...]]]:
    """The read models of a copy of `source` rebuilt in pages of 64 events, keeping at most
    `loans_kept` loans: a page's loans loaded together (each batch's size in `batches`), or
    each alone (`batches` None)."""

    def loading(ledger: LoanLedger) -> None:
        projection = ledger.loan_state
        loader, load_many = projection.loader, projection.load_many

        def together(ids: Sequence[str]) -> Any:
            if batches is None:
                return {loan_id: loader(loan_id) for loan_id in ids}
            batches.append(len(ids))
            return load_many(ids)

        projection.load_many = together

    rebuilt(source, copy, page=64, loans_kept=loans_kept, prepare=loading).close()
    return read_models(copy)


@pytest.mark.parametrize("loans_kept", [0, 3])
def test_a_rebuild_that_loads_a_pages_loans_together_writes_the_rows_of_one_loading_each_alone(
    book: tuple[Path, list[datetime], dict[str, str]], tmp_path: Path, loans_kept: int
) -> None:
    """The loans a page does not keep are loaded together (`LoanLedger._get_many`: one query for
    which have a snapshot, one for the others' events); loading each alone gives the same
    rows. (tests/integration/test_many_loads.py loads from snapshots: a rebuild drops them.)"""
    path, _, _ = book
    batches: list[int] = []
    alone = _rebuilt_loading(path, tmp_path / "alone.db", loans_kept, None)
    together = _rebuilt_loading(path, tmp_path / "together.db", loans_kept, batches)
    assert max(batches) > 1  # not vacuous: pages loaded several loans at once
    for table in READ_MODELS:
        assert together[table] == alone[table], table
