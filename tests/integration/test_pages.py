"""The notification-log reader of the engine and `verify()` (`persistence.pages`) gives exactly
what eventsourcing's `select_notifications` gives, page by page, on every store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from eventsourcing.postgres import PostgresApplicationRecorder

from loanledger import LoanLedger
from loanledger.persistence.pages import page_reader
from tests.journal import disburse, pre_loan, repay
from tests.stores import ON_POSTGRESQL


@pytest.fixture
def book(store_url: str, clock: Callable[[], datetime]) -> LoanLedger:
    ledger = LoanLedger.open(store_url, clock=clock)
    for number in range(1, 4):
        loan_id = f"L-{number:04d}"
        for command in pre_loan(loan_id, borrower_id=f"B-{number}"):
            ledger.execute(command)
        ledger.execute(disburse(loan_id, "2024-01-15", "12000.00"))
        ledger.execute(repay(loan_id, "2024-02-15", "100.00", reference=f"R-{number}"))
    return ledger


@pytest.mark.parametrize(("start", "limit"), [(1, 1000), (1, 4), (5, 7), (18, 100), (99, 5)])
def test_a_page_is_what_the_recorder_selects(book: LoanLedger, start: int, limit: int) -> None:
    expected = list(book.recorder.select_notifications(start, limit))

    page = list(page_reader(book.recorder)(start, limit))

    assert page == expected
    assert [type(item.originator_id) for item in page] == [type(i.originator_id) for i in expected]
    assert [type(item.state) for item in page] == [bytes] * len(expected)
    book.close()


def test_the_whole_log_reads_in_pages_with_every_event_once(book: LoanLedger) -> None:
    read = page_reader(book.recorder)
    ids: list[int] = []
    start = 1
    while page := read(start, 5):
        ids += [item.id for item in page]
        start = page[-1].id + 1

    assert ids == [item.id for item in book.recorder.select_notifications(1, 1000)]
    assert len(ids) == 3 * 6  # apply, investigation, review, approval, disbursement, repayment
    book.close()


def test_pages_read_in_a_session_are_the_pages_read_one_by_one(book: LoanLedger) -> None:
    read = page_reader(book.recorder)
    one_by_one = [list(read(start, 4)) for start in (1, 5, 9, 13, 17)]

    with read.session():
        in_session = [list(read(start, 4)) for start in (1, 5, 9, 13, 17)]

    assert in_session == one_by_one
    book.close()


@ON_POSTGRESQL
def test_a_session_on_postgresql_takes_one_pooled_connection_for_every_page(
    book: LoanLedger,
) -> None:
    assert isinstance(book.recorder, PostgresApplicationRecorder)
    read = page_reader(book.recorder)
    pool = book.recorder.datastore.pool
    before = pool.get_stats()["requests_num"]

    with read.session():
        for start in (1, 5, 9, 13, 17):
            read(start, 4)

    # One checkout (and one connection check) for five pages, instead of one a page.
    assert pool.get_stats()["requests_num"] - before == 1
    book.close()
