"""A range's verdict travels from a worker as flat columns, not an object a loan (issue 20):
what it reads back (`RangeVerdict.loans`) is what the walk found, it pickles without a
per-loan object, and the merge checks an opening's link without parsing its body again only
when the walk read that body as JSON. On SQLite and PostgreSQL (the `book` fixture of
`test_verify_ranges`: nine loans, snapshots of most)."""

from __future__ import annotations

import gc
import pickle

import pytest
from eventsourcing.persistence import Notification, StoredEvent

from loanledger import LoanLedger
from loanledger.application.partitioned_verify import walk_range
from loanledger.persistence.chain import compute_link, seal, unseal
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.verify import ChainBreak, LoanInRange, RangeMerge, RangeWalk
from tests.integration.tampering import overwrite_state, stored_states
from tests.integration.test_verify_ranges import book, merged, position_of, single_walk

__all__ = ["book"]  # the fixture, used by name


def test_the_whole_log_as_one_range_reads_back_each_loan_s_first_position_last_version_and_link(
    book: LoanLedger,
) -> None:
    until = book.recorder.max_notification_id() or 0
    loans = walk_range(book, 0, until).loans
    expected = {}
    for number in range(9):
        loan_id = f"L-{number:04d}"
        states = stored_states(book, loan_uuid(loan_id))
        last = max(states)
        expected[loan_uuid(loan_id)] = LoanInRange(
            position_of(book, loan_id, 1), None, last, unseal(states[last])[0], False, loan_id
        )
    assert loans == expected


def test_a_range_s_verdict_pickles_with_no_object_a_loan(book: LoanLedger) -> None:
    until = book.recorder.max_notification_id() or 0
    verdict = walk_range(book, until // 2, until)
    opened = [loan for loan in verdict.loans.values() if loan.opening is not None]
    assert len(opened) == 9  # every loan's chain crosses the middle of the log
    sent = pickle.dumps(verdict)
    for name in (b"LoanInRange", b"Notification", b"UUID"):
        assert name not in sent
    assert pickle.loads(sent).loans == verdict.loans


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        # JSON only in UTF-16, which the standard library's reader takes and no event decodes
        # from: verify reads a body as the decoder does (UTF-8 JSON).
        '{"loan_id": "L-0005"}'.encode("utf-16"),
    ],
)
def test_an_opening_whose_body_is_not_json_under_a_good_link_is_named_as_the_single_walk_names_it(
    book: LoanLedger, body: bytes
) -> None:
    """The walk cannot read such an opening's head: the merge checks it in full, link and then
    body, and names the body."""
    aggregate_id = loan_uuid("L-0005")
    states = stored_states(book, aggregate_id)
    link_before = unseal(states[3])[0]
    topic = next(
        e.topic for e in book.recorder.select_events(aggregate_id) if e.originator_version == 4
    )
    overwrite_state(
        book, aggregate_id, 4, seal(compute_link(link_before, aggregate_id, 4, topic, body), body)
    )
    position = position_of(book, "L-0005", 4)
    until = book.recorder.max_notification_id() or 0
    bounds = [(0, position - 1), (position - 1, until)]
    second = walk_range(book, *bounds[1])
    unread = [
        (second.names[row], version) for row, version, _, _, read in second.openings if not read
    ]
    assert unread == [("L-0005", 4)]  # every other loan's opening was read as JSON by the walk
    result = merged(book, bounds)
    assert result == single_walk(book)
    assert result.first_break == ChainBreak(
        "L-0005", 4, "unreadable stored bytes: the body is not JSON"
    )


def never_read_again(position: int) -> StoredEvent:
    raise AssertionError(f"an intact book's merge read position {position} again")


def test_ranges_merged_one_at_a_time_give_what_they_give_merged_together(book: LoanLedger) -> None:
    until = book.recorder.max_notification_id() or 0
    bounds = [(until * k // 3, until * (k + 1) // 3) for k in range(3)]
    merge = RangeMerge(never_read_again)
    for lo, hi in bounds:
        merge.add(walk_range(book, lo, hi))
    assert merge.ranges == 3
    assert merge.result() == merged(book, bounds) == single_walk(book)


def test_a_range_is_walked_with_the_collector_off_and_leaves_it_on(
    book: LoanLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    add = RangeWalk.add

    def noting(walk: RangeWalk, notification: Notification) -> None:
        seen.append(gc.isenabled())
        add(walk, notification)

    monkeypatch.setattr(RangeWalk, "add", noting)
    until = book.recorder.max_notification_id() or 0
    walk_range(book, 0, until)
    assert seen == [False] * until
    assert gc.isenabled()
