"""A minimal event-sourced aggregate base for pydantic events.

eventsourcing's own `Aggregate` creates its events with the wall clock and as dataclasses; the
domain here must not read a clock and its events are pydantic models, so this base follows the
library's pydantic example instead: the aggregate is rebuilt by applying events in order, and new
events wait in `pending` until the application collects and stores them. It satisfies
eventsourcing's `CollectEventsProtocol` (`id`, `version`, `collect_events`), so the library's
repository and `Application.save` work with it unchanged.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from loanledger.domain.event import DomainEvent

E = TypeVar("E", bound=DomainEvent)


class EventSourcedAggregate:
    """State rebuilt from events; subclasses implement `apply` for each event type."""

    def __init__(self, aggregate_id: UUID) -> None:
        self.id = aggregate_id
        self.version = 0
        self.created_on: datetime | None = None
        self.modified_on: datetime | None = None
        self._pending: list[DomainEvent] = []

    def apply(self, event: Any) -> None:
        """Record the position of an applied event; subclasses call this then change state."""
        assert isinstance(event, DomainEvent)
        if event.originator_version != self.version + 1:
            raise ValueError(
                f"event version {event.originator_version} does not follow {self.version}"
            )
        self.version = event.originator_version
        if self.created_on is None:
            self.created_on = event.timestamp
        self.modified_on = event.timestamp

    def trigger(self, event_class: type[E], recorded_at: datetime, **fields: Any) -> E:
        """Create the next event, apply it, and keep it pending until saved."""
        event = event_class(
            originator_id=self.id,
            originator_version=self.version + 1,
            # In UTC, the zone every event's time is stored in (a naive time stays naive, and
            # the event refuses it).
            timestamp=recorded_at.astimezone(UTC) if recorded_at.utcoffset() else recorded_at,
            **fields,
        )
        event.mutate(self)
        self._pending.append(event)
        return event

    def collect_events(self) -> list[DomainEvent]:
        """Hand pending events to the application and forget them."""
        collected, self._pending = self._pending, []
        return collected

    @property
    def has_pending_events(self) -> bool:
        return bool(self._pending)


class FactStream(EventSourcedAggregate, Generic[E]):
    """A book stream of one kind of fact, each version kept in `facts` in order (a product's
    versions, a holiday calendar's, an index's published values); `fact_type` is that kind and
    `what` names the stream in the error for any other event."""

    fact_type: ClassVar[type[DomainEvent]]
    what: ClassVar[str]

    def __init__(self, aggregate_id: UUID) -> None:
        super().__init__(aggregate_id)
        self.facts: list[E] = []

    def apply(self, event: Any) -> None:
        if not isinstance(event, self.fact_type):
            raise TypeError(f"{self.what} cannot apply {type(event).__name__}")
        super().apply(event)
        self.facts.append(event)  # type: ignore[arg-type]  # checked above: it is a fact_type

    def latest_in_force(self, on: date, known_at: datetime | None = None) -> E | None:
        """The fact in force on business date `on` as known at `known_at`: the latest effective
        on or before `on`, and of those for one date the latest recorded (None: none yet)."""
        found: E | None = None
        for fact in self.facts:
            if fact.effective_date > on or (known_at is not None and fact.timestamp > known_at):
                continue
            if found is None or (fact.effective_date, fact.originator_version) > (
                found.effective_date,
                found.originator_version,
            ):
                found = fact
        return found
