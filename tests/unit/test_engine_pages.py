"""Where the projection engine's pages end: a page of `batch_size` events goes on by whole pages
while the loans that follow are the page's own (what a page holds in memory is its loans, and
every page boundary costs each loan it cuts), up to `PAGE_CHUNKS` pages; a page whose next events
are other loans' stays one page. The pages depend on the log alone, so a rebuild resumed at any
page's end reads the pages it would have read, and every partition reads the same pages."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from eventsourcing.persistence import Notification
from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger.persistence.read_store import SQLiteReadStore
from loanledger.projection import engine
from loanledger.projection.engine import PAGE_CHUNKS, ProjectionEngine

PAGE = 10


def log_of(loans: Sequence[str]) -> list[Notification]:
    """A log with one event of each of `loans`, in order (positions from 1)."""
    return [
        Notification(originator_id=loan, originator_version=1, topic="t", state=b"", id=position)
        for position, loan in enumerate(loans, start=1)
    ]


def engine_over(log: list[Notification]) -> ProjectionEngine:
    """An engine reading `log` in pages of `PAGE` events, each event a moment of its own."""

    def select(start: int, limit: int) -> list[Notification]:
        return log[start - 1 : start - 1 + limit]

    def decode(notifications: Sequence[Notification]) -> Sequence[Any]:
        return [SimpleNamespace(timestamp=n.id) for n in notifications]

    return ProjectionEngine(SQLiteReadStore(None), [], select, decode, batch_size=PAGE)  # type: ignore[arg-type]


def pages_from(reader: ProjectionEngine, start: int) -> list[int]:
    """The sizes of the pages read from `start` to the log's end."""
    sizes: list[int] = []
    while True:
        page, _ = reader._page(start)
        if not page:
            return sizes
        sizes.append(len(page))
        start = page[-1].id + 1


def test_a_page_goes_on_while_the_loans_that_follow_are_its_own() -> None:
    # The same five loans again and again.
    loans = [f"L-{n % 5}" for n in range((2 * PAGE_CHUNKS + 2) * PAGE)]
    # (The last 20: a page goes on only with a whole page and an event after it to read.)
    assert pages_from(engine_over(log_of(loans)), 1) == [PAGE_CHUNKS * PAGE] * 2 + [PAGE, PAGE]


def test_a_page_stops_where_other_loans_follow() -> None:
    loans = [f"L-{n // PAGE}-{n % 5}" for n in range(60)]  # five new loans every page
    assert pages_from(engine_over(log_of(loans)), 1) == [PAGE] * 6


def test_a_page_goes_on_only_by_whole_pages_before_the_head() -> None:
    # 15 events of the same loans: the next whole page is not there yet, so the page is one
    # page, and the rest is the next page (a catch-up of what is recorded later goes on there).
    loans = [f"L-{n % 3}" for n in range(15)]
    assert pages_from(engine_over(log_of(loans)), 1) == [PAGE, 5]


def test_a_page_goes_on_when_two_in_three_of_the_loans_that_follow_are_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "DECODE_BATCH", PAGE)
    own = [f"L-{n}" for n in range(PAGE)]
    three_new = [*own[:7], "L-new", "L-other", "L-third"]  # seven of ten loans are the page's
    four_new = [*own[:6], "L-new", "L-other", "L-third", "L-fourth"]  # six of ten
    assert pages_from(engine_over(log_of(own + three_new + own)), 1) == [2 * PAGE, PAGE]
    assert pages_from(engine_over(log_of(own + four_new + own)), 1) == [PAGE, PAGE, PAGE]


@settings(max_examples=60, deadline=None)
@given(
    loans=st.integers(1, 24).flatmap(
        lambda count: st.lists(
            st.sampled_from([f"L-{n}" for n in range(count)]), min_size=1, max_size=160
        )
    )
)
def test_a_read_resumed_at_any_pages_end_reads_the_pages_it_would_have_read(
    loans: list[str],
) -> None:
    # (From 1 to 24 loans, pages of 10: the events that follow a page are sometimes mostly its
    # own loans and sometimes not, so pages both go on and stop.)
    reader = engine_over(log_of(loans))
    sizes = pages_from(reader, 1)
    assert sum(sizes) == len(loans)
    assert all(size <= PAGE_CHUNKS * PAGE for size in sizes)
    start = 1
    for index, size in enumerate(sizes):
        assert pages_from(reader, start) == sizes[index:]
        start += size
