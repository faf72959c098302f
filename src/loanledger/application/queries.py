"""Reading the book: the loan view, schedules, reports (from the `loan_state` read model where it
covers the date, else by replaying loans), reconciliation, report rows and the projections'
status."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from loanledger.application.dates import parse_as_of, parse_known_at
from loanledger.application.grading import Grading
from loanledger.application.off_balance import balance_sheet_figures, fee_receivable_of
from loanledger.application.risk import RISK_REPORTS, RiskReports, StateSource, with_allowance
from loanledger.application.store import _query
from loanledger.domain.errors import LoanNotFoundError, UnknownReportError, WrongStateError
from loanledger.domain.loan import Loan
from loanledger.domain.rules import RuleSet
from loanledger.persistence.read_store import Row
from loanledger.projection.collector import collector_paused
from loanledger.projection.follow import ListenWaker, Waker
from loanledger.projection.loan_state import moment_text, row_at, summary_view
from loanledger.reports import ledger as ledger_reports
from loanledger.reports import portfolio, regulator
from loanledger.reports.floating import rate_view
from loanledger.reports.portfolio import LoanRow
from loanledger.reports.views import loan_row, loan_view, schedule_rows

SUMMARY_REPORTS = frozenset({"five_category", "aging", "ifrs9_stages", "loan_ledger"})
"""Reports built from each loan's view and terms alone (not its notices or worklist)."""

REPORTS: dict[str, Callable[[Iterable[LoanRow]], list[dict[str, Any]]]] = {
    "loan_ledger": portfolio.loan_ledger,
    "five_category": portfolio.five_category,
    "aging": portfolio.aging,
    "ifrs9_stages": portfolio.ifrs9_stages,
    "notices": portfolio.notices,
    "worklist": portfolio.worklist,
    "loan_level": regulator.loan_level,
}

STATE_SUMMARIES = SUMMARY_REPORTS - {"loan_ledger"}
"""Summaries served by the bitemporal `loan_state` read model (with `loan_ledger`)."""

AS_KNOWN_NOW = {"summary_at": "summary_now", "rows_at": "rows_now", "grades_at": "grades_now"}
"""The `loan_state` queries as known now, for each query as known at a moment."""


class Queries(Grading):
    """What the ledger answers about loans and the book."""

    @_query
    def loan(
        self, loan_id: str, as_of: date | str, known_at: datetime | str | None = None
    ) -> dict[str, Any]:
        """The §8 `loan` fields on `as_of` (end of that day), from the facts known at `known_at`."""
        day = parse_as_of(as_of)
        moment = parse_known_at(known_at)
        recorded = self._get(loan_id)
        loan = recorded.as_known_at(moment)
        if not loan.exists_on(day):
            if moment is not None and recorded.exists_on(day):
                raise LoanNotFoundError(
                    f"loan {loan_id} was not yet recorded at known_at {moment.isoformat()}"
                )
            raise LoanNotFoundError(f"loan {loan_id} has no application on or before {day}")
        return self.view_of(loan, day, moment)

    @_query
    def earliest_effective_date(self) -> date | None:
        self.projections.catch_up()
        index = self.loan_index.sql(self.read_store)
        rows = self.read_store.query(index["earliest_applied"])
        return date.fromisoformat(rows[0][0]) if rows and rows[0][0] else None

    @_query
    def report(
        self,
        name: str,
        as_of: date | str,
        known_at: datetime | str | None = None,
        *,
        since: date | str | None = None,
        stale_ok: bool = False,
    ) -> list[dict[str, Any]]:
        """A §8 report as of `as_of` (end of day), from the facts known at `known_at`.

        `journal` lists general-ledger lines dated from `since` (default: all) to `as_of`.
        `stale_ok=True` skips catching the projections up first: the report may then miss events
        recorded since their last catch-up (cheap while `follow_projections` runs).
        """
        if stale_ok:
            with self.projections.stale_reads():
                return self.report(name, as_of, known_at, since=since)
        # Caught up first, with the collector as it is (the engine pauses it a page at a time),
        # then built with it paused: a report makes objects per loan of the book, freed by
        # reference counting, that its full passes would walk again and again (see
        # loanledger.collector; B5: `loan_ledger` of 100,000 loans 2.6-4.2 s -> 1.9 s).
        day, moment = parse_as_of(as_of), parse_known_at(known_at)
        if since is not None:
            since = parse_as_of(since, name="since")
        self.projections.catch_up()
        with collector_paused():
            return self._report(name, day, moment, since)

    def _report(
        self, name: str, day: date, moment: datetime | None, since: date | None
    ) -> list[dict[str, Any]]:
        if name == "trial_balance":
            return ledger_reports.trial_balance(self._loan_postings(day, moment))
        if name == "journal":
            return ledger_reports.journal(self._loan_postings(day, moment), since)
        if name in RISK_REPORTS:
            return RiskReports(StateSource(self), moment).report(name, day)
        builder = REPORTS.get(name)
        if builder is None:
            known = ", ".join(self.report_names())
            raise UnknownReportError(f"unknown report {name!r}; reports: {known}")
        if name == "loan_ledger":
            return self._loan_ledger_from_state(day, moment)
        if name == "notices":
            return self.notices.report(self.read_store, day, moment)
        if name in STATE_SUMMARIES:
            return self._summary_from_state(name, day, moment)
        if name == "loan_level":
            return regulator.loan_level(
                self._loan_rows(day, moment), allowances=self.loan_allowances(day, moment)
            )
        return builder(self._loan_rows(day, moment))

    def loan_allowances(self, day: date, known_at: datetime | None) -> dict[str, Decimal]:
        """Each portfolio loan's loan-loss allowance on `day` (`application.risk`)."""
        return RiskReports(StateSource(self), known_at).allowances(day)

    def _state_query(
        self, key: str, day: date, known_at: datetime | None
    ) -> tuple[list[Row], set[str]]:
        """The `loan_state` rows of every loan covered on (`day`, `known_at`), and the borrowers
        of loans the read model does not cover there (a date beyond the business horizon, or a
        moment before the loan's latest facts were carried that far): those borrowers' loans
        are replayed, all of them, since a borrower's loans are graded together."""
        self.projections.catch_up()
        sql = self.loan_state.sql(self.read_store)
        moment = moment_text(known_at)
        on = day.isoformat()
        if self.book.rules(day, known_at) is not self.rules:
            # The read model holds rows under the ledger's default rule set; a book that adopted
            # another one for this date (as known then) is answered by replaying every loan.
            expected = self.read_store.query(sql["known_loans"], (on, moment))
            return [], {borrower for _, borrower in expected}
        if known_at is None:
            # As known now: the current segments, read from their own index (see the SQL).
            rows = self.read_store.query(sql[AS_KNOWN_NOW[key]], (on, on))
        else:
            rows = self.read_store.query(sql[key], (on, on, moment, moment))
        covered = {row[0] for row in rows}
        if self.read_store.query(sql["known_loans_count"], (on, moment))[0][0] == len(covered):
            return rows, set()  # every known loan is covered (see the query)
        expected = self.read_store.query(sql["known_loans"], (on, moment))
        replayed = {borrower for loan_id, borrower in expected if loan_id not in covered}
        return [row for row in rows if row[1] not in replayed], replayed

    def _replayed_rows(
        self, borrowers: set[str], day: date, known_at: datetime | None
    ) -> Iterator[LoanRow]:
        rules = self.book.rules(day, known_at)
        for borrower in sorted(borrowers):
            for loan_id in self._borrower_loans(borrower):
                loan = self._get(loan_id).as_known_at(known_at)
                row = self._row_of(loan, day, known_at, rules=rules)
                if row is not None:
                    yield row

    def _summary_from_state(
        self, name: str, day: date, known_at: datetime | None
    ) -> list[dict[str, Any]]:
        """A portfolio summary from the read model's rows (lean views of the fields it reads)
        and the replayed loans' views, through the same builder as a replay's rows."""
        stored, replayed = self._state_query("summary_at", day, known_at)
        spread = self._contagious(stored)
        views = [summary_view(row, contagion=row[1] in spread) for row in stored]
        views += [row.view for row in self._replayed_rows(replayed, day, known_at)]
        return portfolio.summary(name, views)

    def _loan_ledger_from_state(self, day: date, known_at: datetime | None) -> list[dict[str, Any]]:
        stored, replayed = self._state_query("rows_at", day, known_at)
        spread = self._contagious(stored)
        result = [row_at(item, day, self.rules, contagion=item[1] in spread) for item in stored]
        result += portfolio.loan_ledger(self._replayed_rows(replayed, day, known_at))
        return sorted(result, key=lambda row: row["loan_id"])

    def _loan_postings(
        self, on: date, known_at: datetime | None
    ) -> Iterator[ledger_reports.LoanPostings]:
        """Each loan's general-ledger entries through `on`: its money walk's, then its
        allowance's (`application.risk`)."""
        risk = RiskReports(StateSource(self), known_at)
        targets = risk.allowance_targets(on)
        return with_allowance(risk, targets, self._money_postings(on, known_at))

    def _money_postings(
        self, on: date, known_at: datetime | None
    ) -> Iterator[ledger_reports.LoanPostings]:
        for loan in self._loans(known_at):
            if loan.exists_on(on):
                yield loan.loan_id, loan.postings(on, self.rules)

    @_query
    def reconcile(self, as_of: date | str) -> list[str]:
        """Differences between each loan's subledger and its own figures (empty when tied)."""
        day = parse_as_of(as_of)
        problems: list[str] = []
        for loan in self._loans(None):
            if not loan.exists_on(day) or loan.approval is None:
                continue
            view = loan_view(loan, day, self.rules)
            problems += ledger_reports.subledger_differences(
                loan.loan_id,
                loan.postings(day, self.rules),
                view,
                written_off=loan.written_off is not None and loan.written_off.effective_date <= day,
            )
        return problems

    @_query
    def loan_rows(
        self, as_of: date | str, known_at: datetime | str | None = None, *, details: bool = True
    ) -> Iterator[LoanRow]:
        """Each loan's report row on `as_of` (one loan at a time), for builders of one's own;
        without `details` the rows' notices and worklist are left empty (enough for the
        `SUMMARY_REPORTS`, and cheaper)."""
        return self._loan_rows(parse_as_of(as_of), parse_known_at(known_at), details=details)

    def _loan_rows(
        self, on: date, known_at: datetime | None, *, details: bool = True
    ) -> Iterator[LoanRow]:
        """Each loan that exists on `on`, one at a time (the book is never all in memory)."""
        rules = self.book.rules(on, known_at)
        for loan in self._loans(known_at):
            row = self._row_of(loan, on, known_at, details=details, rules=rules)
            if row is not None:
                yield row

    def _row_of(
        self,
        loan: Loan,
        on: date,
        known_at: datetime | None,
        *,
        details: bool = False,
        rules: RuleSet | None = None,
    ) -> LoanRow | None:
        """The loan's report row on `on`, graded with its borrower (None: not applied yet)."""
        if not loan.exists_on(on):
            return None
        contagion = self._contagion(loan, on, known_at)
        if rules is None:
            rules = self.book.rules(on, known_at)
        return loan_row(loan, on, rules, contagion=contagion, details=details)

    @_query
    def rebuild(
        self,
        workers: int = 1,
        scheduler: str | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Drop every projection and rebuild it from the events; drop the loans' snapshots.
        With `workers` > 1 or a Dask `scheduler` address, the loans are split into `workers`
        partitions rebuilt in parallel on Dask, to the same rows (`application/partitioned.py`);
        `progress(events, total)` is called as they go."""
        from loanledger.application.partitioned import check_workers, rebuild_partitioned

        check_workers(workers, self.settings.kind)
        if workers == 1 and scheduler is None:
            self.loan_snapshots.clear()
            self.projections.rebuild()
            return
        rebuild_partitioned(self, workers, scheduler, progress)  # type: ignore[arg-type]

    def follow_projections(
        self,
        stop: threading.Event,
        poll_seconds: float = 1.0,
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Keep the projections caught up until `stop` is set (blocks: run it on a thread);
        return how many events were projected. Wakes on PostgreSQL's NOTIFY after each write and
        polls every `poll_seconds` on every store, so a lost NOTIFY never stalls it; failures are
        logged, not raised (`loanledger.projection.follow`). Stop it before `close()`."""
        return self.projections.follow(
            stop, poll_seconds=poll_seconds, wake=self.projection_waker(), on_batch=on_batch
        )

    def projection_waker(self) -> Waker | None:
        """What tells a follower events were recorded: on PostgreSQL a listener (not connected
        yet) on the channel the event store NOTIFYs inside each insert; None elsewhere (poll)."""
        if self.settings.kind != "postgresql":
            return None
        from eventsourcing.postgres import PostgresApplicationRecorder

        assert isinstance(self.recorder, PostgresApplicationRecorder)
        return ListenWaker(self.settings.postgres_connection(), self.recorder.channel_name)

    @_query
    def projection_status(self) -> list[dict[str, Any]]:
        """Each read model's projection: `position` (last event applied), `lag` (events
        behind the latest) and `stuck` (None, or the event it cannot apply: `position`,
        `loan_id`, `version`, `error`). Catches up first. See `projection/stuck.py`."""
        self.projections.catch_up()
        return self.projections.status()

    @_query
    def schedule(self, loan_id: str, as_of: date | str | None = None) -> list[dict[str, Any]]:
        """The §8 schedule rows in force on `as_of` (None: after every recorded fact)."""
        loan = self._get(loan_id)
        if loan.approval is None:
            raise WrongStateError(f"loan {loan_id} has no schedule before approval")
        if as_of is None:
            day = max(event.effective_date for event in loan.history)
        else:
            day = parse_as_of(as_of)
        return schedule_rows(loan, day)

    def view_of(self, loan: Loan, on: date, known_at: datetime | None = None) -> dict[str, Any]:
        """The §8 `loan` fields of `loan` (as known at `known_at`) on `on`, graded with the
        borrower's other loans, with where its claim stands (on or off the balance sheet)."""
        self.projections.catch_up()
        rules = self.book.rules(on, known_at)
        view = loan_view(loan, on, rules, contagion=self._contagion(loan, on, known_at))
        rate = rate_view(loan, on, rules)
        fees = Decimal(0)
        if view["fees_outstanding"] != "0.00":  # only a loan owing fees replays its postings
            fees = fee_receivable_of(loan.postings(on, rules))
        sheet = balance_sheet_figures(view, fees)
        return {**view, **sheet, **({"rate": rate} if rate else {})}

    def catch_up(self) -> None:
        """Bring the read models up to the stored events (a borrower's loans, which grade each
        other, are found in the loan index)."""
        self.projections.catch_up()

    def report_row(self, loan: Loan, on: date, known_at: datetime | None) -> LoanRow | None:
        return self._row_of(loan, on, known_at, details=True)

    def report_builder(
        self, name: str
    ) -> Callable[[Iterable[LoanRow]], list[dict[str, Any]]] | None:
        return REPORTS.get(name)

    def report_names(self) -> list[str]:
        return sorted([*REPORTS, *RISK_REPORTS, "trial_balance", "journal"])
