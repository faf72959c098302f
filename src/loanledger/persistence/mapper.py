"""Turns pydantic domain events into stored bytes and back.

eventsourcing's default JSON transcoder does not handle `date`, and its mapper assumes events are
plain objects whose `__dict__` is their state; our events are frozen pydantic models, so we map
them ourselves (as the library's pydantic example does). The body is compact JSON with sorted keys
and no ASCII escaping, so the same event always gives the same bytes; that determinism is what the
hash chain relies on. `Decimal` is written as a string (exact), `date` and `datetime` as ISO 8601
(datetimes in UTC), `UUID` as its canonical string.

Older stored events are upcast one `upcast_vN_vN+1` step at a time before validation, since a
custom mapper must do `class_version` upcasting itself.

Personal data (borrower and guarantor names, identity-document numbers) is sealed here, at the
storage edge, never in the domain: `loanledger.persistence.personal_data` replaces those fields
of the JSON state by an AES-GCM envelope before the bytes are sealed into the hash chain, and
puts them back (or `[erased]`, once the subject's data key is destroyed) before validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import TypeAdapter

from loanledger.domain.errors import MasterKeyMissingError, PersonalDataKeyError
from loanledger.domain.event import DomainEvent
from loanledger.persistence.chain import (
    HEX_DIGITS,
    LINK_LENGTH,
    ChainHeads,
    MalformedSealError,
    unseal,
)
from loanledger.persistence.keys import DataKeys
from loanledger.persistence.personal_data import (
    ENVELOPE_FIELD,
    PERSONAL_FIELDS,
    open_state,
    seal_state,
)


def event_state(event: DomainEvent) -> dict[str, Any]:
    """An event's JSON state, without its position (stored separately)."""
    state = event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
    class_version = type(event).class_version
    if class_version > 1:
        state["class_version"] = class_version
    return state


def dump_state(state: dict[str, Any]) -> bytes:
    """Canonical bytes: compact JSON, sorted keys, UTF-8."""
    return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def encode_body(event: DomainEvent) -> bytes:
    """The canonical bytes of an event's plain state (personal data not sealed)."""
    return dump_state(event_state(event))


def decode_body(
    topic: str,
    originator_id: UUID,
    version: int,
    body: bytes,
    data_keys: DataKeys | None = None,
) -> DomainEvent:
    """Rebuild an event from stored bytes: open sealed personal data with `data_keys`, then
    upcast older class versions (upcasters see the plain state).

    An event of a class at version 1 whose topic carries no personal data (nearly every stored
    event) is validated straight from its bytes with pydantic-core's `validate_json`, its position
    spliced in as the last keys: one pass in Rust instead of `json.loads` and `validate_python`.
    Anything that pass refuses — a sealed envelope or a `class_version` key (events forbid extra
    fields), bytes that are not one JSON object — is decoded by the plain-state path below, so
    what comes back, or what is raised, is exactly what that path gives. Where a body names a
    position itself, the spliced keys come last and win, as the state path's assignment does."""
    cls = _event_class(topic)
    if _from_bytes(topic) and body[-1:] == b"}":
        try:
            return cls.model_validate_json(_with_position(originator_id, version, body))
        except Exception:  # the path below raises the error this body always gave
            pass
    state: dict[str, Any] = json.loads(body)
    if ENVELOPE_FIELD in state:
        if data_keys is None:
            raise MasterKeyMissingError("this mapper has no data keys to open personal data")
        open_state(state, topic, originator_id, version, data_keys)
    from_version = int(state.pop("class_version", 1))
    while from_version < cls.class_version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
        from_version += 1
    state["originator_id"] = originator_id
    state["originator_version"] = version
    return cls.model_validate(state)


_KEY_ID = re.compile(rb'"key":"([0-9a-f]{32})"')
"""A data key id in a sealed envelope (`personal_data.seal_state`), found without parsing the
body, to fetch a page's keys together. Only a hint: a key it misses is read when the envelope is
opened, and one it finds wrongly is a wasted lookup."""

_EVENT_CLASSES: dict[str, type[DomainEvent]] = {}

_FROM_BYTES: set[type[DomainEvent]] = set()
"""Event classes whose bodies `validate_json` may read: at class version 1 (nothing to upcast)
and forbidding extra fields (so a stored envelope or `class_version` key is refused, not
ignored)."""


def _event_class(topic: str) -> type[DomainEvent]:
    cls = _EVENT_CLASSES.get(topic)
    if cls is None:
        found = resolve_topic(topic)
        if not (isinstance(found, type) and issubclass(found, DomainEvent)):
            raise TypeError(f"topic {topic!r} is not a loanledger domain event")
        if found.class_version == 1 and found.model_config.get("extra") == "forbid":
            _FROM_BYTES.add(found)
        cls = _EVENT_CLASSES[topic] = found
    return cls


_LIST_ADAPTERS: dict[type[DomainEvent], TypeAdapter[list[Any]]] = {}


def _list_adapter(cls: type[DomainEvent]) -> TypeAdapter[list[Any]]:
    adapter = _LIST_ADAPTERS.get(cls)
    if adapter is None:
        adapter = _LIST_ADAPTERS[cls] = TypeAdapter(list[cls])  # type: ignore[valid-type]
    return adapter


def _from_bytes(topic: str) -> bool:
    """Whether `decode_body` reads this topic's bodies with `validate_json`."""
    return _event_class(topic) in _FROM_BYTES and topic not in PERSONAL_FIELDS


def _with_position(originator_id: UUID, version: int, body: bytes) -> bytes:
    """`body`, a JSON object (ending with its closing brace: the caller checks), with the
    event's position added as its last two keys. If the result is one valid JSON object, so is
    `body`, with the same keys but the position: what the splice adds can only continue an
    object whose closing brace it replaced."""
    return b'%s,"originator_id":"%s","originator_version":%d}' % (
        body[:-1],
        originator_id.hex.encode("ascii"),
        version,
    )


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

    def __init__(self, heads: ChainHeads, data_keys: DataKeys | None = None) -> None:
        super().__init__(transcoder=_UnusedTranscoder())
        self.heads = heads
        self.data_keys = data_keys

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event = cast(DomainEvent, domain_event)
        topic = get_topic(type(event))
        state = event_state(event)
        if topic in PERSONAL_FIELDS:
            if self.data_keys is None:
                raise MasterKeyMissingError("this mapper has no data keys to seal personal data")
            seal_state(state, topic, event.originator_id, event.originator_version, self.data_keys)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=topic,
            state=dump_state(state),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event, link = self._decode(stored_event)
        self.heads.observe(event.originator_id, event.originator_version, link)
        return event

    def to_domain_events(self, stored_events: Iterable[StoredEvent]) -> list[DomainEvent]:
        """Decode a batch (a page of the notification log, say), in order: exactly the events
        `to_domain_event` gives one by one, and the same error for the first unreadable one.

        The bodies `decode_body` would read with `validate_json` are read one array per event
        class instead (one pydantic-core call for many events, not one per event). If anything
        in the batch fails (a missing master key included), or the arrays do not split back into
        the batch's events (count and position of each), the batch is decoded event by event,
        which raises as it always did. The chain heads learn only each loan's newest link of the
        batch, under one lock: the older links would be replaced at once anyway."""
        stored = list(stored_events)
        try:
            events, newest = self._decode_page(stored)
        except Exception:  # one by one below: the first failing event raises, as it always did
            events = []
            newest = {}
            for stored_event in stored:
                event, link = self._decode(stored_event)
                events.append(event)
                head = newest.get(event.originator_id)
                if head is None or head[0] < event.originator_version:
                    newest[event.originator_id] = (event.originator_version, link)
        self.heads.observe_many(newest)
        return events

    def _decode_page(
        self, stored: list[StoredEvent]
    ) -> tuple[list[DomainEvent], dict[UUID, tuple[int, str]]]:
        """`to_domain_events` without its fallback (raises on anything unexpected): the events,
        and each loan's newest (version, link)."""
        decoded: list[DomainEvent | None] = [None] * len(stored)
        expected: list[tuple[int, int]] = []
        newest: dict[int, tuple[int, int, UUID]] = {}
        groups: dict[str, tuple[list[int], list[bytes]]] = {}
        slow: list[tuple[int, str, UUID, int]] = []
        for index, stored_event in enumerate(stored):
            originator_id = _as_uuid(stored_event.originator_id)
            number = originator_id.int
            version = stored_event.originator_version
            state = stored_event.state
            prefix = state[:LINK_LENGTH]
            if len(prefix) != LINK_LENGTH or prefix.translate(None, HEX_DIGITS):
                raise MalformedSealError("stored bytes do not start with a hex chain link")
            expected.append((number, version))
            head = newest.get(number)
            if head is None or head[0] < version:
                newest[number] = (version, index, originator_id)
            topic = stored_event.topic
            group = groups.get(topic)
            if group is None and _from_bytes(topic):
                group = groups[topic] = ([], [])
            if group is not None:
                if state[-1:] != b"}":  # `_with_position` replaces the closing brace
                    raise ValueError("a stored body does not end an object")
                group[0].append(index)
                # The body with the event's position as its last keys (see `_with_position`).
                group[1].append(
                    b'%s,"originator_id":"%032x","originator_version":%d}'
                    % (state[LINK_LENGTH:-1], number, version)
                )
            else:
                slow.append((index, topic, originator_id, version))
        if slow and self.data_keys is not None:
            # Personal data: every data key the page needs, in one query (see `_KEY_ID`).
            self.data_keys.prefetch(
                match.group(1).decode("ascii")
                for index, *_ in slow
                for match in _KEY_ID.finditer(stored[index].state)
            )
        for index, topic, originator_id, version in slow:
            decoded[index] = decode_body(
                topic, originator_id, version, stored[index].state[LINK_LENGTH:], self.data_keys
            )
        for topic, (indexes, bodies) in groups.items():
            adapter = _list_adapter(_event_class(topic))
            read = adapter.validate_json(b"[" + b",".join(bodies) + b"]")
            for index, event in zip(indexes, read, strict=True):
                decoded[index] = event
        events: list[DomainEvent] = []
        for event, (number, version) in zip(decoded, expected, strict=True):
            if (
                event is None
                or event.originator_version != version
                or event.originator_id.int != number
            ):
                raise ValueError("the batch's bodies do not split back into its events")
            events.append(event)
        links = {
            originator_id: (version, stored[index].state[:LINK_LENGTH].decode("ascii"))
            for version, index, originator_id in newest.values()
        }
        return events, links

    def _decode(self, stored_event: StoredEvent) -> tuple[DomainEvent, str]:
        originator_id = _as_uuid(stored_event.originator_id)
        try:
            link, body = unseal(stored_event.state)
            event = decode_body(
                stored_event.topic,
                originator_id,
                stored_event.originator_version,
                body,
                self.data_keys,
            )
        except PersonalDataKeyError:
            raise  # configuration, not damage: the caller must see it as it is
        except Exception as error:
            raise MapperDeserialisationError(
                f"cannot read stored event {stored_event.originator_version} of "
                f"{originator_id} ({stored_event.topic}): {error}"
            ) from error
        return event, link


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
