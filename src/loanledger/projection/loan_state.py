"""The bitemporal `loan_state` projection: every loan's report row as segments of effective time
and recorded time, so that a portfolio report as of any date, as known at any moment, is an
indexed query instead of a replay of the book (SQL and the model in projections/loan_state.sql;
where segments begin and end in loanledger/projection/segments.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic_core import from_json, to_json

from loanledger.domain.contagion import contagion_spreads
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan, event_values_scoped
from loanledger.domain.loan_events import LoanApproved
from loanledger.domain.rules import RuleSet
from loanledger.persistence.read_store import ReadStore, Row, Transaction
from loanledger.projection.engine import Projection, Recorded
from loanledger.projection.kept_loans import Kept, KeptLoans, fork
from loanledger.projection.segments import (
    FOREVER,
    ProductMemo,
    Segment,
    Timeline,
    complete_row,
    event_changes_row,
    extends,
)

FLUSH_ROWS = 500
"""Segments buffered before they are written (after a whole loan's moments: no later moment of
the batch changes them): few statements a batch, and a batch's rows are not all held at once."""

EARLY_FORGET_EVENTS = 1000
"""A batch longer than this drops idle loans before its work as well as after it."""

BOOK_HORIZON = 1
"""The horizon table's row of the book's business horizon (reports' and catch-ups')."""

OPEN = "9999-12-31T23:59:59.999999"
"""`recorded_to` of a segment nothing has superseded yet."""

Loader = Callable[[str], Loan]
"""Gives a loan with every event recorded so far (the projection needs a loan's earlier facts,
not only the batch's)."""

ManyLoader = Callable[[Sequence[str]], dict[str, Loan]]
"""`Loader` of several loans at once (a page's loans that are not kept: one query, not one or
two a loan)."""


def moment_text(moment: datetime | None) -> str:
    """A recorded time as fixed-width UTC text (text order is time order); None: now and later."""
    if moment is None:
        return "9999-12-31T23:59:59.999998"
    moment = moment.astimezone(UTC)
    if moment.year < 1000:  # `isoformat` pads the year to four digits, `strftime` does not
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    # The same text as strftime's, at a third of its cost (a rebuild writes one per moment).
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


class LoanStateProjection(Projection):
    name = "loan_state"
    personal_data = False  # a row is the loan's `loan_ledger` row: its borrower's id, no name
    version = 1

    def __init__(self, loader: Loader, rules: RuleSet, load_many: ManyLoader | None = None) -> None:
        self.loader = loader
        self.load_many: ManyLoader = load_many or (
            lambda loan_ids: {loan_id: loader(loan_id) for loan_id in loan_ids}
        )
        self.rules = rules
        self.kept = KeptLoans()
        """Loans carried from page to page (bounded, see `kept_loans`): each one's events
        projected so far, timeline, the moment it was known at and where its walk stood, to go
        on from there instead of loading the loan and walking its life again."""
        self.products = ProductMemo()
        """Each loan's product fields, from one of its timelines to the next."""
        self._position = 0
        """The last log position of the batch being projected."""
        self.horizon_row = BOOK_HORIZON
        """The row of the horizon table this projection keeps its business horizon in (a
        partition writing the book's read models keeps its own: `application/partitioned.py`)."""
        self.owns: Callable[[str], bool] | None = None
        """Whether a loan is this projection's, when it shares its tables with projections of
        the other loans (a partition's): only its own loans are carried to the horizon."""
        self._tail: dict[str, DomainEvent] = {}
        """The loans whose last event in the batch was recorded with the batch's last event,
        when that moment's facts may go on in the next page (one transaction, cut by the page;
        `Projection.process_page` says when the engine knows it is not)."""

    def release(self) -> None:
        """Forget the kept loans (the read model is reset, or the ledger closes: what they
        hold is freed at once)."""
        self.kept.clear()
        self.products.clear()

    def _load(self, versions: dict[str, int], loan_ids: Sequence[str]) -> dict[str, Loan]:
        """Each loan with at least its first `versions` events: the kept one (see
        `KeptLoans.carry`) if it has them, else loaded (every event recorded so far; the loans
        to load are loaded together). Either is what a fresh load gives as known at each of the
        batch's moments: a loan's facts are recorded in time order and each moment's facts in
        one transaction (which the projection relies on anyway: it writes each moment once), so
        a loan holding one fact of a moment holds every fact recorded up to it. A kept loan that
        ends at the batch's last moment is loaded all the same when the page may have cut that
        moment's transaction, whose other facts are in the store already (`_tail`)."""
        loans: dict[str, Loan] = {}
        missing: dict[str, Kept] = {}
        for loan_id in loan_ids:
            kept = self.kept.use(loan_id, self._position)
            loan = kept.loan
            tail = self._tail.get(loan_id)
            cut = tail is not None and loan is not None and loan.history[-1] is tail
            if loan is None or loan.version < versions[loan_id] or cut:
                missing[loan_id] = kept
            else:
                loans[loan_id] = loan
        if missing:
            for loan_id, loan in self.load_many(list(missing)).items():
                self.kept.hold(missing[loan_id], loan)
                loans[loan_id] = loan
        return {loan_id: loans[loan_id] for loan_id in loan_ids}

    def _known(self, loan_id: str, recorded: str) -> Loan:
        """The loan as known at the moment `recorded` (text): the kept timeline's if it was
        built for that moment, else the kept loan (which holds every fact projected so far) as
        known then, else loaded."""
        kept = self.kept.get(loan_id)
        if kept is not None and kept.walk is not None and kept.walk[0] == recorded:
            return kept.walk[1].loan
        moment = datetime.fromisoformat(recorded).replace(tzinfo=UTC)
        loan = kept.loan if kept is not None else None
        if loan is None or not _knows(loan, moment):
            loan = self.loader(loan_id)  # (another process projected that moment)
        return loan.as_known_at(moment)

    def _segments(self, loan: Loan, recorded: str, start: date, through: date) -> Iterator[Segment]:
        """The loan's segments from `start`, going on from its last walk when the facts allow."""
        kept = self.kept.get(loan.loan_id)
        walk = kept.walk if kept is not None else None
        timeline = cursor = None
        if kept is not None and walk is not None:
            kept.walk = None  # the cursor is handed over to this walk
            moment, earlier, cursor = walk
            if moment == recorded and earlier.loan is loan:
                timeline = earlier
            else:  # another moment's facts: a new timeline, perhaps the same walk
                timeline = Timeline.going_on(earlier, loan, self.rules, self.products)
            if not cursor.resumes(loan, start):
                cursor = None
        if timeline is None:
            timeline = Timeline(loan, self.rules, self.products)
        yield from timeline.segments(start, through, resume=cursor)
        if timeline.checkpoint is not None:
            kept = self.kept.use(loan.loan_id, self._position)
            kept.walk = (recorded, timeline, timeline.checkpoint)

    def drop(self, txn: Transaction, store: ReadStore) -> None:
        sql = self.sql(store)
        for key in ("drop", "drop_cover", "drop_horizon"):
            txn.execute(sql[key])

    def clear(self, txn: Transaction, store: ReadStore) -> None:
        sql = self.sql(store)
        for key in ("clear", "clear_cover", "clear_horizon"):
            txn.execute(sql[key])

    def process(self, txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None:
        self.process_page(txn, store, batch, ends_moment=False)

    def process_page(
        self,
        txn: Transaction,
        store: ReadStore,
        batch: Sequence[Recorded],
        *,
        ends_moment: bool,
    ) -> None:
        # Loans are loaded here without filling the application's caches (see the loader), and
        # the domain's per-event memo is left alone too: a rebuild reads every loan once, and
        # remembering would keep the whole book's events alive (B6 memory). A page's values go
        # to a small memo of its own instead, for the loan's next moments, which ask again.
        with event_values_scoped():
            self._process(txn, store, batch, ends_moment=ends_moment)

    def _process(
        self, txn: Transaction, store: ReadStore, batch: Sequence[Recorded], *, ends_moment: bool
    ) -> None:
        sql = self.sql(store)
        found = txn.execute(sql["horizon_of"], (self.horizon_row,))
        horizon = date.fromisoformat(found[0][0]) if found else None
        # Each moment's segments reach the business horizon as it stood when its events were
        # recorded (the running latest effective date in log order), not the batch's end: a
        # rebuild of years of history would otherwise write every version out to today.
        touched: dict[str, dict[datetime, date]] = {}
        versions: dict[str, int] = {}
        arrived: dict[str, list[DomainEvent]] = {}
        for item in batch:
            event = item.event
            if horizon is None or event.effective_date > horizon:
                horizon = event.effective_date
            versions[event.loan_id] = max(versions.get(event.loan_id, 0), event.originator_version)
            arrived.setdefault(event.loan_id, []).append(event)
            if event_changes_row(event):
                touched.setdefault(event.loan_id, {})[event.timestamp] = horizon
        if horizon is None:
            return
        self._position = batch[-1].position
        # (Only loans' events: a partitioned rebuild passes date marks of no loan.) A batch that
        # ends with a whole moment leaves nothing of it for the next page: its loans go on as
        # they are kept (a close of day's moment touches hundreds of loans, each of which was
        # loaded again at every page's end before).
        last = next((item.event for item in reversed(batch) if item.event.loan_id), None)
        self._tail = {
            loan_id: events[-1]
            for loan_id, events in arrived.items()
            if loan_id
            and not ends_moment
            and last is not None
            and events[-1].timestamp == last.timestamp
        }
        # In a long batch (a rebuild's page), what its end would drop as idle (see `kept_loans`)
        # is dropped before its work instead, so that it is not held beside the batch's loans:
        # all but the batch's own loans and those the end of the batch carries on to the horizon
        # (`_extend`: their covers stop short of it, and nothing but that extension changes the
        # cover of a loan with no event in the batch). A short batch (a catch-up after a
        # command) holds little: it is left to the end, without the extra query.
        if len(batch) > EARLY_FORGET_EVENTS:
            carried_on = {row[0] for row in self._stale(txn, sql, horizon)}
            self.kept.forget_idle(self._position, keep=arrived.keys() | carried_on)
        before: dict[str, Loan] = {}
        for loan_id, events in arrived.items():
            if loan_id in touched or self.kept.get(loan_id) is not None:
                # A loan with facts of two moments or more in the batch is asked for as known
                # at each: the moments go on from the kept loan as it was before the batch.
                earlier = self.kept.carry(
                    loan_id,
                    events,
                    self._position,
                    keep_before=events[0].timestamp != events[-1].timestamp,
                )
                if earlier is not None:
                    before[loan_id] = earlier
        txn.execute(sql["upsert_horizon_of"], (self.horizon_row, horizon.isoformat()))
        writes = _Writes()
        if touched:
            loan_ids = sorted(touched)
            covers = {
                loan_id: _Cover(known_from, recorded_from, covered_to, stored=True)
                for loan_id, known_from, recorded_from, covered_to in txn.execute(
                    sql["covers"], (_json(loan_ids),)
                )
            }
            loans = self._load(versions, loan_ids)
            moments = {loan_id: sorted(touched[loan_id].items()) for loan_id in loan_ids}
            stored_open = self._stored_open(txn, sql, covers, loans, moments)
            for loan_id in loan_ids:
                writer = _LoanWrites(loan_id, covers.get(loan_id), writes)
                writer.stored_open = stored_open.pop(loan_id, [])
                knowing = _KnownAt(loans.pop(loan_id), before.pop(loan_id, None))
                for moment, reached in moments[loan_id]:
                    self._version(writer, knowing, moment, reached)
                if len(writes.inserts) >= FLUSH_ROWS:
                    writes.flush(txn, sql)  # the loan's rows are final: nothing revisits them
            writes.flush(txn, sql)
        for loan_id, recorded_from, covered_to in self._stale(txn, sql, horizon):
            self._extend(writes, loan_id, recorded_from, date.fromisoformat(covered_to), horizon)
        writes.flush(txn, sql)
        self.kept.forget_idle(self._position)
        self.products.keep_only(self.kept)

    def _stale(self, txn: Transaction, sql: dict[str, str], horizon: date) -> list[Row]:
        """The loans whose segments stop short of `horizon` (this projection's own, see `owns`)."""
        rows = txn.execute(sql["stale"], (horizon.isoformat(),))
        owns = self.owns
        return rows if owns is None else [row for row in rows if owns(row[0])]

    def _stored_open(
        self,
        txn: Transaction,
        sql: dict[str, str],
        covers: dict[str, _Cover],
        loans: dict[str, Loan],
        moments: dict[str, list[tuple[datetime, date]]],
    ) -> dict[str, list[list[Any]]]:
        """The open segments, stored before this batch, that a moment of the batch may
        supersede (one query for the batch), by loan, as `insert` parameters."""
        if not covers:
            return {}
        lowest = [
            (loan_id, self._lowest_start(loans[loan_id], cover, moments[loan_id]).isoformat())
            for loan_id, cover in sorted(covers.items())
        ]
        found: dict[str, list[list[Any]]] = {}
        for row in txn.execute(sql["open_after"], (_json(lowest), OPEN)):
            found.setdefault(row[0], []).append(list(row))
        return found

    @staticmethod
    def _arrived(loan: Loan, moment: datetime) -> list[DomainEvent]:
        """The facts recorded at `moment` that can change the loan's row. A loan's facts are
        recorded in time order, so they are found from the end of its history, without reading
        the whole of it for each moment."""
        found: list[DomainEvent] = []
        for event in reversed(loan.history):
            if event.timestamp < moment:
                break
            if event.timestamp == moment and event_changes_row(event):
                found.append(event)
        found.reverse()
        return found

    def _lowest_start(
        self, loan: Loan, cover: _Cover, moments: Sequence[tuple[datetime, date]]
    ) -> date:
        """No moment of the batch rewrites the loan from before this date (see `_version`: a
        moment starts at its earliest fact, at the application for an approval, or at the
        coverage's end, which only moves on to after an earlier moment's start)."""
        lowest = date.fromisoformat(cover.covered_to)
        assert loan.application is not None
        for moment, _ in moments:
            for event in self._arrived(loan, moment):
                day = (
                    loan.application.effective_date
                    if isinstance(event, LoanApproved)
                    else event.effective_date
                )
                lowest = min(lowest, day)
        return lowest

    def _version(
        self, writer: _LoanWrites, knowing: _KnownAt, moment: datetime, horizon: date
    ) -> None:
        """Write what became known about the loan at `moment` (after the batch's earlier
        moments of it: `knowing` goes forward)."""
        recorded = moment_text(moment)
        cover = writer.cover
        if cover is not None and cover.recorded_from >= recorded:
            return  # this moment was written already (its events spanned two batches)
        loan = knowing.loan
        known = knowing.at(moment)
        arrived = self._arrived(known, moment)
        start = min(event.effective_date for event in arrived)
        assert known.application is not None
        applied_on = known.application.effective_date
        if any(isinstance(event, LoanApproved) for event in arrived):
            start = applied_on  # approved terms show on the row from the application on
        if cover is not None:
            known_from = cover.known_from
            start = min(start, date.fromisoformat(cover.covered_to))
            writer.supersede(start, recorded)
        else:
            known_from = recorded
            start = applied_on
        covered_to = writer.write(recorded, self._segments(known, recorded, start, horizon))
        writer.cover = _Cover(
            known_from, recorded, covered_to, stored=cover is not None and cover.stored
        )
        writer.writes.covers[loan.loan_id] = writer.cover

    def _extend(
        self, writes: _Writes, loan_id: str, recorded: str, covered_to: date, horizon: date
    ) -> None:
        """Carry a loan's open segments on to the business horizon (no new fact: time passed)."""
        segments = self._segments(self._known(loan_id, recorded), recorded, covered_to, horizon)
        rows = [_stored(loan_id, recorded, segment) for segment in segments]
        writes.inserts.extend(rows)
        writes.extended.append((rows[-1][3], loan_id))


class _KnownAt:
    """A loan as known at each of a batch's moments of it, in time order: what
    `Loan.as_known_at` gives, each built from the one before by applying the facts recorded
    since, instead of from the loan's first fact again at every moment. (A moment's loan is
    changed in place for the next one: nothing reads it after its moment's segments are written;
    the walk kept from them holds the loan's terms and its own state, and a later moment that
    resumes it builds a new timeline.) With `before`, the kept loan as the earlier pages left it
    (its events a prefix of the loan's, the same objects), the first moment goes on from a copy
    of it instead of from the first fact: a loan met on many pages was replayed from its start
    on each (this class applied 254,146 events in a rebuild of the demo's 2,000-loan book,
    61,744 events, before it went on from the kept loan)."""

    def __init__(self, loan: Loan, before: Loan | None = None) -> None:
        self.loan = loan
        self._before = before
        self._known: Loan | None = None
        self._applied = 0
        """How many of the loan's events (in recorded order) `_known` holds."""
        self._moment: datetime | None = None

    def at(self, moment: datetime) -> Loan:
        if self._moment is not None and moment < self._moment:
            raise ValueError(f"moments must go forward: {moment} after {self._moment}")
        self._moment = moment
        loan = self.loan
        history = loan.history
        if not history or history[-1].timestamp <= moment:
            return loan  # every fact was recorded by then (`as_known_at` gives the loan)
        known = self._known
        if known is None:
            before = self._before
            if before is not None and _goes_on_from(loan, before, moment):
                known, self._applied = fork(before), len(before.history)
            else:
                known = type(loan)(loan.id)
            self._known = known
        applied = self._applied
        # A loan's facts are recorded in time order: those known at `moment` are a prefix.
        while applied < len(history) and history[applied].timestamp <= moment:
            history[applied].mutate(known)
            applied += 1
        self._applied = applied
        return known


def _goes_on_from(loan: Loan, before: Loan, moment: datetime) -> bool:
    """Whether `loan` goes on from `before` (whose events are the first of the loan's, the same
    objects: not a loan loaded again from the store) with nothing recorded after `moment`."""
    return (
        bool(before.history)
        and extends(loan.history, len(before.history), before.history[-1])
        and before.history[-1].timestamp <= moment
    )


@dataclass
class _Cover:
    """A loan's `loanledger_loan_state_cover` row as this batch leaves it."""

    known_from: str
    recorded_from: str
    covered_to: str
    stored: bool
    """The loan had segments in the store before this batch."""


class _Writes:
    """A batch's writes, buffered so that each statement is sent once per batch instead of
    once or more per moment of each loan: on PostgreSQL, where every statement is a round trip
    (and `executemany` one a row), each is one statement over a JSON array of its rows
    (`*_json`); elsewhere `executemany`.
    Rows are inserted with their final `recorded_to`, so a segment written and superseded within
    the batch is never updated."""

    def __init__(self) -> None:
        self.closes: list[tuple[str, str, str, str]] = []
        """Open segments stored before the batch that it supersedes: (recorded_to, key)."""
        self.inserts: list[list[Any]] = []
        self.covers: dict[str, _Cover] = {}
        self.extended: list[tuple[str, str]] = []

    def flush(self, txn: Transaction, sql: dict[str, str]) -> None:
        self._send(txn, sql, "close_segment", self.closes)
        self._send(txn, sql, "insert", self.inserts)
        self._send(
            txn,
            sql,
            "upsert_cover",
            [
                (loan_id, cover.known_from, cover.recorded_from, cover.covered_to)
                for loan_id, cover in self.covers.items()
            ],
        )
        self._send(txn, sql, "extend_cover", self.extended)
        self.closes, self.inserts, self.covers, self.extended = [], [], {}, []

    @staticmethod
    def _send(
        txn: Transaction, sql: dict[str, str], name: str, rows: Sequence[Sequence[Any]]
    ) -> None:
        if not rows:
            return
        whole = sql.get(f"{name}_json")
        if whole is not None:
            txn.execute(whole, (_json(rows),))
        else:
            txn.executemany(sql[name], rows)


class _LoanWrites:
    """One loan's open segments during a batch: those stored before it (read once) and those
    the batch wrote, so that superseding them needs no query."""

    def __init__(self, loan_id: str, cover: _Cover | None, writes: _Writes) -> None:
        self.loan_id = loan_id
        self.cover = cover
        self.writes = writes
        self.stored_open: list[list[Any]] = []
        """Open segments stored before the batch that may end after a moment's start."""
        self.written_open: list[list[Any]] = []

    def supersede(self, start: date, recorded: str) -> None:
        """Close the open segments that end after `start`; the one `start` cuts is kept, under
        the new knowledge, up to `start` (nothing effective before it changed)."""
        day = start.isoformat()
        ended = [row for row in self.stored_open if row[3] > day]
        if ended:
            self.stored_open = [row for row in self.stored_open if row[3] <= day]
            self.writes.closes.extend((recorded, row[0], row[1], row[2]) for row in ended)
        for row in self.written_open:
            if row[3] > day:
                row[4] = recorded
                ended.append(row)
        if not ended:
            return
        self.written_open = [row for row in self.written_open if row[3] <= day]
        for row in ended:
            if row[2] < day:
                cut = list(row)
                cut[1], cut[3], cut[4] = recorded, day, OPEN
                self.writes.inserts.append(cut)
                self.written_open.append(cut)

    def write(self, recorded: str, segments: Iterable[Segment]) -> str:
        rows = [_stored(self.loan_id, recorded, segment) for segment in segments]
        self.writes.inserts.extend(rows)
        self.written_open.extend(rows)
        return str(rows[-1][3])


def _knows(loan: Loan, moment: datetime) -> bool:
    """Whether `loan` holds the facts recorded at `moment` (from the end: facts are recorded in
    time order)."""
    for event in reversed(loan.history):
        if event.timestamp <= moment:
            return event.timestamp == moment
    return False


def _json(values: Any) -> str:
    """JSON text, compact and not ASCII-escaped (what `json.dumps` with those options writes),
    by pydantic-core in Rust: a row's `detail` and a batch's rows as one statement parameter
    are written for every segment, and the standard library's encoder took ~10 us a row."""
    return to_json(values).decode("utf-8")


def _stored(loan_id: str, recorded: str, segment: Segment) -> list[Any]:
    row = segment.row
    detail = {
        "row": row,
        "contagion": list(segment.contagion_grade),
        "penalties": [[str(accrued), str(daily)] for accrued, daily in segment.penalties],
    }
    if segment.rounding is not None:
        detail["rounding"] = segment.rounding  # a product's own rounding (issue 19)
    return [
        loan_id,
        recorded,
        segment.valid_from.isoformat(),
        segment.valid_to.isoformat(),
        OPEN,
        row["borrower_id"],
        row["status"],
        row["classification"],
        segment.contagion_grade[0],
        row["ifrs9_stage"],
        row["bucket"],
        int(segment.counts),
        row["principal_outstanding"],
        row["overdue_principal"],
        row["overdue_interest"],
        segment.overdue_since.isoformat() if segment.overdue_since else None,
        _json(detail),
    ]


def row_at(stored: Row, day: date, rules: RuleSet, *, contagion: bool) -> dict[str, Any]:
    """The `loan_ledger` row on `day` of a `rows_at` row: what `Segment.row_on` gives for the
    segment it was written from, without building the segment (a report reads 100,000 of
    them): the stored row is parsed into a new dict that is completed in place."""
    valid_from, _, overdue_since, text = stored[11:15]
    detail = from_json(text, cache_strings="keys")
    classification, reasons = detail["contagion"]
    return complete_row(
        detail["row"],
        day,
        rules,
        overdue_since=date.fromisoformat(overdue_since) if overdue_since else None,
        grade=(classification, reasons) if contagion else None,
        penalties=[(Fraction(accrued), Fraction(daily)) for accrued, daily in detail["penalties"]],
        elapsed_days=(day - date.fromisoformat(valid_from)).days,
        rounding=detail.get("rounding"),
    )


@dataclass(frozen=True)
class StateRow:
    """What the summaries need of one loan on the report date (a `summary_at` row)."""

    loan_id: str
    borrower_id: str
    status: str
    classification: str
    contagion_classification: str
    ifrs9_stage: int
    bucket: str
    disbursed: bool
    principal_outstanding: str
    overdue_principal: str
    overdue_interest: str

    @classmethod
    def of(cls, stored: Row) -> StateRow:
        return cls(
            loan_id=stored[0],
            borrower_id=stored[1],
            status=stored[2],
            classification=stored[3],
            contagion_classification=stored[4],
            ifrs9_stage=int(stored[5]),
            bucket=stored[6],
            disbursed=bool(stored[7]),
            principal_outstanding=stored[8],
            overdue_principal=stored[9],
            overdue_interest=stored[10],
        )


def contagious_borrowers(rows: Iterable[StateRow], share: Decimal) -> set[str]:
    """Borrowers more than `share` of whose disbursed balances are substandard or worse: the
    rule of `domain.contagion`, as the replay applies it (`LoanLedger._contagion`), on the read
    model's rows. The caller passes only rows of borrowers with more than one loan, as the
    replay tests only those."""
    balances: dict[str, list[tuple[Decimal, str]]] = {}
    for row in rows:
        if not row.disbursed:
            continue
        balances.setdefault(row.borrower_id, []).append(
            (Decimal(row.principal_outstanding), row.classification)
        )
    return {borrower for borrower, loans in balances.items() if contagion_spreads(loans, share)}


def summary_view(stored: Row, *, contagion: bool) -> dict[str, Any]:
    """The `loan` fields the portfolio summaries read (see `portfolio.summary`) of a
    `summary_at` row, graded with contagion if the borrower is non-performing elsewhere."""
    return {
        "status": stored[2],
        "classification": stored[4] if contagion else stored[3],
        "ifrs9_stage": int(stored[5]),
        "bucket": stored[6],
        "principal_outstanding": stored[8],
        "overdue_principal": stored[9],
        "overdue_interest": stored[10],
    }


__all__ = [
    "FOREVER",
    "OPEN",
    "LoanStateProjection",
    "StateRow",
    "contagious_borrowers",
    "moment_text",
    "row_at",
    "summary_view",
]
