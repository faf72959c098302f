"""The loans the `loan_state` projection carries from one page of the log to the next.

A rebuild meets each loan in page after page: a 2,000-loan book of 18 months spread each loan's ~30
events over ~30 pages of 1,000 events (~12 of today's pages of 5,000). Loading the loan from the
store at each of them decoded every event of the log ~17 times over (issue 20). Instead the
projection keeps, per loan, the loan built from the events it has projected so far and goes on from
it with each page's events (`KeptLoans.carry`), plus the walk it can resume (`segments.Cursor`), so
a rebuild decodes each event about once (a loan dropped while idle, below, is loaded again when it
comes back).

What is kept is bounded, the way a database sizes its caches: at most `LOANS_KEPT` loans and
`EVENTS_KEPT` of their events (a decoded event with its share of the walk is ~1.5 KB: the bounds
cap the cache near 400 MB on the demo's loans), least recently used dropped first. A loan that has
not come up for `IDLE_GAPS` times its usual gap between events (at least `IDLE_MIN` positions of
the log) is dropped too: it has ended, or waits months for its next fact, and keeping it would
make a rebuild's memory grow with the book (B6: 1.36x the small book's peak with gaps counted
between pages, 1.15x between events, target 1.2x) for nothing; a loan unused for `IDLE_MIN`
positions keeps its events but not its walk. A dropped loan is loaded from the store when it
comes up again (a dropped walk is walked again from the application), which gives the same rows:
only speed depends on these bounds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass

from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.projection.segments import Cursor, Timeline

LOANS_KEPT = 8192
"""At most this many loans kept (the least recently used is dropped first)."""

EVENTS_KEPT = 262_144
"""At most this many events in the kept loans, all together (a long loan weighs its events)."""

IDLE_GAPS = 4
"""A loan is dropped once it has not come up for this many of its own usual gaps between
events..."""

IDLE_MIN = 2_000
"""...nor for this many positions of the log (two default pages), whichever is longer."""


@dataclass
class Kept:
    """What the projection keeps of one loan."""

    loan: Loan | None = None
    """Every event of the loan projected so far (or loaded: every event recorded then), in a loan
    of its own that nothing else holds (see `KeptLoans.carry`)."""
    walk: tuple[str, Timeline, Cursor] | None = None
    """The moment it was last walked as known at, that timeline and its checkpoint."""
    first: int = 0
    """The log position at which the loan was first used since it was kept."""
    last: int = 0
    """The log position at which it was last used."""
    uses: int = 0
    """Pages that used it since it was kept."""
    events: int = 0
    """Events of `loan` counted against `EVENTS_KEPT`."""
    dropped: bool = False
    """No longer kept (its loan is not counted)."""

    def idle_after(self) -> int:
        """How many positions the loan may go unused before it is dropped."""
        # The usual gap between the loan's events (pages would overstate it: a page may hold
        # several events of a loan, and a loan that met two pages 900 positions apart looks
        # like one that met them 1,900 apart). Before it has events, between its pages.
        count = self.loan.version if self.loan is not None else self.uses
        usual = (self.last - self.first) // (count - 1) if count > 1 else 0
        return max(IDLE_GAPS * usual, IDLE_MIN)


class KeptLoans:
    """Kept loans by loan id, least recently used first, within `loans` and `events`."""

    def __init__(self, loans: int = LOANS_KEPT, events: int = EVENTS_KEPT) -> None:
        self.loans_kept = loans
        self.events_kept = events
        self._kept: OrderedDict[str, Kept] = OrderedDict()
        self._events = 0

    def __len__(self) -> int:
        return len(self._kept)

    def __iter__(self) -> Iterator[str]:
        return iter(self._kept)

    def __contains__(self, loan_id: object) -> bool:
        return loan_id in self._kept

    @property
    def events(self) -> int:
        """Events held by the kept loans."""
        return self._events

    def get(self, loan_id: str) -> Kept | None:
        return self._kept.get(loan_id)

    def use(self, loan_id: str, position: int) -> Kept:
        """The loan's entry (new if it has none), used at log `position`: made the most
        recently used, and the least recent dropped while the bounds are exceeded."""
        kept = self._kept.pop(loan_id, None)
        if kept is None:
            kept = Kept(first=position)
        if kept.last != position:
            kept.uses += 1
            kept.last = max(kept.last, position)
        self._kept[loan_id] = kept
        self._within_bounds()
        return kept

    def hold(self, kept: Kept, loan: Loan | None) -> None:
        """Keep `loan` in `kept` (None: keep no loan), counting its events (an entry dropped
        meanwhile holds it for its caller only)."""
        kept.loan = loan
        if kept.dropped:
            return
        self._events -= kept.events
        kept.events = loan.version if loan is not None else 0
        self._events += kept.events
        self._within_bounds()

    def carry(
        self,
        loan_id: str,
        events: Sequence[DomainEvent],
        position: int,
        *,
        keep_before: bool = False,
    ) -> Loan | None:
        """Go on with the kept loan from `events` of it (in log order, the last at `position`)
        instead of loading it again. A loan not kept yet is begun from them if they hold its
        first event (it applied in this page); otherwise it is left to be loaded. Events that
        do not follow on from the kept loan's version (another process projected those between)
        drop the kept loan, so that it is loaded. With `keep_before`, the kept loan goes on as a
        copy and the loan as it was before `events` is returned (None when there was none)."""
        kept = self.use(loan_id, position)
        loan = kept.loan
        have = loan.version if loan is not None else 0
        new = [event for event in events if event.originator_version > have]
        if not new:
            return None
        if new[0].originator_version != have + 1 or (
            new[-1].originator_version - new[0].originator_version != len(new) - 1
        ):
            self.hold(kept, None)
            return None
        before = None
        if loan is None:
            loan = Loan(new[0].originator_id)
        elif keep_before or (kept.walk is not None and kept.walk[1].loan is loan):
            # The kept walk's timeline holds this loan as known at its moment: it must not see
            # later facts, so the loan goes on as a copy (as it does when the caller keeps it).
            before, loan = loan, fork(loan)
        for event in new:
            event.mutate(loan)
        self.hold(kept, loan)
        return before if keep_before else None

    def forget_idle(self, position: int, *, keep: Container[str] = ()) -> int:
        """Drop the loans unused for longer than they may be (`Kept.idle_after`) at log
        `position`, but those in `keep`; return how many. Least recently used first, so the
        scan stops at the first loan used within `IDLE_MIN`."""
        idle = []
        for loan_id, kept in self._kept.items():
            unused = position - kept.last
            if unused <= IDLE_MIN:
                break
            if loan_id in keep:
                continue
            if unused > kept.idle_after():
                idle.append(loan_id)
            else:
                kept.walk = None  # the larger part: its events are what a load would decode
        for loan_id in idle:
            self._drop(loan_id)
        return len(idle)

    def clear(self) -> None:
        for loan_id in list(self._kept):
            self._drop(loan_id)

    def _drop(self, loan_id: str) -> None:
        kept = self._kept.pop(loan_id)
        self._events -= kept.events
        kept.events, kept.dropped = 0, True

    def _within_bounds(self) -> None:
        while self._kept and (len(self._kept) > self.loans_kept or self._events > self.events_kept):
            self._drop(next(iter(self._kept)))


def fork(loan: Loan) -> Loan:
    """A copy of `loan` that applying events to does not change `loan`: what replaying its
    events gives, without replaying them. Its lists and dicts are copied (and lists held in a
    dict, such as each case's events); the events, and the values applying them stores, are
    immutable and shared. `_positions`, a cache of positions derived from the loan, starts
    empty. (tests/unit/test_kept_loans.py holds it equal to a replay, field by field.)"""
    copy = object.__new__(type(loan))
    state = copy.__dict__
    for name, value in vars(loan).items():
        if isinstance(value, list):
            value = list(value)
        elif isinstance(value, dict):
            value = {
                key: list(item) if isinstance(item, list) else item for key, item in value.items()
            }
        state[name] = value
    state["_positions"] = {}
    return copy
