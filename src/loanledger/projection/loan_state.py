"""The bitemporal `loan_state` projection: every loan's report row as segments of effective time
and recorded time, so that a portfolio report as of any date, as known at any moment, is an
indexed query instead of a replay of the book (SQL and the model in projections/loan_state.sql;
where segments begin and end in loanledger/projection/segments.py).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from loanledger.domain.loan import Loan, event_values_not_remembered
from loanledger.domain.loan_events import LoanApproved
from loanledger.domain.rules import CLASSIFICATIONS, RuleSet
from loanledger.projection.engine import Projection, Recorded
from loanledger.projection.segments import FOREVER, Cursor, Segment, Timeline, event_changes_row
from loanledger.projection.store import ReadStore, Row, Transaction
from loanledger.reports.portfolio import LoanRow

CURSORS_KEPT = 500
"""Loans whose timeline and walk are kept to go on from: a two-year loan's cursor is about 27 KB
(installments, post-loan state) and its timeline holds the loan's events, so this bounds the cache
near 30 MB and keeps a rebuild's memory flat (B6: 1.27x at 1,000, 1.05x at 500); a loan that was
dropped is walked again from its application, which gives the same segments."""

OPEN = "9999-12-31T23:59:59.999999"
"""`recorded_to` of a segment nothing has superseded yet."""

Loader = Callable[[str], Loan]
"""Gives a loan with every event recorded so far (the projection needs a loan's earlier facts,
not only the batch's)."""


def moment_text(moment: datetime | None) -> str:
    """A recorded time as fixed-width UTC text (text order is time order); None: now and later."""
    if moment is None:
        return "9999-12-31T23:59:59.999998"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


class LoanStateProjection(Projection):
    name = "loan_state"
    version = 1

    def __init__(self, loader: Loader, rules: RuleSet) -> None:
        self.loader = loader
        self.rules = rules
        self._walks: OrderedDict[str, tuple[str, Timeline, Cursor]] = OrderedDict()
        """Each recently written loan's timeline, the moment it was known at, and where its walk
        stood (bounded), to go on from there instead of walking the loan's life again."""

    def _known(self, loan_id: str, recorded: str) -> Loan:
        """The loan as known at the moment `recorded` (text), from the kept timeline if it was
        built for that moment (no query), else loaded."""
        kept = self._walks.get(loan_id)
        if kept is not None and kept[0] == recorded:
            return kept[1].loan
        moment = datetime.fromisoformat(recorded).replace(tzinfo=UTC)
        loan = self.loader(loan_id)
        return loan.as_known_at(moment)

    def _segments(self, loan: Loan, recorded: str, start: date, through: date) -> Iterator[Segment]:
        """The loan's segments from `start`, going on from its last walk when the facts allow."""
        kept = self._walks.pop(loan.loan_id, None)
        timeline = cursor = None
        if kept is not None:
            moment, timeline, cursor = kept
            if moment != recorded or timeline.loan is not loan:
                timeline = None  # another moment's facts: a new timeline, perhaps the same walk
            if not cursor.resumes(loan, start):
                cursor = None
        if timeline is None:
            timeline = Timeline(loan, self.rules)
        yield from timeline.segments(start, through, resume=cursor)
        if timeline.checkpoint is not None:
            self._walks[loan.loan_id] = (recorded, timeline, timeline.checkpoint)
            if len(self._walks) > CURSORS_KEPT:
                self._walks.popitem(last=False)

    def drop(self, txn: Transaction, store: ReadStore) -> None:
        sql = self.sql(store)
        for key in ("drop", "drop_cover", "drop_horizon"):
            txn.execute(sql[key])

    def clear(self, txn: Transaction, store: ReadStore) -> None:
        sql = self.sql(store)
        for key in ("clear", "clear_cover", "clear_horizon"):
            txn.execute(sql[key])

    def process(self, txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None:
        # Loans are loaded here without filling the application's caches (see the loader), and
        # the domain's per-event memo is left alone too: a rebuild reads every loan once, and
        # remembering would keep the whole book's events alive (B6 memory).
        with event_values_not_remembered():
            self._process(txn, store, batch)

    def _process(self, txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None:
        sql = self.sql(store)
        found = txn.execute(sql["horizon"])
        horizon = date.fromisoformat(found[0][0]) if found else None
        # Each moment's segments reach the business horizon as it stood when its events were
        # recorded (the running latest effective date in log order), not the batch's end: a
        # rebuild of years of history would otherwise write every version out to today.
        touched: dict[str, dict[datetime, date]] = {}
        for item in batch:
            event = item.event
            if horizon is None or event.effective_date > horizon:
                horizon = event.effective_date
            if event_changes_row(event):
                touched.setdefault(event.loan_id, {})[event.timestamp] = horizon
        if horizon is None:
            return
        txn.execute(sql["upsert_horizon"], (horizon.isoformat(),))
        for loan_id in sorted(touched):
            loan = self.loader(loan_id)
            for moment, reached in sorted(touched[loan_id].items()):
                self._version(txn, sql, loan, moment, reached)
        for loan_id, recorded_from, covered_to in txn.execute(sql["stale"], (horizon.isoformat(),)):
            self._extend(txn, sql, loan_id, recorded_from, date.fromisoformat(covered_to), horizon)

    def _version(
        self, txn: Transaction, sql: dict[str, str], loan: Loan, moment: datetime, horizon: date
    ) -> None:
        """Write what became known about `loan` at `moment`."""
        recorded = moment_text(moment)
        cover = txn.execute(sql["cover"], (loan.loan_id,))
        if cover and cover[0][1] >= recorded:
            return  # this moment was written already (its events spanned two batches)
        known = loan.as_known_at(moment)
        arrived = [
            event
            for event in known.history
            if event.timestamp == moment and event_changes_row(event)
        ]
        start = min(event.effective_date for event in arrived)
        assert known.application is not None
        applied_on = known.application.effective_date
        if any(isinstance(event, LoanApproved) for event in arrived):
            start = applied_on  # approved terms show on the row from the application on
        if cover:
            known_from = cover[0][0]
            start = min(start, date.fromisoformat(cover[0][2]))
            self._supersede(txn, sql, loan.loan_id, start, recorded)
        else:
            known_from = recorded
            start = applied_on
        covered_to = self._write(
            txn, sql, loan.loan_id, recorded, self._segments(known, recorded, start, horizon)
        )
        txn.execute(sql["upsert_cover"], (loan.loan_id, known_from, recorded, covered_to))

    def _supersede(
        self, txn: Transaction, sql: dict[str, str], loan_id: str, start: date, recorded: str
    ) -> None:
        """Close the open segments that end after `start`; the one `start` cuts is kept, under
        the new knowledge, up to `start` (nothing effective before it changed)."""
        cut = txn.execute(
            sql["open_containing"], (loan_id, OPEN, start.isoformat(), start.isoformat())
        )
        txn.execute(sql["close_open"], (recorded, loan_id, OPEN, start.isoformat()))
        for valid_from, _, *columns in cut:
            txn.execute(
                sql["insert"], (loan_id, recorded, valid_from, start.isoformat(), OPEN, *columns)
            )

    def _extend(
        self,
        txn: Transaction,
        sql: dict[str, str],
        loan_id: str,
        recorded: str,
        covered_to: date,
        horizon: date,
    ) -> None:
        """Carry a loan's open segments on to the business horizon (no new fact: time passed)."""
        segments = self._segments(self._known(loan_id, recorded), recorded, covered_to, horizon)
        end = self._write(txn, sql, loan_id, recorded, segments)
        txn.execute(sql["extend_cover"], (end, loan_id))

    @staticmethod
    def _write(
        txn: Transaction,
        sql: dict[str, str],
        loan_id: str,
        recorded: str,
        segments: Iterable[Segment],
    ) -> str:
        rows = [_stored(loan_id, recorded, segment) for segment in segments]
        txn.executemany(sql["insert"], rows)
        return str(rows[-1][3])


def _stored(loan_id: str, recorded: str, segment: Segment) -> tuple[Any, ...]:
    row = segment.row
    detail = {
        "row": row,
        "contagion": list(segment.contagion_grade),
        "penalties": [[str(accrued), str(daily)] for accrued, daily in segment.penalties],
    }
    return (
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
        json.dumps(detail, separators=(",", ":"), ensure_ascii=False),
    )


def segment_of(stored: Row) -> Segment:
    """A `rows_at` row back as the segment it was written from."""
    valid_from, valid_to, overdue_since, text = stored[11:15]
    detail = json.loads(text)
    classification, reasons = detail["contagion"]
    return Segment(
        valid_from=date.fromisoformat(valid_from),
        valid_to=date.fromisoformat(valid_to),
        row=detail["row"],
        contagion_grade=(classification, reasons),
        overdue_since=date.fromisoformat(overdue_since) if overdue_since else None,
        penalties=tuple(
            (Fraction(accrued), Fraction(daily)) for accrued, daily in detail["penalties"]
        ),
        counts=bool(stored[7]),
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
    same test as the replay's (`LoanLedger._contagion`), on the read model's rows. The caller
    passes only rows of borrowers with more than one loan, as the replay tests only those."""
    totals: dict[str, list[Decimal]] = {}
    worst = CLASSIFICATIONS.index("substandard")
    for row in rows:
        if not row.disbursed:
            continue
        outstanding = Decimal(row.principal_outstanding)
        total = totals.setdefault(row.borrower_id, [Decimal(0), Decimal(0)])
        total[0] += outstanding
        if CLASSIFICATIONS.index(row.classification) >= worst:
            total[1] += outstanding
    return {
        borrower
        for borrower, (total, non_performing) in totals.items()
        if total != 0 and non_performing / total > share
    }


def summary_row(row: StateRow, *, contagion: bool) -> LoanRow:
    """The few `loan` fields the summaries read, as a `LoanRow` for the reference builders."""
    view = {
        "loan_id": row.loan_id,
        "status": row.status,
        "classification": row.contagion_classification if contagion else row.classification,
        "ifrs9_stage": row.ifrs9_stage,
        "bucket": row.bucket,
        "principal_outstanding": row.principal_outstanding,
        "overdue_principal": row.overdue_principal,
        "overdue_interest": row.overdue_interest,
    }
    return LoanRow(
        view=view,
        borrower_id=row.borrower_id,
        amount=Decimal(0),
        annual_rate=Decimal(0),
        disbursed_on=None,
        maturity_date=None,
        notices=[],
        worklist=[],
    )


__all__ = [
    "FOREVER",
    "OPEN",
    "LoanStateProjection",
    "StateRow",
    "contagious_borrowers",
    "moment_text",
    "segment_of",
    "summary_row",
]
