"""The process-wide memo of values derived from one recorded event alone (its money fact, the
terms it approves), shared by every Loan rebuilt from the same decoded events."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar, cast

from loanledger.domain.event import DomainEvent

E = TypeVar("E", bound=DomainEvent)
T = TypeVar("T")


class EventMemo:
    """Values derived from one recorded event alone (its money fact, the terms it approves),
    remembered by the event's identity; bounded (forgotten all at once when full).

    Events are immutable, and every Loan rebuilt from a loan's stored events shares the same
    decoded event objects (`application.LoanEvents`), so each Loan need not build them again. The
    event is kept with its value, so its id cannot be reused by another object meanwhile.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._values: dict[int, tuple[DomainEvent, object]] = {}
        self._paused = threading.local()

    def get(self, event: E, make: Callable[[E], T]) -> T:
        found = self._values.get(id(event))
        if found is not None and found[0] is event:
            return cast(T, found[1])
        value = make(event)
        if getattr(self._paused, "on", False):
            return value
        if len(self._values) >= self._capacity:
            self._values = {}
        self._values[id(event)] = (event, value)
        return value

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Within this block, on this thread, values are made but not remembered: a reader that
        decodes every loan once (a projection rebuilding) would only fill the memo with events
        nobody asks about again, and keep them alive."""
        previous = getattr(self._paused, "on", False)
        self._paused.on = True
        try:
            yield
        finally:
            self._paused.on = previous


MAX_REMEMBERED_EVENT_VALUES = 100_000
EVENT_VALUES = EventMemo(MAX_REMEMBERED_EVENT_VALUES)
"""The one memo every Loan reads its per-event values through."""


def event_values_not_remembered() -> AbstractContextManager[None]:
    """See `EventMemo.paused`."""
    return EVENT_VALUES.paused()
