"""A walk of the log runs with Python's cyclic garbage collector off, and leaves it as it found
it (`persistence.verify.collector_paused`: full collections of the heap cost a verify a tenth of
its time)."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import StoredEvent

from loanledger.persistence.chain import GENESIS_LINK, compute_link, seal
from loanledger.persistence.verify import VerifyResult, collector_paused, verify_chains

LOAN = uuid.UUID(int=7)


def one_event(seen: list[bool]) -> Iterator[StoredEvent]:
    """A loan's first event, noting whether the collector is on when the walk asks for it."""
    seen.append(gc.isenabled())
    body = b'{"loan_id": "L-0007"}'
    yield StoredEvent(
        LOAN, 1, "Applied", seal(compute_link(GENESIS_LINK, LOAN, 1, "Applied", body), body)
    )
    seen.append(gc.isenabled())


def test_the_walk_runs_with_the_collector_off_and_turns_it_on_again() -> None:
    assert gc.isenabled()
    seen: list[bool] = []
    result = verify_chains(one_event(seen))
    assert result == VerifyResult(ok=True, loans_checked=1, events_checked=1, first_break=None)
    assert seen == [False, False]
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off_after_the_walk() -> None:
    gc.disable()
    try:
        seen: list[bool] = []
        verify_chains(one_event(seen))
        assert seen == [False, False]
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_is_on_again_when_the_walk_fails() -> None:
    with pytest.raises(OSError, match=r"^the store went away$"), collector_paused():
        raise OSError("the store went away")
    assert gc.isenabled()
