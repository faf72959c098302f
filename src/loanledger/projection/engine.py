"""The projection engine: batches of events into read models, with exactly-once tracking.

eventsourcing's `ProjectionRunner` needs PostgreSQL's LISTEN/NOTIFY and commits one event per
transaction. This engine works on every store: it reads the notification log a bounded batch at
a time, lets each projection write its rows for the batch, and writes the projection's new
position in the same read-model transaction. After any stop it resumes from that position, so
each event is applied exactly once. A projection whose `version` changed is rebuilt from the
first event.

`follow()` keeps the projections caught up in the background (see `follow.py`); inside
`stale_reads()` a thread's queries read the read models as they are, without catching up.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from eventsourcing.persistence import Notification

from loanledger.collector import collector_paused
from loanledger.domain.event import DomainEvent
from loanledger.domain.policy import BookEvent
from loanledger.persistence.pages import PageReader
from loanledger.projection.follow import Follower, Waker
from loanledger.projection.sql import statements
from loanledger.projection.store import ReadStore, Transaction

BATCH_SIZE = 1000
"""Events per transaction: large enough to amortise a commit, small enough to bound memory."""


@dataclass(frozen=True)
class Recorded:
    """One event with its position in the notification log."""

    position: int
    event: DomainEvent


class Projection(ABC):
    """A read model maintained from events. Subclasses name their SQL file."""

    name: str
    version: int = 1

    def sql(self, store: ReadStore) -> dict[str, str]:
        return statements(self.name, store.dialect)

    def create(self, txn: Transaction, store: ReadStore) -> None:
        for key, statement in self.sql(store).items():
            if key.startswith("create"):
                txn.execute(statement)

    def drop(self, txn: Transaction, store: ReadStore) -> None:
        txn.execute(self.sql(store)["drop"])

    def clear(self, txn: Transaction, store: ReadStore) -> None:
        """Empty the read model without DDL (for a DBA-managed schema)."""
        txn.execute(self.sql(store)["clear"])

    @abstractmethod
    def process(self, txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None: ...


class ProjectionEngine:
    """Keeps a set of projections caught up with the notification log."""

    def __init__(
        self,
        store: ReadStore,
        projections: Sequence[Projection],
        select: PageReader,
        decode: Callable[[Sequence[Notification]], Sequence[DomainEvent]],
        batch_size: int = BATCH_SIZE,
        *,
        create_tables: bool = True,
    ) -> None:
        self.store = store
        self.projections = list(projections)
        self._select = select
        self._decode = decode
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._local = threading.local()
        self.caught_up_to = 0
        """The last position a catch-up in this process reached (0 before the first)."""
        self.create_tables = create_tables
        self._tracking = statements("tracking", store.dialect)
        with store.transaction() as txn:
            if create_tables:
                txn.execute(self._tracking["create"])
            for projection in self.projections:
                row = txn.execute(self._tracking["select"], (projection.name,))
                if row and row[0][1] != projection.version:
                    self._reset(txn, projection)
                elif create_tables:
                    projection.create(txn, store)

    def position(self, projection: Projection) -> int:
        rows = self.store.query(self._tracking["select"], (projection.name,))
        return int(rows[0][0]) if rows else 0

    def catch_up(self) -> int:
        """Process every event recorded so far; return how many were processed (none, inside
        `stale_reads()` on this thread)."""
        if getattr(self._local, "stale", False):
            return 0
        return self._catch_up()

    @contextmanager
    def stale_reads(self) -> Iterator[None]:
        """Within this block, on this thread only, `catch_up()` does nothing: reads get what the
        read models hold now (a possibly stale read, cheap while a follower keeps them up)."""
        previous = getattr(self._local, "stale", False)
        self._local.stale = True
        try:
            yield
        finally:
            self._local.stale = previous

    def follow(
        self,
        stop: threading.Event,
        *,
        poll_seconds: float = 1.0,
        wake: Waker | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Catch up, then wait for `wake` (if any) or `poll_seconds`, again and again until
        `stop` is set; return how many events were projected. Blocks: run it on a thread.
        Failures are logged, never raised (see `follow.Follower`); `wake` is closed at the end.
        `on_batch` is called with the number of events each catch-up projected, when not 0."""
        follower = Follower(self._catch_up, poll_seconds=poll_seconds, wake=wake, on_batch=on_batch)
        return follower.run(stop)

    def _catch_up(self) -> int:
        # One connection to the log and one to the read models for every page of the catch-up
        # (see the sessions), instead of a checked-out connection per page and per statement.
        with self._lock, self._select.session(), self.store.session():
            processed = 0
            # Read once; after each batch the positions read under the tracking lock (fresher)
            # are carried on, so a batch costs no position queries beyond those.
            positions = {p.name: self.position(p) for p in self.projections}
            while True:
                start = min(positions.values(), default=0) + 1
                with collector_paused():
                    # Every object of the page is freed before the collector runs again.
                    count, last = self._project_page(start, positions)
                processed += count
                if count < self.batch_size:
                    self.caught_up_to = last
                    return processed

    def _project_page(self, start: int, positions: dict[str, int]) -> tuple[int, int]:
        """Project the page of the log from `start`; return its size and last position (`start
        - 1` when empty). `positions` is updated to the projections' positions afterwards."""
        notifications = self._select(start, self.batch_size)
        if not notifications:
            return 0, start - 1
        events = self._decode(notifications)
        # The book's own facts (policy, staff register) share the log but are no loan's.
        batch = [
            Recorded(n.id, e)
            for n, e in zip(notifications, events, strict=True)
            if not isinstance(e, BookEvent)
        ]
        last = notifications[-1].id
        with self.store.transaction() as txn:
            # Another process may have projected this batch since the positions were read:
            # under the lock, read them again and take only what is still new.
            txn.execute(self._tracking["lock"])
            for projection in self.projections:
                row = txn.execute(self._tracking["select"], (projection.name,))
                positions[projection.name] = int(row[0][0]) if row else 0
            for projection in self.projections:
                mine = [item for item in batch if item.position > positions[projection.name]]
                if mine:
                    projection.process(txn, self.store, mine)
                if positions[projection.name] < last:
                    txn.execute(
                        self._tracking["upsert"], (projection.name, last, projection.version)
                    )
                    positions[projection.name] = last
        return len(notifications), last

    def _reset(self, txn: Transaction, projection: Projection) -> None:
        """Forget a projection's rows and position. With table creation off (a DBA-managed
        schema, migrations/) the rows are deleted instead of the table being dropped, since the
        ledger's role may not own the table."""
        if self.create_tables:
            projection.drop(txn, self.store)
            projection.create(txn, self.store)
        else:
            projection.clear(txn, self.store)
        txn.execute(self._tracking["delete"], (projection.name,))

    def rebuild(self) -> int:
        """Drop every projection and build it again from the first event."""
        with self._lock, self.store.transaction() as txn:
            for projection in self.projections:
                self._reset(txn, projection)
        return self._catch_up()
