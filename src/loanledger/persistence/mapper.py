"""Turns pydantic domain events into stored bytes and back.

eventsourcing's default JSON transcoder does not handle `date`, and its mapper assumes events are
plain objects whose `__dict__` is their state; our events are frozen pydantic models, so we map
them ourselves (as the library's pydantic example does). The body is compact JSON with sorted keys
and no ASCII escaping, so the same event always gives the same bytes; that determinism is what the
hash chain relies on. `Decimal` is written as a string (exact), `date` and `datetime` as ISO 8601
(datetimes in UTC), `UUID` as its canonical string.

Older stored events are upcast one `upcast_vN_vN+1` step at a time before validation, since a
custom mapper must do `class_version` upcasting itself.
"""

from __future__ import annotations

import json
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic

from loanledger.domain.event import DomainEvent
from loanledger.persistence.chain import ChainHeads, unseal


def encode_body(event: DomainEvent) -> bytes:
    """The canonical bytes of an event's state, without its position (stored separately)."""
    state = event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
    class_version = type(event).class_version
    if class_version > 1:
        state["class_version"] = class_version
    return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def decode_body(topic: str, originator_id: UUID, version: int, body: bytes) -> DomainEvent:
    """Rebuild an event from canonical bytes, upcasting older class versions first."""
    cls = resolve_topic(topic)
    if not (isinstance(cls, type) and issubclass(cls, DomainEvent)):
        raise TypeError(f"topic {topic!r} is not a loanledger domain event")
    state: dict[str, Any] = json.loads(body)
    from_version = int(state.pop("class_version", 1))
    while from_version < cls.class_version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
        from_version += 1
    state["originator_id"] = originator_id
    state["originator_version"] = version
    return cls.model_validate(state)


class _UnusedTranscoder(Transcoder):
    """eventsourcing's Mapper wants a transcoder; ours writes JSON itself."""

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError("LedgerMapper encodes events itself")

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError("LedgerMapper decodes events itself")


class LedgerMapper(Mapper[UUID]):
    """Maps events to sealed stored events. Sealing (adding the chain link) needs the previous
    link, which only the application knows at save time, so `to_stored_event` returns the body
    unsealed and `LoanLedger` seals each batch before inserting it. Reading strips and remembers
    the link so the next append to the same loan needs no extra read.
    """

    def __init__(self, heads: ChainHeads) -> None:
        super().__init__(transcoder=_UnusedTranscoder())
        self.heads = heads

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event = cast(DomainEvent, domain_event)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=get_topic(type(event)),
            state=encode_body(event),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        originator_id = _as_uuid(stored_event.originator_id)
        try:
            link, body = unseal(stored_event.state)
            event = decode_body(
                stored_event.topic, originator_id, stored_event.originator_version, body
            )
        except Exception as error:
            raise MapperDeserialisationError(
                f"cannot read stored event {stored_event.originator_version} of "
                f"{originator_id} ({stored_event.topic}): {error}"
            ) from error
        self.heads.observe(originator_id, stored_event.originator_version, link)
        return event


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
