"""The base of every stored fact: a frozen pydantic model with two times.

`effective_date` is the business date the fact applies to; `timestamp` is when the ledger recorded
it (UTC). Keeping both on every event is what lets every query take `as_of` and `known_at`
(DESIGN §2, principle 2). Events carry the journal's `loan_id` as well as the aggregate UUID, so an
auditor reading any single stored event knows which loan it belongs to without a lookup, and the
verifier can name a broken loan even when its first event is unreadable.

Events never read the clock: the application passes the recorded time in.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from importlib import import_module
from typing import Annotated, Any, ClassVar, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import core_schema


class _AtUTC:
    """A recorded time must be timezone-aware with offset 0 (UTC), checked by pydantic-core
    itself: a Python validator here cost ~1.3 us on every event decoded (a tenth of decoding
    one), and stored times are always UTC. A time from a clock in another zone is converted
    where events are made (`Aggregate.trigger`), so the instant is kept; one without a zone is
    refused there."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.datetime_schema(tz_constraint=0)


RecordedTime = Annotated[datetime, _AtUTC]


class Mutable(Protocol):
    """What an event needs from the aggregate it changes."""

    def apply(self, event: Any) -> None: ...


class DomainEvent(BaseModel):
    """A fact recorded about one aggregate. Subclasses add their fields and `apply` logic.

    `class_version` starts at 1; raising it requires a static `upcast_vN_vN+1(state: dict)` on the
    class for each step, which the mapper runs one step at a time on older stored events.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    class_version: ClassVar[int] = 1

    aggregate_topic: ClassVar[str | None] = None
    """For an event that starts a stream: the aggregate class it creates, as eventsourcing's
    `module:Class` topic. It is resolved when first needed, so an events module never imports the
    aggregate module that imports it (the aggregate knows its events, not the other way round)."""

    originator_id: UUID
    originator_version: int
    timestamp: RecordedTime
    loan_id: str
    effective_date: date

    def mutate(self, aggregate: Any) -> Any:
        """Apply this event to `aggregate` (None for a creation event) and return the result.

        This is the hook eventsourcing's repository calls when it replays stored events.
        """
        if aggregate is None:
            aggregate = self.create_aggregate()
        aggregate.apply(self)
        return aggregate

    def create_aggregate(self) -> Any:
        """The new aggregate a creation event starts: the class its `aggregate_topic` names (or
        its own override); any other event first in a stream is corrupt."""
        if self.aggregate_topic is None:
            raise TypeError(f"{type(self).__name__} cannot start a stream")
        return resolve_aggregate(self.aggregate_topic)(self.originator_id)


@cache
def resolve_aggregate(topic: str) -> Any:
    """The class a `module:Class` topic names (eventsourcing's topic form), imported once."""
    module_name, _, class_name = topic.partition(":")
    return getattr(import_module(module_name), class_name)
