"""Journal commands: `execute` (one command, re-run after a lost race), `load` (a journal, stored a
batch at a time) and `batch` (commands staged in memory, stored together)."""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Iterable
from os import PathLike
from typing import Any

from loanledger.application.book import BookCache
from loanledger.application.close_of_day import CloseOfDay
from loanledger.application.journal import numbered_lines, parse_line
from loanledger.application.retries import (
    MAX_COMMAND_ATTEMPTS,
    RETRY_BACKOFF_MAX_SECONDS,
    RETRY_BACKOFF_SECONDS,
)
from loanledger.application.store import _command
from loanledger.domain.book_commands import BookCommand, DefineCalendar
from loanledger.domain.commands import Apply, CloseDay, Command, parse_command
from loanledger.domain.errors import ConcurrencyError, DomainError, WrongStateError
from loanledger.domain.loan import Loan, Outcome
from loanledger.persistence.ids import loan_uuid


class Commands(CloseOfDay):
    """Recording journal commands on loans."""

    def record(self, *aggregates: Any) -> None:
        """Store the pending events of `aggregates` in one transaction (all or nothing)."""
        self.save(*aggregates)

    @_command
    def execute(self, command: dict[str, Any]) -> dict[str, Any]:
        """Apply one journal command (DESIGN §6); return a JSON-ready result.

        A refused command raises a `DomainError` subclass and records nothing. Losing an
        optimistic-concurrency race to another writer of the same loan re-runs the command on the
        reloaded loan, up to `MAX_COMMAND_ATTEMPTS` times, then raises `ConcurrencyError`.
        """
        parsed = parse_command(command)
        if isinstance(parsed, CloseDay):
            return {"command": "close_day", **self.close_day(parsed.on)}
        if isinstance(parsed, BookCommand):
            return self.book.execute(parsed)
        for attempt in range(1, MAX_COMMAND_ATTEMPTS + 1):
            try:
                return self._execute_once(parsed)
            except ConcurrencyError:
                if attempt == MAX_COMMAND_ATTEMPTS:
                    raise
                ceiling = min(RETRY_BACKOFF_MAX_SECONDS, RETRY_BACKOFF_SECONDS * 2**attempt)
                time.sleep(random.uniform(0, ceiling))
        raise AssertionError("unreachable")  # pragma: no cover

    @_command
    def load(
        self,
        source: str | PathLike[str] | Iterable[str],
        workers: int = 1,
        scheduler: str | None = None,
    ) -> dict[str, Any]:
        """Apply journal lines in order (a path, or an iterable of lines).

        With `workers` > 1 or a Dask `scheduler` address, each stretch of lines between close
        of day and book commands is split by loan and checked and applied by Dask workers, and
        the events are stored in bulk, with the same semantics
        (`application/partitioned_load.py`).

        Each line is all-or-nothing; lines before a refused one stay applied, and the refusal's
        message starts with `line N:` (1-based, blank lines counted).

        Lines are applied to loans held in memory and stored a batch at a time (up to
        `LOAD_BATCH_EVENTS` events in one transaction, and always before a `close_day` line or a
        refusal), which is what makes a bulk import fast. The loans stored are kept for the next
        lines (see `_LoadBatch`). If another writer changed one of the batch's loans meanwhile,
        nothing of the batch was stored, and its lines are applied again one by one through
        `execute`, with its retries; and a line refused on the batch's copy of its loan is run
        once more on the stored loan before the refusal stops the load.
        """
        if workers != 1 or scheduler is not None:
            from loanledger.application.partitioned_load import load_partitioned

            return load_partitioned(self, source, workers, scheduler)  # type: ignore[arg-type]
        batch = _LoadBatch(for_load=True)
        applied = 0
        for number, line in numbered_lines(source):
            try:
                data = parse_line(line)
                parsed = parse_command(data)
            except DomainError as error:
                self._flush(batch)
                raise type(error)(f"line {number}: {error}") from error
            if isinstance(parsed, BookCommand):
                self._flush(batch)  # book facts are recorded in journal order
                batch.book_cache.clear()
                # A published index rate may record resets on loans: the copies would lag.
                batch.forget_stored()
                try:
                    self.book.execute(parsed)
                except DomainError as error:
                    raise type(error)(f"line {number}: {error}") from error
                if isinstance(parsed, DefineCalendar):
                    batch.forget_stored()  # it recorded a fact on every loan on the calendar
            elif isinstance(parsed, CloseDay):
                self._flush(batch)  # a line it replays that is refused raises with its number
                batch.forget_stored()  # closing the day records on loans: the copies would lag
                try:
                    self.close_day(parsed.on)
                except DomainError as error:
                    raise type(error)(f"line {number}: {error}") from error
            else:
                try:
                    self._stage(parsed, batch)
                except DomainError:
                    # The refusal was decided on the batch's copy of the loan. Store the lines
                    # before it, then run the line once more on the loan read from the store:
                    # the copy may lag behind another writer, and only the store's answer stops
                    # the load (without another writer it is the same refusal).
                    self._flush(batch)
                    batch.forget_stored()
                    try:
                        self.execute(data)
                    except DomainError as error:
                        raise type(error)(f"line {number}: {error}") from error
                else:
                    batch.lines.append((number, data))
            applied += 1
            if batch.events >= LOAD_BATCH_EVENTS:
                self._flush(batch)
        self._flush(batch)
        return {"applied": applied}

    def batch(self) -> CommandBatch:
        """Journal commands applied to loans held in memory and stored together.

        `batch.execute(command)` checks and applies a command at once (a refusal raises and
        leaves nothing of that command), but stores nothing until `batch.flush()` (or leaving
        `with ledger.batch() as batch:`): one transaction instead of one per command, as `load`
        does. Queries read the store, so flush before asking about a loan the batch changed.
        `close_day` commands flush first and run at once.
        """
        return CommandBatch(self)

    def _stage(self, command: Command, batch: _LoadBatch) -> None:
        """Run a command on the batch's copy of its loan; a refusal leaves that copy as it was."""
        aggregate_id = loan_uuid(command.loan_id)
        loan = batch.loan(command.loan_id)
        if isinstance(command, Apply):
            if loan is not None or (not batch.for_load and aggregate_id in self.repository):
                raise WrongStateError(f"loan {command.loan_id} has applied already")
            now = self.clock()
            horizon = self.horizon(now, cache=batch.book_cache)
            horizon.require_within(command.on, now, command.command)
            product = self.book.product_for(command, None, cache=batch.book_cache)
            batch.loans[command.loan_id] = Loan.open_application(
                aggregate_id, command, now, product
            )
            batch.events += 1
            return
        if loan is None:
            loan = batch.loans[command.loan_id] = self._get(command.loan_id)
        self.book.check(command, loan, cache=batch.book_cache)
        checkpoint = loan.checkpoint()
        recorded_at = self.recorded_at_for(loan)
        try:
            horizon = self.horizon(recorded_at, cache=batch.book_cache)
            horizon.require_within(command.on, recorded_at, command.command)
            product = self.book.product_for(command, loan, cache=batch.book_cache)
            loan.handle(command, recorded_at, product=product)
        except DomainError:
            batch.loans[command.loan_id] = loan.rewound(checkpoint)
            raise
        batch.events += loan.version - checkpoint[0]

    def _flush(self, batch: _LoadBatch) -> None:
        loans = [loan for loan in batch.loans.values() if loan.has_pending_events]
        try:
            if loans:
                self.save(*loans)
        except ConcurrencyError:
            batch.forget_stored()
            for number, data in batch.lines:
                try:
                    self.execute(data)
                except DomainError as error:
                    batch.clear()
                    raise type(error)(f"line {number}: {error}") from error
            batch.clear()
            return
        batch.stored()

    def _execute_once(self, command: Command) -> dict[str, Any]:
        aggregate_id = loan_uuid(command.loan_id)
        if isinstance(command, Apply):
            if aggregate_id in self.repository:
                raise WrongStateError(f"loan {command.loan_id} has applied already")
            now = self.clock()
            self.horizon(now).require_within(command.on, now, command.command)
            loan = Loan.open_application(
                aggregate_id, command, now, self.book.product_for(command, None)
            )
            self.save(loan)
            return self._result(command, loan, Outcome(tuple(), {}))
        loan = self._get(command.loan_id)
        book: BookCache = {}  # the policy and staff streams read once for this command
        self.book.check(command, loan, cache=book)
        recorded_at = self.recorded_at_for(loan)
        horizon = self.horizon(recorded_at, cache=book)
        horizon.require_within(command.on, recorded_at, command.command)
        product = self.book.product_for(command, loan, cache=book)
        outcome = loan.handle(command, recorded_at, product=product)
        if loan.has_pending_events:
            self.save(loan)
        return self._result(command, loan, outcome)

    def _result(self, command: Command, loan: Loan, outcome: Outcome) -> dict[str, Any]:
        return {
            "command": command.command,
            "loan_id": command.loan_id,
            "version": loan.version,
            **outcome.result,
        }


LOAD_BATCH_EVENTS = 2000
"""Events `load` stores in one transaction at most (bounds memory and the size of a retry)."""


LOAD_KEPT_LOANS = 65_536
LOAD_KEPT_EVENTS = 262_144
"""Loans a load keeps in memory after storing them (the most recently used), at most this many
loans and this many of their events. A journal interleaves its loans' lines by date, so a bound
below its number of loans drops every loan before its next line: with 4,096 loans kept, a
5,000-loan journal loaded at half the events/s of a 1,000-loan one, each repayment reading its
loan again and walking its money from the first fact. The events bound is the rebuild's
(`projection.kept_loans.EVENTS_KEPT`): what a decoded event and its share of the loan weigh."""


class _LoadBatch:
    """Loans changed by journal lines not yet stored, and those lines (for a replay).

    A batch of `load` (`for_load`) does two things more, both safe because a load confirms with
    the store whatever the batch's copies decided:

    * After a successful flush it keeps the loans it stored (bounded, most recently used): they
      are what the store holds unless another writer wrote to them since, so the next lines for
      them continue on these copies instead of reading and replaying the loan again. A copy that
      lags behind another writer is never stored from: its new events take versions the other
      writer took, so storing the batch conflicts and its lines are run again one by one on the
      store's loans (`_flush`); and a line refused on a copy is run once more on the store's loan
      before the refusal counts (`load`). Closing a day records on loans: it drops the copies.
    * An `apply` of a loan the batch does not hold is not checked against the store (one read
      per new loan): an `apply` of a loan already stored conflicts when the batch is stored (its
      version 1 is taken), and the line-by-line replay then refuses it with its line number.

    A command batch (`LoanLedger.batch`) promises each refusal at once from `execute`, so it
    checks an `apply` against the store and reads loans afresh after each flush, as before.
    """

    def __init__(self, *, for_load: bool = False) -> None:
        self.loans: dict[str, Loan] = {}
        self.lines: list[tuple[int, dict[str, Any]]] = []
        self.events = 0
        self.for_load = for_load
        self._kept: OrderedDict[str, Loan] = OrderedDict()
        self._kept_events = 0
        """Events of the loans in `_kept` (each loan's version when it was kept)."""
        self.book_cache: BookCache = {}
        """The policy and staff register as read for this batch's lines (see `book.check`);
        emptied whenever the batch records a book command."""

    def loan(self, loan_id: str) -> Loan | None:
        """The batch's copy of the loan: changed by this batch, or kept from an earlier one."""
        loan = self.loans.get(loan_id)
        if loan is None:
            loan = self._kept.pop(loan_id, None)
            if loan is not None:
                self._kept_events -= loan.version
                self.loans[loan_id] = loan
        return loan

    def stored(self) -> None:
        """The batch's loans were stored: keep them for the next lines (`for_load`), and start
        afresh."""
        for loan_id, loan in self.loans.items() if self.for_load else ():
            if not loan.has_pending_events:
                replaced = self._kept.pop(loan_id, None)
                if replaced is not None:
                    self._kept_events -= replaced.version
                self._kept[loan_id] = loan
                self._kept_events += loan.version
        while self._kept and (
            len(self._kept) > LOAD_KEPT_LOANS or self._kept_events > LOAD_KEPT_EVENTS
        ):
            _, dropped = self._kept.popitem(last=False)
            self._kept_events -= dropped.version
        self.clear()

    def kept(self) -> tuple[int, int]:
        """How many loans are kept, and their events."""
        return len(self._kept), self._kept_events

    def forget_stored(self) -> None:
        """Drop the kept copies (the store's loans may have moved on)."""
        self._kept.clear()
        self._kept_events = 0

    def clear(self) -> None:
        self.loans.clear()
        self.lines.clear()
        self.events = 0


class CommandBatch:
    """Commands staged on loans in memory, stored by `flush`; see `LoanLedger.batch`."""

    def __init__(self, ledger: Commands) -> None:
        self._ledger = ledger
        self._batch = _LoadBatch()
        self._staged = 0

    def __enter__(self) -> CommandBatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.flush()

    @_command
    def execute(self, command: dict[str, Any]) -> dict[str, Any] | None:
        """Check and apply one journal command to the batch's copy of its loan (None), or flush
        and close the day (its result)."""
        parsed = parse_command(command)
        if isinstance(parsed, CloseDay):
            self.flush()
            return {"command": "close_day", **self._ledger.close_day(parsed.on)}
        if isinstance(parsed, BookCommand):
            self.flush()
            self._batch.book_cache.clear()
            self._batch.forget_stored()  # a published index rate may record on loans
            return self._ledger.book.execute(parsed)
        self._ledger._stage(parsed, self._batch)
        self._staged += 1
        self._batch.lines.append((self._staged, command))
        if self._batch.events >= LOAD_BATCH_EVENTS:
            self.flush()
        return None

    @_command
    def flush(self) -> None:
        """Store every staged command's events in one transaction (if another writer changed
        one of these loans meanwhile, the commands are run again one by one, with retries)."""
        self._ledger._flush(self._batch)
