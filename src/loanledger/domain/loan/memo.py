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


SCOPED_EVENT_VALUES = 4096
"""Values a `scoped` block remembers: a loan's money facts and terms while its moments are
projected one after the other (a few dozen a loan), bounded so a rebuild's memory does not grow
with the book (B6)."""


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
        self._scope = threading.local()

    def get(self, event: E, make: Callable[[E], T]) -> T:
        scoped: _Scope | None = getattr(self._scope, "values", None)
        values = scoped.values if scoped is not None else self._values
        found = values.get(id(event))
        if found is not None and found[0] is event:
            return cast(T, found[1])
        value = make(event)
        capacity = scoped.capacity if scoped is not None else self._capacity
        if len(values) >= capacity:
            values.clear()
        values[id(event)] = (event, value)
        return value

    @contextmanager
    def scoped(self, capacity: int = SCOPED_EVENT_VALUES) -> Iterator[None]:
        """Within this block, on this thread, values are remembered in a small memo of the
        block's own (at most `capacity`, forgotten all at once when full, and all of it at the
        end), not in the process-wide one: a reader that decodes every loan once (a projection
        rebuilding) would fill the shared memo with events nobody asks about again and keep
        them alive, while it asks for each of a loan's values again at each moment of the loan
        (`loan_state` derives the loan as known at each one, one after the other)."""
        previous = getattr(self._scope, "values", None)
        self._scope.values = _Scope(capacity)
        try:
            yield
        finally:
            self._scope.values = previous


class _Scope:
    """The memo of one `EventMemo.scoped` block."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.values: dict[int, tuple[DomainEvent, object]] = {}


MAX_REMEMBERED_EVENT_VALUES = 100_000
EVENT_VALUES = EventMemo(MAX_REMEMBERED_EVENT_VALUES)
"""The one memo every Loan reads its per-event values through."""


def event_values_scoped() -> AbstractContextManager[None]:
    """See `EventMemo.scoped`."""
    return EVENT_VALUES.scoped()
