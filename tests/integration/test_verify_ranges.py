"""`verify(workers=N)` walks N contiguous ranges of the log, each from its own start, and merges
them into the single walk's verdict (issue 20).

Each range's verdict is taken in this process (no cluster: `walk_range` is what a worker runs on
its range), with ranges of a few events, so that every loan's chain crosses several boundaries
and a range begins in the middle of most loans' chains. On SQLite and PostgreSQL, intact and
after each tampering in turn, and with breaks put on a range's first event on purpose, the
merged verdict is the single walk's: `ok`, both counts and the first break (loan, version,
reason).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loanledger import LoanLedger
from loanledger.application.partitioned_verify import log_range, walk_range
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.pages import page_reader
from loanledger.persistence.verify import (
    ChainBreak,
    VerifyResult,
    chain_key,
    merge_ranges,
    read_notifications,
    verify_chains,
)
from tests.integration import book_tampering
from tests.integration.tampering import delete_event, flip_bit, overwrite_state, stored_states
from tests.integration.test_partitioned_verify import TAMPERINGS, nine_loans


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LoanLedger]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'book.db'}"
    else:
        url = f"{request.getfixturevalue('postgres_url')}?schema=vr_{uuid.uuid4().hex[:12]}"
    with nine_loans(url) as ledger:
        yield ledger


def single_walk(book: LoanLedger) -> VerifyResult:
    return verify_chains(read_notifications(page_reader(book.recorder)))


def merged(book: LoanLedger, bounds: list[tuple[int, int]]) -> VerifyResult:
    reader = page_reader(book.recorder)
    verdicts = [walk_range(book, lo, hi) for lo, hi in bounds]
    return merge_ranges(verdicts, lambda position: reader(position, 1)[0])


def split(until: int, partitions: int) -> list[tuple[int, int]]:
    return [log_range(until, index, partitions) for index in range(partitions)]


def position_of(book: LoanLedger, loan_id: str, version: int) -> int:
    for notification in read_notifications(page_reader(book.recorder)):
        key = chain_key(notification.originator_id)
        if key == loan_uuid(loan_id) and notification.originator_version == version:
            return notification.id
    raise AssertionError(f"{loan_id} version {version} is not stored")


def test_the_ranges_merged_give_the_single_walk_intact_and_after_each_tampering(
    book: LoanLedger,
) -> None:
    until = book.recorder.max_notification_id() or 0
    assert until == 189
    tiny = split(until, until // 4)  # 4 events a range: every loan crosses many boundaries
    crossings = [
        sum(1 for lo, hi in tiny if loan_uuid(f"L-{n:04d}") in walk_range(book, lo, hi).loans)
        for n in range(9)
    ]
    assert min(crossings) >= 3
    breaks = []
    for name, change in [("intact", None), *TAMPERINGS]:
        if change is not None:
            change(book)
        single = single_walk(book)
        assert single.loans_checked == book.verify().loans_checked == 9, name
        for partitions in (1, 2, 3, until // 4):
            assert merged(book, split(until, partitions)) == single, (name, partitions)
        breaks.append(single.first_break)
    assert breaks == [
        None,
        None,  # a snapshot: no chain breaks
        ChainBreak("L-0007", 6, ALTERED),
        ChainBreak("L-0005", 4, ALTERED),
        ChainBreak("L-0002", 5, ALTERED),
        ChainBreak("L-0001", 3, "version 3 is missing (next stored version is 4)"),
        ChainBreak("L-0001", 3, "version 3 is missing (next stored version is 4)"),
    ]


ALTERED = "stored bytes do not match their chain link (altered event or altered link)"


def test_an_altered_event_that_opens_a_range_is_named_by_the_merge(book: LoanLedger) -> None:
    position = position_of(book, "L-0005", 4)
    aggregate_id = loan_uuid("L-0005")
    overwrite_state(book, aggregate_id, 4, flip_bit(stored_states(book, aggregate_id)[4], 80))
    until = book.recorder.max_notification_id() or 0
    bounds = [(0, position - 1), (position - 1, until)]
    opening = walk_range(book, *bounds[1]).loans[aggregate_id]
    assert (opening.position, opening.opening is not None) == (position, True)
    result = merged(book, bounds)
    assert result == single_walk(book)
    assert result.first_break == ChainBreak("L-0005", 4, ALTERED)


def test_a_deleted_event_before_a_range_is_named_at_the_loan_s_opening(book: LoanLedger) -> None:
    position = position_of(book, "L-0005", 4)
    delete_event(book, loan_uuid("L-0005"), 4)
    until = book.recorder.max_notification_id() or 0
    result = merged(book, [(0, position - 1), (position - 1, until)])
    assert result == single_walk(book)
    assert result.first_break == ChainBreak(
        "L-0005", 4, "version 4 is missing (next stored version is 5)"
    )


@pytest.mark.parametrize("book", ["sqlite"], indirect=True)  # PostgreSQL: a uuid column
def test_a_version_1_after_the_loan_s_events_in_an_earlier_range_is_out_of_order(
    book: LoanLedger,
) -> None:
    """SQLite stores the key as text: the last loan's first event, relabelled as L-0000's in
    upper case, is a second version 1 of L-0000 that its range checks from the genesis link.
    (PostgreSQL's uuid column has one spelling of a key: no such row can be stored there.)"""
    position = position_of(book, "L-0008", 1)
    book_tampering.run(
        book,
        "UPDATE {events} SET originator_id=%s WHERE {id}=%s",
        (loan_uuid("L-0000").hex.upper(), position),
    )
    until = book.recorder.max_notification_id() or 0
    bounds = [(0, position - 1), (position - 1, until)]
    second = walk_range(book, *bounds[1])
    loan = second.loans[loan_uuid("L-0000")]
    assert (loan.position, loan.opening, loan.broken) == (position, None, True)
    # The range saw a version 1 with another loan's link; the merge names what the single
    # walk names at the same position.
    assert second.first_break == (position, loan_uuid("L-0000"), 1, ALTERED)
    result = merged(book, bounds)
    assert result == single_walk(book)
    assert result.first_break == ChainBreak(
        "L-0000", 6, "versions out of order (version 1 stored after 5)"
    )
