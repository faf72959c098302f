"""The loans the `loan_state` projection carries from page to page: a forked loan goes on exactly
as a replay of its events would, without changing the loan it was forked from; what is kept
stays within its bounds; idle loans are dropped; events that do not follow on are never applied.
"""

from __future__ import annotations

from typing import Any

import pytest

from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.domain.rules import CN_2023
from loanledger.projection.kept_loans import IDLE_GAPS, IDLE_MIN, KeptLoans, fork
from loanledger.projection.loan_state import _KnownAt
from loanledger.projection.segments import Timeline
from tests.unit.demo_histories import demo_histories, replay

CACHES = ("_positions", "_money_facts", "_derived")
"""What a loan derives and caches: not part of its state."""


@pytest.fixture(scope="module")
def histories() -> dict[str, list[DomainEvent]]:
    """Every loan's events in a small demo book (every kind of loan the demo makes)."""
    return demo_histories(loans=24, seed=5, months=9)


def long_loan(histories: dict[str, list[DomainEvent]]) -> tuple[str, list[DomainEvent]]:
    return next((loan_id, events) for loan_id, events in histories.items() if len(events) >= 10)


def state(loan: Loan) -> dict[str, Any]:
    return {name: value for name, value in vars(loan).items() if name not in CACHES}


def test_a_forked_loan_goes_on_as_a_replay_and_leaves_its_source_as_it_was(
    histories: dict[str, list[DomainEvent]],
) -> None:
    checked = 0
    for events in histories.values():
        whole = state(replay(events))
        for cut in range(1, len(events)):
            source = replay(events[:cut])
            before = state(source)
            copy = fork(source)
            for event in events[cut:]:
                event.mutate(copy)
            assert state(copy) == whole
            assert state(source) == before
            assert state(source) == state(replay(events[:cut]))
            checked += 1
    # Not vacuous: long histories with every kind of fact a demo loan has.
    assert checked > 300
    kinds = {type(event).__name__ for events in histories.values() for event in events}
    assert {"RepaymentReceived", "NoticeIssued", "LoanClosed"} <= kinds


def test_carrying_begins_a_loan_from_its_first_event_and_goes_on_from_the_kept_one(
    histories: dict[str, list[DomainEvent]],
) -> None:
    loan_id, events = long_loan(histories)
    kept = KeptLoans()
    kept.carry(loan_id, events[:3], position=10)
    kept.carry(loan_id, events[3:], position=20)
    found = kept.get(loan_id)
    assert found is not None and found.loan is not None
    assert state(found.loan) == state(replay(events))
    assert kept.events == len(events)


def test_events_that_do_not_follow_on_from_the_kept_loan_drop_it_instead_of_applying(
    histories: dict[str, list[DomainEvent]],
) -> None:
    loan_id, events = long_loan(histories)
    kept = KeptLoans()
    kept.carry(loan_id, events[:3], position=10)
    kept.carry(loan_id, events[4:], position=20)  # the fourth was projected elsewhere
    found = kept.get(loan_id)
    assert found is not None and found.loan is None
    assert kept.events == 0
    kept.carry("L-other", events[2:], position=30)  # not kept, and not from its first event
    other = kept.get("L-other")
    assert other is not None and other.loan is None


def test_the_kept_loans_stay_within_their_bounds_dropping_the_least_recently_used(
    histories: dict[str, list[DomainEvent]],
) -> None:
    kept = KeptLoans(loans=3, events=10_000)
    loan_ids = list(histories)[:5]
    for position, loan_id in enumerate(loan_ids, start=1):
        kept.carry(loan_id, histories[loan_id], position)
    assert list(kept) == loan_ids[2:]
    assert kept.events == sum(len(histories[loan_id]) for loan_id in loan_ids[2:])

    weighed = KeptLoans(loans=100, events=len(histories[loan_ids[4]]) + 1)
    for position, loan_id in enumerate(loan_ids, start=1):
        weighed.carry(loan_id, histories[loan_id], position)
    assert list(weighed) == [loan_ids[4]]
    assert weighed.events == len(histories[loan_ids[4]])


def test_a_loan_unused_for_longer_than_its_usual_gaps_is_dropped() -> None:
    kept = KeptLoans()
    gap = IDLE_MIN  # used every IDLE_MIN positions: may stay unused IDLE_GAPS times as long
    for position in (gap, 2 * gap, 3 * gap):
        kept.use("L-regular", position)
    kept.use("L-once", 3 * gap)
    last = 3 * gap
    assert kept.forget_idle(last + IDLE_MIN) == 0
    assert kept.forget_idle(last + IDLE_MIN + 1) == 1
    assert list(kept) == ["L-regular"]
    assert kept.forget_idle(last + IDLE_GAPS * gap) == 0
    assert kept.forget_idle(last + IDLE_GAPS * gap + 1) == 1
    assert len(kept) == 0


def test_a_dropped_entry_keeps_its_loan_for_its_caller_without_counting_it(
    histories: dict[str, list[DomainEvent]],
) -> None:
    kept = KeptLoans(loans=0)
    loan_id, events = long_loan(histories)
    kept.carry(loan_id, events, position=1)
    assert len(kept) == 0 and kept.events == 0


def test_a_loan_unused_for_a_while_keeps_its_events_but_not_its_walk(
    histories: dict[str, list[DomainEvent]],
) -> None:
    loan_id, events = long_loan(histories)
    kept = KeptLoans()
    for number, event in enumerate(events):  # an event every IDLE_MIN positions
        kept.carry(loan_id, [event], position=(number + 1) * IDLE_MIN)
    entry = kept.get(loan_id)
    assert entry is not None and entry.loan is not None
    timeline = Timeline(entry.loan, CN_2023)
    list(timeline.segments(timeline.starts_on, events[-1].effective_date))
    assert timeline.checkpoint is not None
    entry.walk = ("moment", timeline, timeline.checkpoint)
    last = len(events) * IDLE_MIN
    assert kept.forget_idle(last + IDLE_MIN + 1) == 0
    assert entry.walk is None
    assert entry.loan is not None and entry.loan.version == len(events)
    assert kept.forget_idle(last + IDLE_GAPS * IDLE_MIN + 1) == 1


def test_loans_named_to_keep_are_not_dropped_however_idle() -> None:
    kept = KeptLoans()
    kept.use("L-carried-on", 1)
    kept.use("L-idle", 2)
    assert kept.forget_idle(3 + IDLE_MIN, keep={"L-carried-on"}) == 1
    assert list(kept) == ["L-carried-on"]
    assert kept.forget_idle(3 + IDLE_MIN) == 1
    assert len(kept) == 0


def test_the_loan_as_known_at_each_moment_goes_forward_as_a_replay_does(
    histories: dict[str, list[DomainEvent]],
) -> None:
    """`loan_state` builds a loan as known at each of a batch's moments from the one before
    (`_KnownAt`): at every moment it equals `Loan.as_known_at`, which replays from the first
    fact; a moment earlier than the last one asked is refused, not answered wrongly."""
    checked = 0
    for events in histories.values():
        loan = replay(events)
        knowing = _KnownAt(loan)
        for moment in sorted({event.timestamp for event in events}):
            known = knowing.at(moment)
            assert state(known) == state(loan.as_known_at(moment))
            checked += 1
        assert knowing.at(events[-1].timestamp) is loan  # everything known: the loan itself
        with pytest.raises(ValueError, match="moments must go forward"):
            knowing.at(events[0].timestamp)
    assert checked > 200


def test_the_loan_as_known_at_each_moment_goes_on_from_the_loan_before_the_page(
    histories: dict[str, list[DomainEvent]],
) -> None:
    """A page's moments of a kept loan are built from the loan as the earlier pages left it
    (`_KnownAt(loan, before=...)`), not replayed from the first fact: at every moment of the
    page it equals `Loan.as_known_at`, and the loan it went on from is left as it was."""
    checked = 0
    for events in histories.values():
        loan = replay(events)
        for cut in range(1, len(events)):
            if events[cut - 1].timestamp == events[cut].timestamp:
                continue  # a page does not end inside a moment
            before = replay(events[:cut])
            as_it_was = state(before)
            # The loan goes on in a copy, whose history shares the events (as `carry` does).
            going_on = fork(before)
            for event in events[cut:]:
                event.mutate(going_on)
            knowing = _KnownAt(going_on, before=before)
            for moment in sorted({event.timestamp for event in events[cut:]}):
                assert state(knowing.at(moment)) == state(loan.as_known_at(moment))
                checked += 1
            assert state(before) == as_it_was
    assert checked > 1000


def test_a_loan_before_the_page_that_is_not_the_kept_loans_past_is_not_gone_on_from(
    histories: dict[str, list[DomainEvent]],
) -> None:
    """A loan loaded again from the store holds other event objects than the kept one: the
    moments are replayed from the first fact, as before."""
    _, events = long_loan(histories)
    loan = replay(events)
    stranger = replay([event.model_copy() for event in events[:3]])
    knowing = _KnownAt(loan, before=stranger)
    moment = events[3].timestamp
    assert state(knowing.at(moment)) == state(loan.as_known_at(moment))
    assert knowing._applied == sum(1 for event in events if event.timestamp <= moment)


def test_a_timeline_going_on_from_an_earlier_one_is_the_timeline_built_afresh(
    histories: dict[str, list[DomainEvent]],
) -> None:
    checked = shared = 0
    for events in histories.values():
        whole = replay(events)
        if whole.application is None:
            continue
        afresh = Timeline(whole, CN_2023)
        through = max(event.effective_date for event in events)
        expected = list(afresh.segments(afresh.starts_on, through))
        for cut in range(2, len(events) + 1):
            known = replay(events[:cut])
            earlier = Timeline(known, CN_2023)
            # As `_KnownAt` does, the earlier timeline's loan is changed in place for a later
            # moment once its segments are written: the timeline still holds what it was built
            # from.
            for event in events[cut : cut + 2]:
                event.mutate(known)
            # The same event objects: the loan goes on from the earlier one's.
            going_on = Timeline.going_on(earlier, whole, CN_2023)
            assert going_on.events == afresh.events
            assert going_on.fact_dates == afresh.fact_dates
            assert going_on.facts == afresh.facts
            assert list(going_on.segments(going_on.starts_on, through)) == expected
            shared += going_on.events is earlier.events
            checked += 1
    assert checked > 300
    assert shared > 0  # the whole history: nothing added, nothing copied


def test_a_timeline_of_a_loan_loaded_again_is_built_afresh(
    histories: dict[str, list[DomainEvent]],
) -> None:
    _, events = long_loan(histories)
    earlier = Timeline(replay(events[:5]), CN_2023)
    loaded = replay([event.model_copy() for event in events])  # other objects, same facts
    going_on = Timeline.going_on(earlier, loaded, CN_2023)
    in_order = sorted(
        loaded.history, key=lambda event: (event.effective_date, event.originator_version)
    )
    # Every event is the loaded loan's own object, none the earlier timeline's.
    assert [id(event) for event in going_on.events] == [id(event) for event in in_order]
