"""The benchmarks' big books (B3, B5) are renamed copies of a loaded book: of its events and of its
read models (`benchmarks.books`). Copying the read models is what makes a 100,000-loan book
affordable, and it is only honest if the copied rows are exactly what the projections would have
computed from the copied events: otherwise B3 and B5 would time a book no ledger could hold.

So a small book is copied the way the benchmarks copy the big one, then a second copy of its file
has every projection rebuilt from its events (and close of day run again, which sets the loan
index's columns a rebuild clears), and every table of the two files must hold the same rows.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.books import WARM_DAY, prepare_base, replicate_book
from benchmarks.common import Store, Workspace, opened, workspace

from loanledger.reports import portfolio

LOANS = 12
"""Base loans: repayment days 1..12, so copies differ in due dates as the big book's do."""
COPIES = 3
PAGE = 40
"""Events per projection page when the base is rebuilt: the base's ~130 events take several
pages, so the copies have to agree with a rebuild across page boundaries too."""


def _tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the SQLite file, its rows in the order of all their columns."""
    with sqlite3.connect(path) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        found = {}
        for name in names:
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({name})")]
            order = ", ".join(f'"{column}"' for column in columns)
            found[name] = connection.execute(f"SELECT * FROM {name} ORDER BY {order}").fetchall()
    return found


def _book(space: Workspace) -> tuple[Store, Store]:
    base = prepare_base(space, "base", LOANS, repayment_day=None, page=PAGE)
    return base, replicate_book(space, base, "book", LOANS, COPIES)


def _loan_ids(rows: list[tuple[Any, ...]]) -> set[str]:
    return {str(row[0]) for row in rows}


def test_copied_read_models_equal_a_rebuild_of_the_copied_events() -> None:
    with workspace() as space:
        _, book = _book(space)
        assert book.path is not None
        copied = _tables(book.path)
        rebuilt_store = space.sqlite("rebuilt")
        assert rebuilt_store.path is not None
        shutil.copyfile(book.path, rebuilt_store.path)
        with opened(rebuilt_store) as ledger:
            # The copies' events sit beside their source's in the log, so a rebuild in pages of
            # COPIES x PAGE events sees each base page's events, copies included, in one page.
            ledger.projections.batch_size = COPIES * PAGE
            ledger.rebuild()
            closed = ledger.close_day(WARM_DAY)
        assert closed["events_recorded"] == 0
        assert closed["loans_processed"] == LOANS * COPIES
        rebuilt = _tables(rebuilt_store.path)
        assert sorted(rebuilt) == sorted(copied)
        for table in sorted(copied):
            missing = [row for row in rebuilt[table] if row not in copied[table]]
            extra = [row for row in copied[table] if row not in rebuilt[table]]
            assert rebuilt[table] == copied[table], (table, missing[:3], extra[:3])
        # None of that holds vacuously: every copy of every loan has its rows.
        every = {f"L-{number:07d}" for number in range(1, LOANS * COPIES + 1)}
        for table in (
            "loanledger_loan_index",
            "loanledger_loan_state",
            "loanledger_loan_state_cover",
        ):
            assert _loan_ids(copied[table]) == every, table
        notices = {row[1] for row in copied["loanledger_notices"]}
        assert notices and max(notices) > f"L-{LOANS * (COPIES - 1):07d}"
        assert len(copied["loanledger_data_keys"]) == LOANS * COPIES


def test_a_copied_book_is_caught_up_and_its_copies_read_as_their_source_loans() -> None:
    with workspace() as space:
        base, book = _book(space)
        assert base.path is not None
        day = date(2024, 5, 17)
        with opened(book) as ledger:
            assert ledger.projections.catch_up() == 0
            assert ledger.verify().ok
            # Every loan of the report is served by the copied read model, none by a replay,
            # and the rows equal a replay of each loan's events.
            assert ledger._state_query("rows_at", day, None)[1] == set()
            served = ledger.report("loan_ledger", day)
            assert len(served) == LOANS * COPIES
            replayed = portfolio.loan_ledger(ledger._loan_rows(day, None))
            assert json.dumps(served) == json.dumps(replayed)
            source = ledger.loan("L-0000005", day)
            copy = ledger.loan(f"L-{5 + 2 * LOANS:07d}", day)
            assert {**copy, "loan_id": "L-0000005"} == source
            names = {row["borrower_name"] for row in ledger.export_loan_level(day, unmasked=True)}
            assert names == {"张三"}
        with opened(base) as original:
            days = original.read_store.query(
                "SELECT business_date, loans_processed, events_recorded "
                "FROM loanledger_closed_days ORDER BY business_date"
            )
        with opened(book) as ledger:
            copied_days = ledger.read_store.query(
                "SELECT business_date, loans_processed, events_recorded "
                "FROM loanledger_closed_days ORDER BY business_date"
            )
        # Close of day's own journal: each day's counts are the base's, once per copy.
        assert copied_days == [(d, n * COPIES, e * COPIES) for d, n, e in days]
