"""One partition of a partitioned rebuild: the projections over one share of the loans.

The loans are split into N partitions by a stable hash of the loan's aggregate id (itself the
uuid5 of the loan id, `persistence/ids.py`), so every process, every run and every store agrees
on a loan's partition. A `PartitionEngine` reads the same pages of the notification log as the
single-process engine (same page boundaries, same `batch_size`) and hands each projection only
its partition's events, and its tracking commits with its rows, page by page, as the single
engine's does. On SQLite its read models are its own file, which the coordinator
(`application/partitioned.py`) merges. On PostgreSQL it writes the book's read models beside the
other partitions (`PartitionEngine.shared`): its tracking rows, its lock and its row of the
business horizon are its own, and its `loan_state` carries only its own loans to the horizon at
a page's end (`LoanStateProjection.owns`); the coordinator then sets the book's tracking.

One fact is the whole book's: the `loan_state` projection writes each moment's segments up to
the business horizon, the latest effective date recorded *by any loan* so far in log order
(`projection/loan_state.py`). So that a partition writes the segments the single engine writes,
its `loan_state` also gets, for the other loans' events that move that horizon, a date mark at
the event's position: a row-neutral event (`ClassificationChanged`, never decoded or stored)
that carries only the effective date, read from the stored bytes without decoding the event.
Marks for events that do not move the horizon past what this process has seen are left out:
they change nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import date
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from loanledger.domain.event import DomainEvent
from loanledger.domain.loan_events import ClassificationChanged
from loanledger.domain.policy import BookEvent
from loanledger.persistence.pages import PageReader
from loanledger.persistence.read_store import ReadStore, Transaction
from loanledger.projection.engine import Projection, ProjectionEngine, Recorded

DATED = frozenset({"loan_state"})
"""The projections that need the whole book's business horizon (see the module docstring)."""

_EFFECTIVE_DATE = re.compile(rb'"effective_date":"(\d{4}-\d{2}-\d{2})"')
"""An event's effective date in its stored body (compact JSON: a quote inside a string value
is escaped, so this cannot match inside one)."""


def partition_tracked(name: str, partition: int, partitions: int) -> str:
    """The tracking row of projection `name` in partition `partition` (from 0) of
    `partitions`, beside the book's own row `name` (see `PartitionEngine.shared`)."""
    return f"{name}@{partition + 1}/{partitions}"


def partition_of(aggregate_id: UUID | str, partitions: int) -> int:
    """The partition (0 .. partitions-1) of the loan with this aggregate id: the first 8 bytes
    of the BLAKE2b digest of its canonical text, modulo `partitions`. Stable across processes
    (unlike `hash()`, which Python salts per process)."""
    digest = hashlib.blake2b(str(aggregate_id).encode("ascii"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


@cache
def _is_book_topic(topic: str) -> bool:
    try:
        cls = resolve_topic(topic)
    except Exception:  # an unknown topic: the decode of the partition that owns it says so
        return False
    return isinstance(cls, type) and issubclass(cls, BookEvent)


def effective_date_of(state: bytes) -> date | None:
    """The effective date in a stored event's bytes (None when none is found)."""
    found = _EFFECTIVE_DATE.search(state)
    return date.fromisoformat(found.group(1).decode("ascii")) if found else None


def date_mark(effective_date: date) -> DomainEvent:
    """A stand-in event that only moves the business horizon (never validated, never stored)."""
    fields: dict[str, Any] = {"loan_id": "", "effective_date": effective_date}
    mark: DomainEvent = ClassificationChanged.model_construct(originator_version=0, **fields)
    return mark


class CappedPages:
    """A page reader that stops at position `until` (the head when the rebuild began), so that
    every partition reaches the same position."""

    def __init__(self, pages: PageReader, until: int) -> None:
        self._pages = pages
        self.until = until

    def __call__(self, start: int, limit: int) -> Sequence[Notification]:
        if start > self.until:
            return []
        return [n for n in self._pages(start, limit) if n.id <= self.until]

    def session(self) -> AbstractContextManager[None]:
        return self._pages.session()


class PartitionEngine(ProjectionEngine):
    """The projection engine over one partition's loans (see the module docstring)."""

    def __init__(
        self,
        store: ReadStore,
        projections: Sequence[Projection],
        select: PageReader,
        decode: Callable[[Sequence[Notification]], Sequence[DomainEvent]],
        batch_size: int,
        *,
        partition: int,
        partitions: int,
        shared: bool = False,
    ) -> None:
        self.partition = partition
        self.partitions = partitions
        self.shared = shared
        """Whether `store` holds the book's read models themselves, which every partition
        writes side by side (PostgreSQL), rather than this partition's own (SQLite): then its
        tracking rows are its own (`tracked`), so is its lock, and it creates and resets
        nothing (the coordinator did)."""
        super().__init__(store, projections, select, decode, batch_size, create_tables=not shared)
        self._seen: date | None = None
        """The latest effective date this process has seen (its own events' and the marks')."""

    def tracked(self, projection: Projection) -> str:
        if not self.shared:
            return projection.name
        return partition_tracked(projection.name, self.partition, self.partitions)

    def _lock_tracking(self, txn: Transaction) -> None:
        if not self.shared:
            super()._lock_tracking(txn)
            return
        txn.execute(self._tracking["lock_named"], (f"{self.partition + 1}/{self.partitions}",))

    def _reset(self, txn: Transaction, projection: Projection) -> None:
        if self.shared:  # the book's read models: only the coordinator resets them
            raise RuntimeError(
                f"partition {self.partition + 1} of {self.partitions} found {projection.name} "
                "of another version in the book's tracking"
            )
        super()._reset(txn, projection)

    def _recorded(self, notifications: Sequence[Notification]) -> list[Recorded]:
        own: list[Notification] = []
        marks: list[Recorded] = []
        for notification in notifications:
            if partition_of(notification.originator_id, self.partitions) == self.partition:
                own.append(notification)
                continue
            if _is_book_topic(notification.topic):
                continue  # the book's facts never move the horizon (no projection sees them)
            day = effective_date_of(notification.state or b"")
            if day is not None and (self._seen is None or day > self._seen):
                self._seen = day
                marks.append(Recorded(notification.id, date_mark(day)))
        events = self._decoded(own)
        batch = [
            Recorded(n.id, e)
            for n, e in zip(own, events, strict=True)
            if not isinstance(e, BookEvent)
        ]
        for item in batch:
            if self._seen is None or item.event.effective_date > self._seen:
                self._seen = item.event.effective_date
        if marks:
            batch = sorted([*batch, *marks], key=lambda item: item.position)
        return batch

    def _mine(
        self, projection: Projection, batch: Sequence[Recorded], written: int
    ) -> list[Recorded]:
        mine = super()._mine(projection, batch, written)
        if projection.name in DATED:
            return mine
        return [item for item in mine if item.event.loan_id]

    def _project_singly(
        self,
        notifications: Sequence[Notification],
        positions: dict[str, int],
        only: frozenset[str] | None = None,
    ) -> None:
        """A partition does not mark a projection stuck (its marks would be lost one event at a
        time): the rebuild stops, and the single-process rebuild names the event."""
        raise RuntimeError(
            f"partition {self.partition + 1} of {self.partitions} cannot project events "
            f"{notifications[0].id}-{notifications[-1].id}; run the single-process rebuild "
            "(workers=1) to find the event a projection cannot apply"
        )
