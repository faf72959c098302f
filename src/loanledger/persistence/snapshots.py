"""Snapshots: a long loan's decoded history in one document that is cheap to turn back into events.

Loading a loan costs mostly decoding: per stored event a chain-prefix strip, `json.loads`, the
unsealing of personal data and a pydantic validation (B4: ~20 us an event). A snapshot holds the
loan's events 1..N as one JSON document, grouped by event class, so that one pydantic-core
`validate_json` call (JSON parsing and validation in Rust, no per-event Python round trip) rebuilds
them all; only events after N are then read and decoded as usual. The whole history is kept, not
the aggregate's current state: `Loan.as_known_at` and every `known_at` query replay it.

Why this form (measured on B4's 486-event loan, see benchmarks/RESULTS.md): validating each
event's JSON separately costs about 25 % more than one `validate_json` over the whole document;
`model_construct` would skip validation but leaves dates, decimals, UUIDs and nested models as JSON
strings and dicts unless Python code re-types every field, which is the validation again, done by
hand; pickle is out (a bank does not unpickle bytes read from a database).

Safety, in the order a load checks it:

- `format` names the snapshot layout and every event class's `class_version`: a snapshot written
  by another version of the library is ignored (and replaced), never upcast;
- `digest` is the SHA-256 of `body`: changed bytes are refused (a load then decodes the events);
- `link` is the chain link of event N when the snapshot was taken; the load reads the events from
  N (not N+1) and uses the snapshot only if the stored event N still has that link, so a snapshot
  never serves history that no longer matches the events;
- `verify()` rebuilds every snapshot from the stored events and compares it byte for byte, so a
  snapshot altered together with its digest is reported (a load, like a load of an altered event,
  cannot tell: the digest is not keyed, so `verify()` works without the master key).

Personal data: events that carry it (`PERSONAL_FIELDS`) are kept in the snapshot as their stored,
sealed body (the AES-GCM envelope, bound to the event's position), and opened on load exactly as
the mapper opens an event; once the person's data key is destroyed they read `[erased]`, so a
snapshot cannot resurrect a forgotten name.

Snapshots are derived data: `rebuild()` deletes them, and a failure to write one is logged
(logger `loanledger.snapshots`), never raised.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from pydantic import BaseModel, create_model
from pydantic_core import to_json

from loanledger.domain.errors import PersonalDataKeyError
from loanledger.domain.event import DomainEvent
from loanledger.persistence.chain import unseal
from loanledger.persistence.keys import DataKeys
from loanledger.persistence.mapper import decode_body, dump_state
from loanledger.persistence.pages import EventsOf
from loanledger.persistence.personal_data import PERSONAL_FIELDS
from loanledger.persistence.read_store import ReadStore, Row
from loanledger.persistence.sql import statements
from loanledger.persistence.verify import ChainBreak, VerifyResult

SNAPSHOT_EVERY = 50
"""A loan is snapshotted when it is loaded with at least this many events after its snapshot
(or from its first event): loans shorter than this never have one. Measured on B4's 486-event
loan (README, Snapshots): rebuilding events from the snapshot costs ~8 us an event, decoding one
after it ~10-15 us more, and taking a snapshot 5-9 ms; at 50 the tail adds at most ~0.7 ms and
the loan is rewritten ~10 times in 30 years (at 100: up to ~1.5 ms, over the 5 ms target)."""

FORMAT_VERSION = 1
"""The layout of `body`; part of `format` with the event classes' versions."""

log = logging.getLogger("loanledger.snapshots")

Select = Callable[..., Sequence[StoredEvent]]
"""`recorder.select_events(originator_id, *, gt=, lte=)`."""

Decode = Callable[[Sequence[StoredEvent]], list[DomainEvent]]
"""The mapper's `to_domain_events`: strips each link, opens personal data, validates (one
pydantic-core call per event class of the loan, not one per event: a loan loaded again in a
rebuild decoded its events at four times a page's cost per event)."""


@cache
def _event_classes() -> tuple[type[DomainEvent], ...]:
    # The classes a Loan applies; imported here because the domain must not import persistence.
    from loanledger.domain.loan import APPLIERS

    return tuple(sorted(APPLIERS, key=lambda cls: cls.__name__))


@cache
def _plain_classes() -> dict[str, type[DomainEvent]]:
    """Event classes whose decoded form the snapshot holds, by class name (personal ones are
    held sealed)."""
    return {cls.__name__: cls for cls in _event_classes() if get_topic(cls) not in PERSONAL_FIELDS}


@cache
def snapshot_format() -> str:
    """`FORMAT_VERSION` and a digest of every event class's topic and `class_version`."""
    classes = ",".join(f"{get_topic(cls)}={cls.class_version}" for cls in _event_classes())
    return f"{FORMAT_VERSION}:{hashlib.sha256(classes.encode()).hexdigest()[:16]}"


@cache
def _body_model() -> type[BaseModel]:
    """One model for a whole body: a list per plain event class, and the sealed events."""
    fields: dict[str, Any] = {}
    for name, cls in _plain_classes().items():
        fields[name] = (list[cls], [])  # type: ignore[valid-type]
    fields["sealed"] = (list[tuple[int, str, str]], [])
    return create_model("SnapshotBody", **fields)


def build_body(entries: Sequence[tuple[DomainEvent | None, StoredEvent]]) -> bytes:
    """The canonical body of events 1..N: each event's JSON (personal ones: their stored, sealed
    body) in version order within its class. Given the same stored events it is the same bytes,
    which is what `verify()` compares. `entries` pairs each stored event with its decoded event
    (None where the stored body is kept: personal events)."""
    grouped: dict[str, list[Any]] = {}
    sealed: list[list[Any]] = []
    for event, stored in entries:
        if stored.topic in PERSONAL_FIELDS:
            _, body = unseal(stored.state)
            sealed.append([stored.originator_version, stored.topic, body.decode("utf-8")])
            continue
        assert event is not None
        grouped.setdefault(type(event).__name__, []).append(event.model_dump(mode="json"))
    return dump_state({**grouped, "sealed": sealed})


def digest_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class UnusableSnapshotError(ValueError):
    """A stored snapshot that must not be used (altered, stale or of another format)."""


class Snapshots:
    """Reads, takes, checks and drops the snapshots of one ledger's loans."""

    def __init__(
        self,
        store: ReadStore,
        select: Select,
        decode: Decode,
        data_keys: DataKeys,
        clock: Callable[[], datetime],
        *,
        create_tables: bool,
        every: int = SNAPSHOT_EVERY,
    ) -> None:
        self.store = store
        self.every = every
        """Events between snapshots; 0 turns snapshots off (neither read nor taken)."""
        self._select = select
        self._decode = decode
        self._data_keys = data_keys
        self._clock = clock
        self._sql = statements("snapshots", store.dialect)
        self._versions: OrderedDict[UUID, int] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = {"served": 0, "rejected": 0, "taken": 0}
        """Counts of this process: snapshots used by loads, refused by loads, written."""
        if create_tables:
            with store.transaction() as txn:
                txn.execute(self._sql["create"])

    # --- loading ---------------------------------------------------------------------------------

    def events_after(
        self, loan_id: str, aggregate_id: UUID, known: Sequence[DomainEvent]
    ) -> list[DomainEvent]:
        """The loan's events after the `known` ones; with none known, from its snapshot (if it
        has a usable one) and the events stored after it."""
        if known or not self.every:
            return self._decoded(self._select(aggregate_id, gt=len(known)))
        row = self.store.query(self._sql["latest"], (loan_id,))
        if not row:
            self._remember(aggregate_id, 0)
            return self._decoded(self._select(aggregate_id))
        return self._from_snapshot(loan_id, aggregate_id, row[0])

    def _from_snapshot(self, loan_id: str, aggregate_id: UUID, row: Row) -> list[DomainEvent]:
        """The loan's events from its snapshot `row` (version, link, format, digest, body) and
        the events stored after it; from the events alone if the snapshot is not usable."""
        version, link, form, digest, body = row
        version = int(version)
        stored = self._select(aggregate_id, gt=version - 1)
        try:
            if form != snapshot_format():
                raise UnusableSnapshotError(f"written in format {form}")
            if not stored or stored[0].originator_version != version:
                raise UnusableSnapshotError(f"event {version} is not stored")
            if unseal(stored[0].state)[0] != link:
                raise UnusableSnapshotError(f"event {version} has another chain link now")
            encoded = body.encode("utf-8")
            if digest_of(encoded) != digest:
                raise UnusableSnapshotError("its bytes do not match its digest")
            events = self.restore(aggregate_id, version, encoded)
        except (UnusableSnapshotError, ValueError, KeyError, TypeError) as error:
            # PersonalDataKeyError is not caught here: a missing or wrong master key is the
            # configuration's fault, raised as a load without a snapshot would raise it.
            self._reject(loan_id, version, digest, error)
            self._remember(aggregate_id, 0)  # taken again by this load (`consider`)
            return self._decoded(self._select(aggregate_id))
        self._remember(aggregate_id, version)
        with self._lock:
            self.stats["served"] += 1
        return events + self._decoded(stored[1:])

    def first_loads(
        self, loans: Sequence[tuple[str, UUID]], events_of: EventsOf
    ) -> dict[UUID, list[DomainEvent]]:
        """`events_after(loan_id, aggregate_id, [])` of each of `loans` (nothing of them known):
        one query for their snapshots (each loaded as `events_after` loads it) and one for the
        events of the others, decoded in one batch, instead of two queries and a decode a loan.
        (A loan with no events has no entry.)"""
        held: dict[str, Row] = {}
        if self.every and loans:
            ids = to_json([loan_id for loan_id, _ in loans]).decode("utf-8")
            held = {str(row[0]): row[1:] for row in self.store.query(self._sql["held"], (ids,))}
        found: dict[UUID, list[DomainEvent]] = {}
        plain: list[UUID] = []
        for loan_id, aggregate_id in loans:
            row = held.get(loan_id)
            if row is not None:
                found[aggregate_id] = self._from_snapshot(loan_id, aggregate_id, row)
                continue
            plain.append(aggregate_id)
            if self.every:
                self._remember(aggregate_id, 0)
        for event in self._decoded(events_of(plain)):
            found.setdefault(event.originator_id, []).append(event)
        return found

    def restore(self, aggregate_id: UUID, version: int, body: bytes) -> list[DomainEvent]:
        """Events 1..`version` from a snapshot body (one validation call for the plain events;
        personal ones opened like the mapper opens them)."""
        parsed = _body_model().model_validate_json(body)
        events: list[DomainEvent] = []
        for name in _plain_classes():
            events += cast(list[DomainEvent], getattr(parsed, name))
        sealed_events = cast(list[tuple[int, str, str]], getattr(parsed, "sealed"))  # noqa: B009
        for number, topic, sealed in sealed_events:
            if topic not in PERSONAL_FIELDS:
                raise UnusableSnapshotError(f"{topic} is not sealed in events")
            events.append(
                decode_body(topic, aggregate_id, number, sealed.encode("utf-8"), self._data_keys)
            )
        events.sort(key=lambda event: event.originator_version)
        for position, event in enumerate(events, start=1):
            if event.originator_version != position or event.originator_id != aggregate_id:
                raise UnusableSnapshotError(f"it does not hold exactly events 1..{version}")
        if len(events) != version:
            raise UnusableSnapshotError(f"it does not hold exactly events 1..{version}")
        return events

    def _decoded(self, stored: Sequence[StoredEvent]) -> list[DomainEvent]:
        return self._decode(stored) if stored else []

    def _reject(self, loan_id: str, version: int, digest: str, error: Exception) -> None:
        log.warning(
            "snapshot of loan %s at version %d not used (%s); loading from the events",
            loan_id,
            version,
            error,
        )
        with self._lock:
            self.stats["rejected"] += 1
        self._write(self._sql["discard"], (loan_id, version, digest))

    # --- taking ----------------------------------------------------------------------------------

    def consider(self, loan_id: str, aggregate_id: UUID, events: Sequence[DomainEvent]) -> None:
        """Take a snapshot of `events` (the loan's whole history, as just loaded) if it has at
        least `every` events more than its snapshot."""
        if not self.every or len(events) < self.every:
            return
        with self._lock:
            last = self._versions.get(aggregate_id)
        if last is None:
            row = self.store.query(self._sql["version"], (loan_id,))
            last = int(row[0][0]) if row and row[0][1] == snapshot_format() else 0
            self._remember(aggregate_id, last)
        if len(events) - last < self.every:
            return
        self.take(loan_id, aggregate_id, events)

    def take(self, loan_id: str, aggregate_id: UUID, events: Sequence[DomainEvent]) -> None:
        """Write the snapshot of `events` (1..N, decoded from this store). Personal events'
        sealed bodies and event N's link are read from the stored events (one query)."""
        version = len(events)
        stored = self._select(aggregate_id, lte=version)
        if len(stored) != version or stored[-1].originator_version != version:
            return  # the store does not hold these events (yet): nothing to snapshot
        body = build_body(list(zip(events, stored, strict=True)))
        link, _ = unseal(stored[-1].state)
        row = (
            loan_id,
            version,
            link,
            snapshot_format(),
            digest_of(body),
            body.decode("utf-8"),
            self._clock().isoformat(),
        )
        if self._write(self._sql["upsert"], row):
            self._remember(aggregate_id, version)
            with self._lock:
                self.stats["taken"] += 1

    def _write(self, statement: str, params: Sequence[Any]) -> bool:
        try:
            with self.store.transaction() as txn:
                txn.execute(statement, params)
        except Exception:
            log.warning(
                "could not write a loan snapshot (derived data; loads still work)", exc_info=True
            )
            return False
        return True

    def _remember(self, aggregate_id: UUID, version: int) -> None:
        with self._lock:
            self._versions[aggregate_id] = version
            self._versions.move_to_end(aggregate_id)
            while len(self._versions) > 100_000:
                self._versions.popitem(last=False)

    # --- audit and rebuild -----------------------------------------------------------------------

    def verify(self, result: VerifyResult, loan_uuid: Callable[[str], UUID]) -> VerifyResult:
        """`result` (the chains' verdict) with every snapshot rebuilt from the stored events and
        compared byte for byte; the first snapshot that differs is a break (when the chains
        had none) at the snapshot's version. Needs no key: personal events are kept sealed."""
        first_break = result.first_break
        checked = 0
        for (loan_id,) in self.store.query(self._sql["loans"]):
            row = self.store.query(self._sql["latest"], (loan_id,))
            if not row:
                continue  # dropped meanwhile
            version, link, form, digest, body = row[0]
            checked += 1
            reason = self._check(loan_uuid(loan_id), int(version), link, form, digest, body)
            if reason is not None and first_break is None:
                first_break = ChainBreak(
                    loan_id, int(version), f"snapshot through version {version}: {reason}"
                )
        return VerifyResult(
            ok=first_break is None,
            loans_checked=result.loans_checked,
            events_checked=result.events_checked,
            first_break=first_break,
            snapshots_checked=checked,
        )

    def _check(
        self, aggregate_id: UUID, version: int, link: str, form: str, digest: str, body: str
    ) -> str | None:
        stored = self._select(aggregate_id, lte=version)
        if len(stored) != version:
            return f"the store holds {len(stored)} of its {version} events"
        try:
            entries = [
                (
                    None
                    if item.topic in PERSONAL_FIELDS
                    else decode_body(
                        item.topic,
                        aggregate_id,
                        item.originator_version,
                        unseal(item.state)[1],
                    ),
                    item,
                )
                for item in stored
            ]
            expected = build_body(entries)
            stored_link = unseal(stored[-1].state)[0]
        except (PersonalDataKeyError, ValueError, TypeError, KeyError) as error:
            return f"its events cannot be read ({error})"
        if link != stored_link:
            return "its chain link is not the stored event's"
        if form != snapshot_format():
            return None  # another library version's snapshot: never used, nothing to compare
        if body.encode("utf-8") != expected:
            return "its body differs from the one the events give"
        if digest != digest_of(expected):
            return "its digest does not match its body"
        return None

    def clear(self) -> None:
        """Delete every snapshot (rebuild): they are taken again as loans are loaded."""
        with self.store.transaction() as txn:
            txn.execute(self._sql["clear"])
        with self._lock:
            self._versions.clear()
