"""Close of day: the day's servicing (notices, legal recovery, grade changes) for the loans whose
next action date has come, graded with their borrowers; the gap since the last closed day is
closed first (`loanledger.application.close_gap`)."""

from __future__ import annotations

from collections import deque
from datetime import date, timedelta
from typing import Any

from loanledger.application.close_gap import close_through
from loanledger.application.dates import parse_as_of
from loanledger.application.grading import Grading
from loanledger.application.rates import reset_due_on
from loanledger.application.retries import MAX_COMMAND_ATTEMPTS
from loanledger.application.store import _command, _query
from loanledger.domain.errors import ConcurrencyError
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.projection.collector import collector_paused

CLOSE_DAY_LOANS_PER_PAUSE = 1_000
"""Loans close of day derives with the cyclic collector paused before it may run again."""


class CloseOfDay(Grading):
    """`close_day` and what it runs for each loan."""

    @_command
    def close_day(self, day: date | str) -> dict[str, Any]:
        """Run servicing for `day`, after every date since the last closed one that was not
        closed (in order, as `close-day --through` does; see
        `loanledger.application.close_gap`): a skipped business day would otherwise lose its
        notices for good. A gap of more than `MAX_CLOSE_DAY_GAP_DAYS` is refused, naming the last
        closed date. The result counts every date closed (`days_closed`)."""
        on = parse_as_of(day)
        now = self.clock()
        self.horizon(now).require_within(on, now, "close_day")
        return close_through(self, on, self.last_closed_day())

    def close_one_day(self, day: date | str) -> dict[str, Any]:
        """Run servicing for one business date: notices, legal recovery and grade changes.

        Only loans whose next action date has come, or that have events close of day has not
        seen, are looked at, so the cost follows the day's work, not the book's size. Closing a
        date twice records nothing new; closing a date that was closed before is harmless.
        """
        on = parse_as_of(day)
        self.projections.catch_up()
        rules = self._closing_rules[on] = self.book.rules(on)
        index = self.loan_index.sql(self.read_store)
        # On the day a new rule set comes into force every loan's grade may change.
        look_at = "all_loans" if rules is not self.book.rules(on - timedelta(days=1)) else "due"
        parameters = () if look_at == "all_loans" else (on.isoformat(),)
        queue = deque(row[0] for row in self.read_store.query(index[look_at], parameters))
        seen: set[str] = set()
        events_recorded = 0
        processed: list[tuple[int, str | None, str]] = []
        unsaved: dict[str, Loan] = {}
        while queue:
            # The collector is paused for a bounded number of loans at a time, as the engine
            # pauses it for a page (see loanledger.collector): each loan's derivation makes
            # objects freed by reference counting, and the collections they triggered cost a
            # third of closing a day (B3).
            with collector_paused():
                for _ in range(CLOSE_DAY_LOANS_PER_PAUSE):
                    if not queue:
                        break
                    loan_id = queue.popleft()
                    if loan_id in seen:
                        continue
                    seen.add(loan_id)
                    loan, next_on = self._close_loan_day(loan_id, on)
                    if loan.has_pending_events:
                        unsaved[loan_id] = loan
                    processed.append(
                        (loan.version, next_on.isoformat() if next_on else None, loan_id)
                    )
                    if loan.application is not None:
                        # Any change to one loan (its grade, or its balance after a repayment)
                        # can move the borrower's non-performing share across the contagion
                        # threshold, so the borrower's other loans are looked at the same day.
                        queue.extend(self._siblings(loan.application.borrower.id))
        events_recorded = sum(len(loan._pending) for loan in unsaved.values())
        try:
            # The day's records of every loan in one transaction.
            if unsaved:
                self.save(*unsaved.values())
        except ConcurrencyError:
            # A writer changed one of these loans meanwhile; nothing was stored: close each
            # loan again on its own, reloading it, with retries.
            processed = [row for row in processed if row[2] not in unsaved]
            events_recorded = 0
            for loan_id in unsaved:
                recorded, loan, next_on = self._close_loan_day_alone(loan_id, on)
                events_recorded += recorded
                processed.append((loan.version, next_on.isoformat() if next_on else None, loan_id))
        # One transaction for the day's index updates. A crash before it only means the loans
        # are looked at again next time, which records nothing twice (notice ids are the day's).
        with self.read_store.transaction() as txn:
            txn.executemany(index["processed"], processed)
            txn.execute(
                self._closed_days["insert"],
                (on.isoformat(), self.clock().isoformat(), len(seen), events_recorded),
            )
        # Each closed day leaves a tree head behind: it costs the events since the last one.
        self.transparency.checkpoint()
        self._closing_rules.pop(on, None)
        return {
            "on": on.isoformat(),
            "loans_processed": len(seen),
            "events_recorded": events_recorded,
        }

    def _close_loan_day(self, loan_id: str, on: date) -> tuple[Loan, date | None]:
        """The loan with the day's records pending (not yet stored), and its next action date."""
        loan = self._get(loan_id)
        _, next_on = self.close_loan_on(loan, on)
        return loan, next_on

    def close_loan_on(self, loan: Loan, on: date) -> tuple[list[DomainEvent], date | None]:
        """Record on `loan` (pending, not stored) the notices and grade changes `on` owes it,
        graded with the borrower's other loans under the rule set in force that day; return them
        and the next date it needs looking at (a what-if branch closes its copies this way)."""
        # A floating rate resets first: the day's grades see the new rate's figures.
        resets = reset_due_on(self, loan, on)  # type: ignore[arg-type]
        contagion = self._contagion(loan, on)
        rules = self._closing_rules.get(on) or self.book.rules(on)
        events, next_on = loan.close_day(on, self.recorded_at_for(loan), rules, contagion=contagion)
        ended = loan.closed is not None or loan.written_off is not None
        next_reset = None if ended else loan.next_reset_date(on)
        if next_reset is not None and (next_on is None or next_reset < next_on):
            next_on = next_reset
        return resets + events, next_on

    def _close_loan_day_alone(self, loan_id: str, on: date) -> tuple[int, Loan, date | None]:
        for attempt in range(1, MAX_COMMAND_ATTEMPTS + 1):
            loan = self._get(loan_id)
            events, next_on = self.close_loan_on(loan, on)
            try:
                if events:
                    self.save(loan)
            except ConcurrencyError:
                if attempt == MAX_COMMAND_ATTEMPTS:
                    raise
                continue
            return len(events), loan, next_on
        raise AssertionError("unreachable")  # pragma: no cover

    @_query
    def last_closed_day(self) -> date | None:
        rows = self.read_store.query(self._closed_days["last"])
        return date.fromisoformat(rows[0][0]) if rows and rows[0][0] else None
