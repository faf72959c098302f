"""The projection engine: batches of events into read models, with exactly-once tracking.

eventsourcing's `ProjectionRunner` needs PostgreSQL's LISTEN/NOTIFY and commits one event per
transaction. This engine works on every store: it reads the notification log a bounded batch at
a time, lets each projection write its rows for the batch, and writes the projection's new
position in the same read-model transaction. After any stop it resumes from that position, so
each event is applied exactly once. A projection whose `version` changed is rebuilt from the
first event.

`follow()` keeps the projections caught up in the background (see `follow.py`); inside
`stale_reads()` a thread's queries read the read models as they are, without catching up.

A projection that cannot apply an event stops at it and the others go on (see `stuck.py`):
a batch that fails is projected again one event and one projection at a time, to find the
event and keep everything before it.
"""

from __future__ import annotations

import logging
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from eventsourcing.persistence import Notification

from loanledger.domain.event import DomainEvent
from loanledger.domain.policy import BookEvent
from loanledger.persistence.failures import is_transient
from loanledger.persistence.pages import PageReader
from loanledger.persistence.read_store import ReadStore, Transaction
from loanledger.persistence.sql import statements
from loanledger.projection.collector import collector_paused_for_pages
from loanledger.projection.follow import Follower, Waker
from loanledger.projection.stuck import StaleReadModelWarning, StuckEvent, describe

logger = logging.getLogger(__name__)

BATCH_SIZE = 5_000
"""Events per page, one transaction: large enough to amortise what a page costs, small enough to
bound memory (a page's events and loans are held while it is projected). What a page costs is
more than its commit: at the end of each page `loan_state` carries every loan whose segments stop
short of the business horizon on to it, and between pages it keeps only the loans it may meet
again soon (`kept_loans`). A rebuild of the demo's 2,000-loan book (61,744 events, one process,
SQLite) took 19.4 s of CPU in pages of 1,000 events, 12.5 s in pages of 5,000 and 10.9 s in
pages of 10,000, whose peak memory grew with the page instead (B6: a page of 10,000 events held
twice the loans of the small book's whole rebuild; issue 20): so a page goes on by whole pages
only while the loans that follow are its own (`PAGE_CHUNKS`). A catch-up of a few new events is
a page of those few."""

MOMENT_READ_ON = 5_000
"""A page goes on past `BATCH_SIZE` to the end of its last moment for at most this many events
(see `ProjectionEngine._page`)."""

PAGE_CHUNKS = 8
"""A page may go on for up to this many times `BATCH_SIZE` events while the loans of what
follows are the page's own loans (`SAME_LOANS`): what a page holds in memory is its loans (and
its events while they are projected), and a book whose loans are all alive at once (the demo's:
each 5,000 events meet 780-1,650 loans, and 75-99 % of the next 1,000 events' loans are among
them) costs little more memory in pages of 40,000 events (the 2,000-loan demo book's rebuild
peaked at 267 MiB in pages of at most 20,000, 276 MiB in pages of at most 40,000), while every
page boundary costs each loan it cuts (`loan_state` carries each touched loan across it). A book
whose loans come and go (B6's copies) keeps pages of 5,000."""

SAME_LOANS = 2 / 3
"""The share of the next `DECODE_BATCH` events' loans (at most a page's) that must be the page's
already for the page to go on by another `BATCH_SIZE` events. At 0.9 the demo's first pages,
where new applications still arrive (75 %, 84 % and 88 % of the next events' loans are the
page's at its first three 5,000-event boundaries, 96-99 % after), stayed pages of 5,000 (pages
5,000, 5,000, 5,000, 20,000, 20,000, 5,000 and the rest); at two in three they go on (40,000,
20,000 and the rest): 4 % fewer instructions in its rebuild (`benchmarks/instructions.py`,
RESULTS.md, eleventh session). Two in three, not three in four, so that the first page of a book
like the demo's is not decided by a hair."""

PARTITIONED_VERSION = -1
"""A tracking version at or below this marks a read model that a partitioned rebuild on
PostgreSQL writes into directly (`application/partitioned.py`: the version is minus the number
of partitions): no process opening the store resets it, so the rebuild's workers can open the
store, and a catch-up builds it again from the first event, since a rebuild that stopped left
it partial."""

DECODE_BATCH = 1000
"""Events decoded together within a page: the data keys a chunk needs are fetched in one query
and must all fit the key cache until it is decoded (`persistence.keys.DATA_KEY_CACHE_SIZE`)."""


@dataclass(frozen=True)
class Recorded:
    """One event with its position in the notification log."""

    position: int
    event: DomainEvent


class Projection(ABC):
    """A read model maintained from events. Subclasses name their SQL file."""

    name: str
    version: int = 1
    personal_data: bool = True
    """Whether the read model's rows may hold personal data (a name, an id number, a payee).
    A rebuild drops a read model that holds none without overwriting its rows with zeros
    (`ReadStore.unzeroed`): zeroing `loan_state`'s pages on the demo's 2,000-loan book cost 0.4
    s of system time, 4 % of the rebuild, and protected nothing (a test scans its rows)."""

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

    def release(self) -> None:
        """Forget what the projection keeps in memory between batches (nothing, unless it says
        otherwise): its rows are reset, or the ledger closes."""
        return None

    @abstractmethod
    def process(self, txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None: ...

    def process_page(
        self,
        txn: Transaction,
        store: ReadStore,
        batch: Sequence[Recorded],
        *,
        ends_moment: bool,
    ) -> None:
        """`process` for a page of the log, told whether the page ends where a moment ends
        (the facts recorded together, in one transaction, with one timestamp): True when the
        engine saw that the log goes on with another moment or reached its head; False when a
        moment may go on into the next page. Only a projection that carries loans from page to
        page needs to know (`loan_state`); the others process the batch as it is."""
        self.process(txn, store, batch)


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
        head: Callable[[], int] | None = None,
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
        self._head = head
        self.stuck: dict[str, StuckEvent] = {}
        """The projections stopped at an event they cannot apply, by name (see `stuck.py`)."""
        self._tracking = statements("tracking", store.dialect)
        with store.transaction() as txn:
            if create_tables:
                txn.execute(self._tracking["create"])
            for projection in self.projections:
                row = txn.execute(self._tracking["select"], (self.tracked(projection),))
                if row and row[0][1] != projection.version and row[0][1] > PARTITIONED_VERSION:
                    self._reset(txn, projection)
                elif create_tables:
                    projection.create(txn, store)

    def tracked(self, projection: Projection) -> str:
        """The name of the projection's row in the tracking table."""
        return projection.name

    def _lock_tracking(self, txn: Transaction) -> None:
        """Serialise catch-ups of these rows across processes (tracking.sql, `lock`)."""
        txn.execute(self._tracking["lock"])

    def position(self, projection: Projection) -> int:
        rows = self.store.query(self._tracking["select"], (self.tracked(projection),))
        return int(rows[0][0]) if rows else 0

    def _positions(self) -> dict[str, int]:
        """Each projection's position, read once for a catch-up. A read model that a
        partitioned rebuild was filling when it stopped (its tracking version
        `PARTITIONED_VERSION` or below: `application/partitioned.py`) is reset first, so that the
        catch-up builds it from the first event instead of adding to a partial one."""
        positions: dict[str, int] = {}
        for projection in self.projections:
            rows = self.store.query(self._tracking["select"], (self.tracked(projection),))
            if rows and rows[0][1] <= PARTITIONED_VERSION:
                with self.store.transaction() as txn:
                    self._lock_tracking(txn)
                    rows = txn.execute(self._tracking["select"], (self.tracked(projection),))
                    if rows and rows[0][1] <= PARTITIONED_VERSION:
                        logger.warning(
                            "read model %s was left by a partitioned rebuild that stopped: "
                            "it is built again from the first event",
                            projection.name,
                        )
                        self._reset(txn, projection)
                        rows = []
            positions[projection.name] = int(rows[0][0]) if rows else 0
        return positions

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
            # Read once; after each batch the positions read under the tracking lock (fresher)
            # are carried on, so a batch costs no position queries beyond those.
            positions = self._positions()
            processed = self._retry_stuck(positions)
            # The collector does not run during a page: every object of the page is freed by
            # then. Between pages only the young generations are collected (see the function).
            with collector_paused_for_pages() as page_done:
                while True:
                    active = [p for p in positions if p not in self.stuck]
                    if not active:
                        break
                    start = min(positions[name] for name in active) + 1
                    count, last = self._project_page(start, positions)
                    processed += count
                    if count:
                        page_done()
                    if count < self.batch_size:
                        self.caught_up_to = last
                        break
        if self.stuck:
            warnings.warn(
                StaleReadModelWarning(
                    "read models are stale: " + "; ".join(str(item) for item in self.stuck.values())
                ),
                stacklevel=3,
            )
        return processed

    def _project_page(self, start: int, positions: dict[str, int]) -> tuple[int, int]:
        """Project the page of the log from `start`; return its size and last position (`start
        - 1` when empty). `positions` is updated to the projections' positions afterwards.
        If the page cannot be projected in one transaction, it is projected one event at a time
        (`_project_singly`), which stops only the projection that fails at the event it fails
        on. A lost connection or a lock held too long is raised (nothing is stuck; the caller may
        try again)."""
        notifications, ends_moment = self._page(start)
        if not notifications:
            return 0, start - 1
        try:
            self._project_batch(notifications, positions, ends_moment)
        except Exception as error:
            if is_transient(error):
                raise
            logger.warning(
                "projecting events %s-%s failed (%s); one at a time now",
                notifications[0].id,
                notifications[-1].id,
                describe(error),
            )
            self._project_singly(notifications, positions)
        return len(notifications), notifications[-1].id

    def _page(self, start: int) -> tuple[list[Notification], bool]:
        """The page of the log from `start`: `batch_size` events (gone on by whole pages while
        the loans that follow are the page's: `_go_on`) and on to the end of the moment
        the last of them belongs to (the facts recorded together: one transaction, one
        timestamp), at most `MOMENT_READ_ON` events more; and whether it ends where a moment
        ends (`Projection.process_page`). A page at the head of the log ends a moment: a reader
        sees a transaction whole (the recorder assigns positions in commit order). A page cut
        inside a moment makes `loan_state` load that moment's loans again from the store (a
        close of day's moment touches hundreds of loans), and the same log gives the same
        pages, so a partitioned rebuild reads the single rebuild's pages. In doubt (an event
        that cannot be decoded: the page that holds it says why) the page is not read on."""
        size = self.batch_size
        page = list(self._select(start, size + 1))
        if len(page) <= size:
            return page, True
        page, size = self._go_on(page, size)
        most = size + MOMENT_READ_ON
        end = size  # page[:end] is the page so far; page[end:] was read after it
        while True:
            try:
                stamps = [event.timestamp for event in self._decode(page[end - 1 :])]
            except Exception:
                return page[:end], False
            for offset, stamp in enumerate(stamps[1:], start=1):
                if stamp != stamps[0]:
                    return page[: end - 1 + offset], True
            if len(page) > most:  # page[most] is still the moment's
                return page[:most], False
            end = len(page)
            more = self._select(page[-1].id + 1, min(DECODE_BATCH, most + 1 - end))
            if not more:
                return page, True
            page.extend(more)

    def _go_on(self, page: list[Notification], size: int) -> tuple[list[Notification], int]:
        """The page (`page[:size]`, and one event read after it) gone on by `batch_size` events
        at a time while the loans of the next `DECODE_BATCH` events are mostly (`SAME_LOANS`)
        the page's, up to `PAGE_CHUNKS` times `batch_size` (see `PAGE_CHUNKS`); returned with
        its size and, again, one event read after it. From the log alone (which aggregate each
        event is of, not decoded), so every partition of a rebuild reads the same pages, and a
        rebuild resumed at a page's end reads the pages it would have read."""
        loans = {notification.originator_id for notification in page[:size]}
        sample_size = min(DECODE_BATCH, self.batch_size)
        while size < PAGE_CHUNKS * self.batch_size:
            sample = page[size:] + list(self._select(page[-1].id + 1, sample_size - 1))
            sampled = {notification.originator_id for notification in sample}
            if len(sample) < sample_size or len(sampled & loans) < SAME_LOANS * len(sampled):
                break
            rest = list(self._select(sample[-1].id + 1, self.batch_size + 1 - len(sample)))
            chunk = sample + rest
            if len(chunk) <= self.batch_size:
                break  # the log ends within the chunk: the next page takes it
            page = page[:size] + chunk
            loans.update(notification.originator_id for notification in chunk[: self.batch_size])
            size += self.batch_size
        return page[: size + 1], size

    def _project_batch(
        self,
        notifications: Sequence[Notification],
        positions: dict[str, int],
        ends_moment: bool,
    ) -> None:
        batch = self._recorded(notifications)
        last = notifications[-1].id
        written: dict[str, int] = {}
        with self.store.transaction() as txn:
            # Another process may have projected this batch since the positions were read:
            # under the lock, read them again and take only what is still new.
            self._lock_tracking(txn)
            for projection in self.projections:
                row = txn.execute(self._tracking["select"], (self.tracked(projection),))
                written[projection.name] = int(row[0][0]) if row else 0
            for projection in self.projections:
                if projection.name in self.stuck:
                    continue
                mine = self._mine(projection, batch, written[projection.name])
                if mine:
                    projection.process_page(txn, self.store, mine, ends_moment=ends_moment)
                if written[projection.name] < last:
                    txn.execute(
                        self._tracking["upsert"],
                        (self.tracked(projection), last, projection.version),
                    )
                    written[projection.name] = last
        positions.update(written)

    def _recorded(self, notifications: Sequence[Notification]) -> list[Recorded]:
        """A page's events for the projections. The book's own facts (policy, staff register)
        share the log but are no loan's. (A partition's engine takes only its loans' events:
        `projection/partitions.py`.)"""
        events = self._decoded(notifications)
        return [
            Recorded(n.id, e)
            for n, e in zip(notifications, events, strict=True)
            if not isinstance(e, BookEvent)
        ]

    def _decoded(self, notifications: Sequence[Notification]) -> list[DomainEvent]:
        """The events of `notifications`, decoded `DECODE_BATCH` at a time."""
        return [
            event
            for start in range(0, len(notifications), DECODE_BATCH)
            for event in self._decode(notifications[start : start + DECODE_BATCH])
        ]

    def _mine(
        self, projection: Projection, batch: Sequence[Recorded], written: int
    ) -> list[Recorded]:
        """What `projection`, at position `written`, has still to apply of `batch`."""
        return [item for item in batch if item.position > written]

    @contextmanager
    def held(self, *, reset: bool = False) -> Iterator[None]:
        """Within this block no catch-up of this engine runs (one on another thread waits);
        with `reset`, every projection's rows and position are forgotten first. A partitioned
        rebuild fills the read models inside it (`application/partitioned.py`)."""
        with self._lock:
            if reset:
                with self.store.transaction() as txn:
                    for projection in self.projections:
                        self._reset(txn, projection)
                self.stuck.clear()
            yield

    def _project_singly(
        self,
        notifications: Sequence[Notification],
        positions: dict[str, int],
        only: frozenset[str] | None = None,
    ) -> None:
        """Each event by each projection (or those named `only`) in its own transaction; a
        projection that fails on an event is stuck there and skips the rest."""
        for notification in notifications:
            todo = [
                p
                for p in self.projections
                if p.name not in self.stuck
                and (only is None or p.name in only)
                and positions[p.name] < notification.id
            ]
            if not todo:
                continue
            try:
                event = self._decode([notification])[0]
            except Exception as error:
                if is_transient(error):
                    raise
                for projection in todo:
                    self._stick(projection, notification, None, error)
                continue
            for projection in todo:
                try:
                    with self.store.transaction() as txn:
                        self._lock_tracking(txn)
                        row = txn.execute(self._tracking["select"], (self.tracked(projection),))
                        written = int(row[0][0]) if row else 0
                        if written < notification.id:
                            if not isinstance(event, BookEvent):  # no loan's (see above)
                                records = [Recorded(notification.id, event)]
                                projection.process(txn, self.store, records)
                            txn.execute(
                                self._tracking["upsert"],
                                (self.tracked(projection), notification.id, projection.version),
                            )
                            written = notification.id
                    positions[projection.name] = written
                except Exception as error:
                    if is_transient(error):
                        raise
                    self._stick(projection, notification, event, error)

    def _stick(
        self,
        projection: Projection,
        notification: Notification,
        event: DomainEvent | None,
        error: BaseException,
    ) -> None:
        stuck = StuckEvent(
            projection=projection.name,
            position=notification.id,
            loan_id=getattr(event, "loan_id", None) if event is not None else None,
            originator_id=str(notification.originator_id),
            version=notification.originator_version,
            error=describe(error),
        )
        if self.stuck.get(projection.name) != stuck:
            logger.error("%s", stuck)
        self.stuck[projection.name] = stuck

    def _retry_stuck(self, positions: dict[str, int]) -> int:
        """Try each stuck projection's event once more (the code or data may have been fixed);
        return how many projections it moved on."""
        moved = 0
        for name, stuck in list(self.stuck.items()):
            del self.stuck[name]
            self._project_singly(self._select(stuck.position, 1), positions, frozenset({name}))
            if name not in self.stuck:
                logger.warning("projection %s applied event %s and goes on", name, stuck.position)
                moved += 1
        return moved

    def head(self) -> int:
        """The position of the latest event recorded (as far as this engine knows)."""
        return self._head() if self._head is not None else self.caught_up_to

    def status(self) -> list[dict[str, object]]:
        """Each projection's position, lag behind the latest event, and stuck event (or None)."""
        head = self.head()
        rows: list[dict[str, object]] = []
        for projection in self.projections:
            position = self.position(projection)
            stuck = self.stuck.get(projection.name)
            rows.append(
                {
                    "projection": projection.name,
                    "position": position,
                    "lag": max(head - position, 0),
                    "stuck": stuck.as_dict() if stuck is not None else None,
                }
            )
        return rows

    def _reset(self, txn: Transaction, projection: Projection) -> None:
        """Forget a projection's rows and position. With table creation off (a DBA-managed
        schema, migrations/) the rows are deleted instead of the table being dropped, since the
        ledger's role may not own the table. The rows of a read model that holds no personal
        data are not overwritten with zeros as they go (`Projection.personal_data`)."""
        unzeroed: AbstractContextManager[None] = (
            nullcontext() if projection.personal_data else self.store.unzeroed(txn)
        )
        with unzeroed:
            if self.create_tables:
                projection.drop(txn, self.store)
            else:
                projection.clear(txn, self.store)
        if self.create_tables:
            projection.create(txn, self.store)
        # What it kept of the rows it had (a rebuild must not go on from the last one's loans:
        # its work, and what it holds, would depend on what ran before it in the process).
        projection.release()
        txn.execute(self._tracking["delete"], (self.tracked(projection),))
        # (The rows of a partitioned rebuild's partitions, if one stopped: partitioned.py.)
        txn.execute(self._tracking["delete_named"], (f"{self.tracked(projection)}@%",))

    def rebuild(self) -> int:
        """Drop every projection and build it again from the first event."""
        with self._lock, self.store.transaction() as txn:
            for projection in self.projections:
                self._reset(txn, projection)
            self.stuck.clear()
        return self._catch_up()
