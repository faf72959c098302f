"""Loading loans: each loan rebuilt from its stored events, through a bounded cache of decoded
events (`LoanEvents`) and the loans' snapshots."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from uuid import UUID

from eventsourcing.persistence import MapperDeserialisationError

from loanledger.application.base import LedgerBase
from loanledger.domain.errors import CorruptHistoryError, LoanNotFoundError
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.pages import EventsOf


class LoanEvents:
    """Decoded events of recently used loans, least recently used dropped first (bounded).

    Each entry remembers the notification id through which it is known to be complete
    (`checked_through`, 0 when unknown), so that readers who know nothing was recorded since can
    skip the query; writing to a loan resets it.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._events: OrderedDict[UUID, tuple[list[DomainEvent], int]] = OrderedDict()
        self._replayed: OrderedDict[UUID, Loan] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, aggregate_id: UUID) -> tuple[list[DomainEvent], int]:
        with self._lock:
            entry = self._events.get(aggregate_id)
            if entry is None:
                return [], 0
            self._events.move_to_end(aggregate_id)
            return entry

    def put(self, aggregate_id: UUID, events: list[DomainEvent], checked_through: int) -> None:
        with self._lock:
            current = self._events.get(aggregate_id)
            if current is not None and len(current[0]) > len(events):
                return  # another thread cached a longer history
            self._events[aggregate_id] = (events, checked_through)
            self._events.move_to_end(aggregate_id)
            while len(self._events) > self._capacity:
                self._events.popitem(last=False)

    def clear(self) -> None:
        """Forget every decoded event and replayed loan (personal data was erased)."""
        with self._lock:
            self._events.clear()
            self._replayed.clear()

    def touch(self, aggregate_id: UUID) -> None:
        """The loan was written to: its entry may be incomplete from now on."""
        with self._lock:
            entry = self._events.get(aggregate_id)
            if entry is not None:
                self._events[aggregate_id] = (entry[0], 0)
            self._replayed.pop(aggregate_id, None)

    def replayed(self, aggregate_id: UUID) -> Loan | None:
        """The loan last replayed for a read, if still kept."""
        with self._lock:
            return self._replayed.get(aggregate_id)

    def keep_replayed(self, aggregate_id: UUID, loan: Loan) -> None:
        with self._lock:
            self._replayed[aggregate_id] = loan
            self._replayed.move_to_end(aggregate_id)
            while len(self._replayed) > self._capacity:
                self._replayed.popitem(last=False)


class Loading(LedgerBase):
    """The ledger's loan loader (`_get`) and what reads loans through it."""

    _loan_events: LoanEvents
    _events_of: EventsOf

    def _get(
        self, loan_id: str, *, fresh_through: int | None = None, remember: bool = True
    ) -> Loan:
        """The loan rebuilt from its stored events.

        Decoding stored bytes is most of what loading costs, so the decoded (immutable) events of
        recently used loans are kept (`LoanEvents`, bounded) and only events stored since are
        read and decoded; the aggregate itself is rebuilt fresh each time, so a refused command
        can never leave a half-changed loan behind in a cache. With `remember=False` (the
        projections' loader) the cache is read but not filled: a rebuild reads every loan once
        and would otherwise fill it with the whole book.
        """
        aggregate_id = loan_uuid(loan_id)
        known, checked_through = self._loan_events.get(aggregate_id)
        if fresh_through is not None and known and checked_through >= fresh_through:
            # A read that knows nothing was recorded since: the loan replayed for the last such
            # read serves again (readers never change a loan; commands never come this way).
            shared = self._loan_events.replayed(aggregate_id)
            if shared is not None and shared.version == len(known):
                return shared
            loan = self._replay(aggregate_id, known)
            self._loan_events.keep_replayed(aggregate_id, loan)
            return loan
        try:
            # From the loan's snapshot when nothing is known yet (persistence/snapshots.py).
            new = self.loan_snapshots.events_after(loan_id, aggregate_id, known)
        except MapperDeserialisationError as error:
            raise CorruptHistoryError(
                f"loan {loan_id} has stored events that cannot be read; run verify() and "
                f"see its archive for where the chain breaks ({error})"
            ) from error
        events = known + new if new else known
        if not events:
            raise LoanNotFoundError(f"loan {loan_id} has not applied")
        if remember or (new and known):  # refreshing a cached loan adds no entry
            self._loan_events.put(aggregate_id, events, fresh_through or 0)
        self.loan_snapshots.consider(loan_id, aggregate_id, events)
        return self._replay(aggregate_id, events)

    def _get_many(self, loan_ids: Sequence[str]) -> dict[str, Loan]:
        """`_get(loan_id, remember=False)` of each loan (the projections' loader), the loans of
        which no events are cached read together: which have a snapshot in one query, the
        events of the others in another, decoded in one batch (`Snapshots.first_loads`)."""
        loans: dict[str, Loan] = {}
        fresh: list[tuple[str, UUID]] = []
        for loan_id in loan_ids:
            aggregate_id = loan_uuid(loan_id)
            if self._loan_events.get(aggregate_id)[0]:
                loans[loan_id] = self._get(loan_id, remember=False)
            else:
                fresh.append((loan_id, aggregate_id))
        try:
            found = self.loan_snapshots.first_loads(fresh, self._events_of)
        except MapperDeserialisationError:
            # One by one: `_get` names the loan whose stored events cannot be read.
            for loan_id, _ in fresh:
                loans[loan_id] = self._get(loan_id, remember=False)
            found = {}
        for loan_id, aggregate_id in fresh:
            if loan_id in loans:
                continue
            events = found.get(aggregate_id)
            if not events:
                raise LoanNotFoundError(f"loan {loan_id} has not applied")
            self.loan_snapshots.consider(loan_id, aggregate_id, events)
            loans[loan_id] = self._replay(aggregate_id, events)
        return {loan_id: loans[loan_id] for loan_id in loan_ids}

    @staticmethod
    def _replay(aggregate_id: UUID, events: list[DomainEvent]) -> Loan:
        loan = Loan(aggregate_id)
        for event in events:
            event.mutate(loan)
        return loan

    def _loans(self, known_at: datetime | None) -> Iterator[Loan]:
        self.projections.catch_up()
        index = self.loan_index.sql(self.read_store)
        # Every event up to this notification is projected, so cached histories checked since
        # need no query (reports read thousands of loans).
        fresh_through = self.recorder.max_notification_id() or 0
        for (loan_id,) in self.read_store.query(index["all_loans"]):
            yield self._get(loan_id, fresh_through=fresh_through).as_known_at(known_at)

    def _known_loan(self, loan_id: str, day: date, moment: datetime | None) -> Loan:
        loan = self._get(loan_id).as_known_at(moment)
        if not loan.exists_on(day):
            raise LoanNotFoundError(f"loan {loan_id} has no application on or before {day}")
        return loan

    # What a what-if branch needs of the ledger (`loanledger.application.whatif.BranchHost`).

    def stored_loan(self, loan_id: str) -> Loan:
        """A fresh copy of the loan rebuilt from its stored events."""
        return self._get(loan_id)

    def stored_loans(self, known_at: datetime | None) -> Iterator[Loan]:
        return self._loans(known_at)
