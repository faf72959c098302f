"""The per-event memo (`domain.loan.memo`): values derived from one event alone are made once.
Inside a scoped block (a projection's page) they go to a small memo of the block's own, bounded
and dropped at the end, so that a rebuild neither fills the process-wide memo nor derives a
loan's money facts again at each of its moments."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import cast

from loanledger.domain.loan.memo import EventMemo
from loanledger.domain.loan_events import RepaymentReceived


def repayment(number: int) -> RepaymentReceived:
    """A stand-in for a recorded event: the memo reads nothing of it but its identity."""
    return cast(RepaymentReceived, SimpleNamespace(reference=f"R-{number}"))


def test_a_scoped_block_remembers_in_its_own_memo_bounded_and_forgotten_at_its_end() -> None:
    memo = EventMemo(capacity=100)
    made: list[str] = []

    def make(event: RepaymentReceived) -> str:
        made.append(event.reference)
        return event.reference

    events = [repayment(number) for number in range(1, 5)]
    with memo.scoped(capacity=3):
        assert [memo.get(event, make) for event in events[:3]] == ["R-1", "R-2", "R-3"]
        assert memo.get(events[0], make) == "R-1"
        assert made == ["R-1", "R-2", "R-3"]  # asked again within the block: made once
        memo.get(events[3], make)  # the block's memo was full: forgotten all at once
        memo.get(events[0], make)
        assert made == ["R-1", "R-2", "R-3", "R-4", "R-1"]
    assert memo.get(events[1], make) == "R-2"  # the process-wide memo never saw them
    assert made[-1] == "R-2"
    assert memo.get(events[1], make) == "R-2"
    assert made.count("R-2") == 2


def test_a_scoped_block_is_its_threads_alone() -> None:
    memo = EventMemo(capacity=100)
    event = repayment(1)
    made: list[str] = []
    inside = threading.Event()
    done = threading.Event()

    def maker(name: str) -> Callable[[RepaymentReceived], str]:
        def make(made_from: RepaymentReceived) -> str:
            made.append(name)
            return made_from.reference

        return make

    def other_thread() -> None:
        inside.wait()
        memo.get(event, maker("other"))
        done.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with memo.scoped():
        memo.get(event, maker("scoped"))
        inside.set()
        done.wait()
    thread.join()
    assert made == ["scoped", "other"]  # the other thread used the process-wide memo
    assert memo.get(event, maker("again")) == "R-1"
    assert made == ["scoped", "other"]
