"""`LoanLedger`: the eventsourcing Application that records loans and answers questions.

The application is the only place that reads the clock and talks to storage: it turns journal
commands into calls on the pure `Loan` aggregate, seals each batch of new events into the per-loan
hash chain, and maps an optimistic-concurrency conflict to `ConcurrencyError`.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import random
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from os import PathLike
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    MapperDeserialisationError,
    Notification,
    OperationalError,
    PersistenceError,
    Recording,
    StoredEvent,
)
from eventsourcing.utils import Environment, EnvType

from loanledger.book import BookCache, BookRegister
from loanledger.close_gap import close_through
from loanledger.collector import collector_paused
from loanledger.domain.book_commands import BookCommand
from loanledger.domain.commands import Apply, CloseDay, Command, parse_command
from loanledger.domain.errors import (
    ConcurrencyError,
    CorruptHistoryError,
    DomainError,
    InvalidDateError,
    LoanLedgerError,
    LoanNotFoundError,
    StoreUnavailableError,
    UnknownBorrowerError,
    UnknownGuarantorError,
    UnknownReportError,
    WrongStateError,
)
from loanledger.domain.event import DomainEvent
from loanledger.domain.horizon import FutureHorizon, horizon_from_env
from loanledger.domain.loan import Loan, Outcome
from loanledger.domain.payoff import payoff as payoff_quote
from loanledger.domain.rules import CLASSIFICATIONS, CN_2023, RuleSet
from loanledger.domain.text import check_lookup
from loanledger.journal import numbered_lines, parse_line
from loanledger.off_balance import balance_sheet_figures
from loanledger.persistence.book_audit import verify_book
from loanledger.persistence.chain import (
    GENESIS_LINK,
    ChainHeads,
    MalformedSealError,
    compute_link,
    seal,
    unseal,
)
from loanledger.persistence.failures import (
    is_driver_error,
    is_transient,
    store_data_error,
)
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.keys import DataKeys, Keyring, MasterKey, load_keyring
from loanledger.persistence.mapper import LedgerMapper
from loanledger.persistence.pages import page_reader
from loanledger.persistence.personal_data import subject_of, subjects_of
from loanledger.persistence.snapshots import Snapshots
from loanledger.persistence.transparency import TransparencyLog, inclusion_status
from loanledger.persistence.urls import StoreSettings, parse_store_url, resolve_store_url
from loanledger.persistence.verify import VerifyResult, read_notifications, verify_chains
from loanledger.projection.engine import ProjectionEngine
from loanledger.projection.follow import ListenWaker, Waker
from loanledger.projection.loan_index import LoanIndexProjection
from loanledger.projection.loan_state import (
    LoanStateProjection,
    StateRow,
    contagious_borrowers,
    moment_text,
    row_at,
    summary_view,
)
from loanledger.projection.notices import NoticesProjection
from loanledger.projection.sql import statements
from loanledger.projection.store import Row, open_read_store
from loanledger.reports import ledger as ledger_reports
from loanledger.reports import portfolio, regulator
from loanledger.reports.archive import StoredFact, build_archive, render_html
from loanledger.reports.explain import explain
from loanledger.reports.installments import installment_rows
from loanledger.reports.portfolio import LoanRow
from loanledger.reports.statement import build_statement
from loanledger.views import loan_row, loan_view, schedule_rows
from loanledger.whatif import Branch, preview

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
CLOSE_DAY_LOANS_PER_PAUSE = 1_000
"""Loans close of day derives with the cyclic collector paused before it may run again."""
AS_KNOWN_NOW = {"summary_at": "summary_now", "rows_at": "rows_now"}
"""The `loan_state` queries as known now, for each query as known at a moment."""
"""Summaries served by the bitemporal `loan_state` read model (with `loan_ledger`)."""

Clock = Callable[[], datetime]

audit_log = logging.getLogger("loanledger.audit")
"""Where every use of personal data worth an auditor's attention is logged (WARNING), besides
the store's `loanledger_personal_data_log` table."""

MAX_COMMAND_ATTEMPTS = 25
"""How often `execute` re-runs a command after losing an optimistic-concurrency race."""

RETRY_BACKOFF_SECONDS = 0.002
RETRY_BACKOFF_MAX_SECONDS = 0.05
"""Jittered exponential backoff between attempts, so that racing writers spread out."""


def system_clock() -> datetime:
    """The recorded time of a new fact: now, in UTC."""
    return datetime.now(UTC)


_P = ParamSpec("_P")
_R = TypeVar("_R")

UNKNOWN_OUTCOME = "the command may or may not have been recorded: send it again"
"""What a failed command says: re-sending is safe (a recorded step is then refused, or, for a
repayment or disbursement, its reference makes it a no-op)."""


def _guarded(outcome: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """A decorator: a connection failure inside the method surfaces as `StoreUnavailableError`
    ending with `outcome` (what the caller may assume and do), never as a driver error."""

    def decorate(method: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(method)
        def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(*args, **kwargs)
            except LoanLedgerError:
                raise
            except Exception as error:
                if is_transient(error):
                    raise StoreUnavailableError(
                        f"the store is unavailable ({error}); {outcome}"
                    ) from error
                if is_driver_error(error):
                    raise store_data_error(error, outcome) from error
                raise

        return guarded

    return decorate


_command = _guarded(UNKNOWN_OUTCOME)
"""For commands: the outcome is unknown and re-sending is safe."""

_query = _guarded("nothing was changed: ask again")
"""For reads: nothing changed."""


def _without_hidden_retries(recorder: object) -> None:
    """Call the recorder's own methods once, not through eventsourcing's retry decorator.

    eventsourcing's PostgreSQL recorder retries each call on a connection error, 10 times 0.2 s
    apart, and every attempt may wait the whole pool timeout for a connection: with the server
    down, one command hung 52 s (measured, connect_timeout 10) before a bare `OperationalError`.
    And re-running an insert whose commit was made but not acknowledged hits the stored version,
    which `execute` takes for a lost race: the client would hear "applied already" (a refusal)
    for its own recorded `apply`, not that the outcome was unknown. The ledger decides itself:
    one attempt, then `StoreUnavailableError` (outcome unknown, re-send). Connections a restart
    killed are not retried on but replaced: the pool checks each one it hands out and drains
    itself at the first dead one (`POSTGRES_PRE_PING`, `persistence.pool.survive_restarts`).
    """
    for name, member in inspect.getmembers(type(recorder), inspect.isfunction):
        once = getattr(member, "__wrapped__", None)
        if once is not None and member.__code__.co_name == "retry_decorator":
            setattr(recorder, name, once.__get__(recorder))


class LoanLedger(Application[UUID]):
    """An event-sourced loan ledger on one store (memory, SQLite or PostgreSQL)."""

    name = "LoanLedger"

    def __init__(
        self,
        settings: StoreSettings,
        *,
        clock: Clock = system_clock,
        keyring: Keyring | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._heads = ChainHeads()
        self._loan_events = LoanEvents()
        self._borrowers: tuple[int, int, dict[str, tuple[str, ...]]] | None = None
        """(projection position, loans in the index, borrower -> loan ids)."""
        # The mapper seals personal data with these keys, so they exist before the mapper does;
        # their table lives in the read store, attached once that is open.
        self.data_keys = DataKeys(keyring, clock, settings.redacted_url)
        super().__init__(env=dict(settings.env))
        if settings.kind == "postgresql":
            from loanledger.persistence.pool import survive_restarts

            _without_hidden_retries(self.recorder)
            survive_restarts(
                self.recorder.datastore.pool,  # type: ignore[attr-defined]
                reconnect_timeout=float(settings.env["POSTGRES_CONNECT_TIMEOUT"]),
            )
        self.rules = CN_2023
        self.default_horizon = horizon_from_env(os.environ)
        """How far ahead of its recording a fact may be dated unless the book's policy says
        otherwise (`loanledger.domain.horizon`; `set_policy` future_horizon_days, time_zone)."""
        self.book = BookRegister(self)
        """Policy (the rule set in force) and staff register: see `loanledger.book`."""
        self._closing_rules: dict[date, RuleSet] = {}
        """The rule set of each date being closed, read once per close of day."""
        self.create_tables = settings.env.get("CREATE_TABLE", "y") != "n"
        self.read_store = open_read_store(settings)
        self.data_keys.attach(self.read_store, create_tables=self.create_tables)
        self.loan_index = LoanIndexProjection()
        self.loan_state = LoanStateProjection(
            lambda loan_id: self._get(loan_id, remember=False), self.rules
        )
        self.notices = NoticesProjection()
        self.projections = ProjectionEngine(
            self.read_store,
            [self.loan_index, self.loan_state, self.notices],
            select=page_reader(self.recorder),
            decode=self._decode,
            create_tables=self.create_tables,
            head=lambda: self.recorder.max_notification_id() or 0,
        )
        self.loan_snapshots = Snapshots(
            self.read_store,
            self.recorder.select_events,
            self.mapper.to_domain_event,
            self.data_keys,
            clock,
            create_tables=self.create_tables,
        )
        self._closed_days = statements("closed_days", self.read_store.dialect)
        if self.create_tables:
            with self.read_store.transaction() as txn:
                txn.execute(self._closed_days["create"])
        self.transparency = TransparencyLog(
            self.read_store,
            page_reader(self.recorder),
            clock,
            signing_key=os.environ.get("LOANLEDGER_SIGNING_KEY"),
            create_tables=self.create_tables,
        )

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        clock: Clock = system_clock,
        master_key: str | bytes | None = None,
        previous_master_key: str | bytes | None = None,
    ) -> LoanLedger:
        """Open the ledger at `url` (else env `LOANLEDGER_DB`, else `sqlite:///loanledger.db`).

        `master_key` (else env `LOANLEDGER_MASTER_KEY`) wraps the data keys that encrypt
        personal data; `previous_master_key` (else env `LOANLEDGER_PREVIOUS_MASTER_KEY`) only
        unwraps, during a rotation. A `memory://` store without one uses a random key for this
        process; a SQLite or PostgreSQL store without one opens, but refuses with
        `MasterKeyMissingError` the first time personal data must be written or read
        (`verify()` never needs it). A malformed key raises `InvalidMasterKeyError` here.
        """
        settings = parse_store_url(resolve_store_url(url))
        keyring = load_keyring(
            master_key, previous_master_key, os.environ, ephemeral=settings.kind == "memory"
        )
        try:
            if settings.kind != "postgresql" or settings.env.get("CREATE_TABLE") == "n":
                # Table creation off: the schema and tables are the DBA's (migrations/).
                return cls(settings, clock=clock, keyring=keyring)
            # CREATE SCHEMA/TABLE IF NOT EXISTS race in PostgreSQL's catalog ("tuple
            # concurrently updated") when several processes open the same new store at once, so
            # opening holds an advisory lock while the library creates its tables.
            with _schema_lock(settings):
                return cls(settings, clock=clock, keyring=keyring)
        except (PersistenceError, OSError, sqlite3.Error) as error:
            raise StoreUnavailableError(
                f"cannot open store {settings.redacted_url}: {error}"
            ) from error
        except Exception as error:
            if type(error).__module__.startswith("psycopg"):
                raise StoreUnavailableError(
                    f"cannot open store {settings.redacted_url}: {error}"
                ) from error
            raise

    def _decode(self, notifications: Iterable[Notification]) -> list[DomainEvent]:
        """A page of the notification log as events, for the projection engine."""
        assert isinstance(self.mapper, LedgerMapper)
        return self.mapper.to_domain_events(notifications)

    # --- eventsourcing hooks -------------------------------------------------------------------

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # The store URL alone decides the persistence settings: unlike eventsourcing's default,
        # the process environment is not merged in, so a stray variable cannot change the store.
        return Environment(name, dict(env or {}))

    def construct_mapper(self) -> LedgerMapper:
        return LedgerMapper(self._heads, self.data_keys)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Seal the batch into each loan's chain, insert it in one transaction, remember heads."""
        events = processing_event.events
        # New people's data keys in one transaction, committed before the events sealed with
        # them (a reader never meets ciphertext whose key is not yet stored).
        self.data_keys.ensure(subjects_of(events))
        stored, links = self._seal([self.mapper.to_stored_event(event) for event in events])
        try:
            notification_ids = self.recorder.insert_events(
                stored, tracking=processing_event.tracking, **processing_event.saved_kwargs
            )
        except IntegrityError as error:
            raise ConcurrencyError(
                "another writer recorded an event for the same loan first; reload and retry"
            ) from error
        except (OperationalError, InterfaceError) as error:
            # The connection failed (a server restart, a network cut). Whether the transaction
            # committed is unknown to us, so say so: re-sending the same command is safe, since
            # it reloads the loan first (a recorded step is then refused or, for a repayment or
            # disbursement, its reference makes it a no-op).
            raise StoreUnavailableError(
                f"the store failed while recording ({error}); {UNKNOWN_OUTCOME}"
            ) from error
        except PersistenceError as error:
            # The store refused the rows (text it cannot hold, say): nothing was recorded.
            first = events[0]
            raise store_data_error(
                error,
                "nothing was recorded",
                loan_id=getattr(first, "loan_id", None),
                version=first.originator_version,
            ) from error
        self._heads.observe_many(links)
        for originator_id in links:
            self._loan_events.touch(originator_id)
        if not notification_ids:
            return []
        return [
            Recording(
                event,
                Notification(
                    originator_id=item.originator_id,
                    originator_version=item.originator_version,
                    topic=item.topic,
                    state=item.state,
                    id=notification_id,
                ),
            )
            for event, item, notification_id in zip(events, stored, notification_ids, strict=True)
        ]

    def _seal(
        self, stored: list[StoredEvent]
    ) -> tuple[list[StoredEvent], dict[UUID, tuple[int, str]]]:
        """Prefix every event body with its chain link, in version order per loan; also return
        each loan's newest (version, link), for the chain heads once the batch is stored."""
        links: dict[UUID, tuple[int, str]] = {}
        sealed = []
        for item in stored:
            originator_id = _as_uuid(item.originator_id)
            version = item.originator_version
            known = links.get(originator_id)
            if known is not None and known[0] == version - 1:
                previous = known[1]
            else:
                previous = self._link_before(originator_id, version)
            link = compute_link(previous, originator_id, version, item.topic, item.state)
            links[originator_id] = (version, link)
            sealed.append(
                StoredEvent(
                    originator_id=item.originator_id,
                    originator_version=version,
                    topic=item.topic,
                    state=seal(link, item.state),
                )
            )
        return sealed, links

    def _link_before(self, originator_id: UUID, version: int) -> str:
        if version == 1:
            return GENESIS_LINK
        cached = self._heads.get(originator_id, version - 1)
        if cached is not None:
            return cached
        previous = self.recorder.select_events(originator_id, lte=version - 1, desc=True, limit=1)
        if not previous or previous[0].originator_version != version - 1:
            # The caller's aggregate is ahead of or behind the store; inserting will conflict.
            raise ConcurrencyError(f"version {version - 1} of the loan is not stored")
        link, _ = unseal(previous[0].state)
        return link

    # --- audit -----------------------------------------------------------------------------------

    @_query
    def verify(self, against: dict[str, Any] | str | PathLike[str] | None = None) -> VerifyResult:
        """Recompute every loan's hash chain from the stored bytes and hold the events against
        `against` (a checkpoint dict or its JSON file) and every stored checkpoint; name the
        first break (`loanledger.persistence.book_audit`)."""
        pages = page_reader(self.recorder)
        return verify_book(
            lambda: read_notifications(pages),
            self.transparency,
            against if against is None or isinstance(against, dict) else str(against),
            lambda chains: self.loan_snapshots.verify(chains, loan_uuid),
        )

    def checkpoint(self) -> dict[str, Any]:
        """Record and return the Merkle tree head of every stored event (DESIGN §12)."""
        return self.transparency.checkpoint()

    def prove(
        self, loan_id: str, checkpoint: dict[str, Any] | str | PathLike[str] | None = None
    ) -> dict[str, Any]:
        """The inclusion proof of the loan's events under `checkpoint` (else the latest stored
        one), which `loanledger.proof.check_inclusion` checks without a store."""
        aggregate_id = loan_uuid(loan_id)
        stored = self.recorder.select_events(aggregate_id)
        if not stored:
            raise LoanNotFoundError(f"loan {loan_id} has not applied")
        given = (
            checkpoint if checkpoint is None or isinstance(checkpoint, dict) else str(checkpoint)
        )
        return self.transparency.prove(loan_id, aggregate_id, stored, given)

    def prove_consistency(
        self, old: dict[str, Any] | str | PathLike[str], new: dict[str, Any] | str | PathLike[str]
    ) -> dict[str, Any]:
        """The proof that the book only grew from checkpoint `old` to checkpoint `new`."""
        return self.transparency.prove_consistency(
            old if isinstance(old, dict) else str(old), new if isinstance(new, dict) else str(new)
        )

    def record(self, *aggregates: Any) -> None:
        """Store the pending events of `aggregates` in one transaction (all or nothing)."""
        self.save(*aggregates)

    # --- commands --------------------------------------------------------------------------------

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
    def load(self, source: str | PathLike[str] | Iterable[str]) -> dict[str, Any]:
        """Apply journal lines in order (a path, or an iterable of lines).

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
                try:
                    self.book.execute(parsed)
                except DomainError as error:
                    raise type(error)(f"line {number}: {error}") from error
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
            batch.loans[command.loan_id] = Loan.open_application(aggregate_id, command, now)
            batch.events += 1
            return
        if loan is None:
            loan = batch.loans[command.loan_id] = self._get(command.loan_id)
        self.book.check(command, loan, cache=batch.book_cache)
        checkpoint = loan.checkpoint()
        now = self.clock()
        recorded_at = max(now, loan.modified_on) if loan.modified_on else now
        try:
            horizon = self.horizon(recorded_at, cache=batch.book_cache)
            horizon.require_within(command.on, recorded_at, command.command)
            loan.handle(command, recorded_at)
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
            loan = Loan.open_application(aggregate_id, command, now)
            self.save(loan)
            return self._result(command, loan, Outcome(tuple(), {}))
        loan = self._get(command.loan_id)
        self.book.check(command, loan)
        now = self.clock()
        # Recorded time never runs backwards within a loan, even if the clock does.
        recorded_at = max(now, loan.modified_on) if loan.modified_on else now
        self.horizon(recorded_at).require_within(command.on, recorded_at, command.command)
        outcome = loan.handle(command, recorded_at)
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

    @staticmethod
    def _replay(aggregate_id: UUID, events: list[DomainEvent]) -> Loan:
        loan = Loan(aggregate_id)
        for event in events:
            event.mutate(loan)
        return loan

    # --- queries ---------------------------------------------------------------------------------

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

    @_command
    def close_day(self, day: date | str) -> dict[str, Any]:
        """Run servicing for `day`, after every date since the last closed one that was not
        closed (in order, as `close-day --through` does; see `loanledger.close_gap`): a skipped
        business day would otherwise lose its notices for good. A gap of more than
        `MAX_CLOSE_DAY_GAP_DAYS` is refused, naming the last closed date. The result counts
        every date closed (`days_closed`)."""
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
        now = self.clock()
        recorded_at = max(now, loan.modified_on) if loan.modified_on else now
        contagion = self._contagion(loan, on)
        rules = self._closing_rules.get(on) or self.book.rules(on)
        _, next_on = loan.close_day(on, recorded_at, rules, contagion=contagion)
        return loan, next_on

    def _close_loan_day_alone(self, loan_id: str, on: date) -> tuple[int, Loan, date | None]:
        for attempt in range(1, MAX_COMMAND_ATTEMPTS + 1):
            loan = self._get(loan_id)
            now = self.clock()
            recorded_at = max(now, loan.modified_on) if loan.modified_on else now
            contagion = self._contagion(loan, on)
            rules = self._closing_rules.get(on) or self.book.rules(on)
            events, next_on = loan.close_day(on, recorded_at, rules, contagion=contagion)
            try:
                if events:
                    self.save(loan)
            except ConcurrencyError:
                if attempt == MAX_COMMAND_ATTEMPTS:
                    raise
                continue
            return len(events), loan, next_on
        raise AssertionError("unreachable")  # pragma: no cover

    def _borrower_loans(self, borrower_id: str) -> list[str]:
        """Every loan of the borrower (one indexed query)."""
        index = self.loan_index.sql(self.read_store)
        return [row[0] for row in self.read_store.query(index["loans_of_borrower"], (borrower_id,))]

    def _siblings(self, borrower_id: str) -> tuple[str, ...]:
        """The borrower's loans if they have several (those are graded together), else none."""
        return self._several_loans().get(borrower_id, ())

    def _several_loans(self) -> dict[str, tuple[str, ...]]:
        """Borrower -> loans of the borrowers with several loans, from the loan index. Once the
        projection has moved on, it is read again only if the index holds another number of
        loans: a row is added when a loan applies and never removed or changed in loan or
        borrower (a rebuild adds the same rows again in the same order), so the same count is
        the same loans; reading it after every write made a book's reads quadratic in its size.
        Only these borrowers are kept: a map of every borrower (100,000 lists on a large book)
        cost a query of the whole index, and the garbage collector walked it again and again
        (B3: a third of a close of day on 100,000 loans)."""
        caught_up = self.projections.caught_up_to
        cached = self._borrowers
        if cached is None or cached[0] != caught_up:
            index = self.loan_index.sql(self.read_store)
            count = int(self.read_store.query(index["loan_count"])[0][0])
            if cached is not None and cached[1] == count:
                cached = (caught_up, count, cached[2])
            else:
                grouped: dict[str, list[str]] = {}
                for borrower, loan_id in self.read_store.query(
                    index["borrowers_with_several_loans"]
                ):
                    grouped.setdefault(borrower, []).append(loan_id)
                several = {borrower: tuple(loans) for borrower, loans in grouped.items()}
                cached = (caught_up, count, several)
            self._borrowers = cached
        return cached[2]

    def _contagious(self, stored: Iterable[Row]) -> set[str]:
        """The borrowers whose loans are graded non-performing together on these `loan_state`
        rows (`summary_at` / `rows_at`). Only borrowers with several loans can be, and few are:
        only their rows are read (a book's report tested every row before)."""
        several = self._several_loans()
        return contagious_borrowers(
            (StateRow.of(row) for row in stored if row[1] in several),
            self.rules.contagion_non_performing_share,
        )

    def _contagion(self, loan: Loan, on: date, known_at: datetime | None = None) -> bool:
        """Whether more than the rule set's share of the borrower's balances here are
        non-performing (substandard or worse), which makes all the borrower's loans so."""
        if loan.application is None:
            return False
        siblings = self._siblings(loan.application.borrower.id)
        if len(siblings) < 2:
            return False
        total = Decimal(0)
        non_performing = Decimal(0)
        for sibling_id in siblings:
            sibling = loan if sibling_id == loan.loan_id else self._get(sibling_id)
            sibling = sibling.as_known_at(known_at)
            if not sibling.exists_on(on):
                continue
            position = sibling.position(on, self.rules)
            if position is None or position.disbursed == 0:
                continue
            outstanding = position.principal_outstanding
            total += outstanding
            grade = sibling.risk(on, position, self.rules).classification
            if CLASSIFICATIONS.index(grade) >= CLASSIFICATIONS.index("substandard"):
                non_performing += outstanding
        if total == 0:
            return False
        return non_performing / total > self.rules.contagion_non_performing_share

    @_query
    def last_closed_day(self) -> date | None:
        rows = self.read_store.query(self._closed_days["last"])
        return date.fromisoformat(rows[0][0]) if rows and rows[0][0] else None

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
        builder = REPORTS.get(name)
        if builder is None:
            known = ", ".join(sorted([*REPORTS, "trial_balance", "journal"]))
            raise UnknownReportError(f"unknown report {name!r}; reports: {known}")
        if name == "loan_ledger":
            return self._loan_ledger_from_state(day, moment)
        if name == "notices":
            return self.notices.report(self.read_store, day, moment)
        if name in STATE_SUMMARIES:
            return self._summary_from_state(name, day, moment)
        return builder(self._loan_rows(day, moment))

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

    def _loans(self, known_at: datetime | None) -> Iterator[Loan]:
        self.projections.catch_up()
        index = self.loan_index.sql(self.read_store)
        # Every event up to this notification is projected, so cached histories checked since
        # need no query (reports read thousands of loans).
        fresh_through = self.recorder.max_notification_id() or 0
        for (loan_id,) in self.read_store.query(index["all_loans"]):
            yield self._get(loan_id, fresh_through=fresh_through).as_known_at(known_at)

    def _loan_postings(
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
    def archive(self, loan_id: str) -> dict[str, Any]:
        """The loan archive (贷款业务管理档案): every stored fact with its chain proof and the
        state after it. A loan whose stored bytes were altered still has an archive: it names
        the break and lists what follows it as unreadable. See `loanledger.reports.archive`."""
        stored = self.recorder.select_events(loan_uuid(loan_id))
        if not stored:
            raise LoanNotFoundError(f"loan {loan_id} has not applied")
        result = verify_chains(iter(stored))
        facts = [
            StoredFact(item.originator_version, item.topic, *self._read_stored(item))
            for item in stored
        ]
        verified = {
            "ok": result.ok,
            "events_checked": result.events_checked,
            "first_break": str(result.first_break) if result.first_break else None,
            "checkpoint": inclusion_status(self.transparency, loan_id, loan_uuid(loan_id), stored),
        }
        return build_archive(loan_id, facts, verified, self.rules)

    def _read_stored(self, item: StoredEvent) -> tuple[str | None, DomainEvent | None]:
        """(chain link, event) of one stored event; None for what cannot be read."""
        try:
            link, _ = unseal(item.state)
        except MalformedSealError:
            return None, None
        try:
            event = self.mapper.to_domain_event(item)
        except MapperDeserialisationError:
            return link, None
        assert isinstance(event, DomainEvent)
        return link, event

    @_query
    def archive_html(self, loan_id: str) -> str:
        return render_html(self.archive(loan_id))

    @_query
    def rebuild(self) -> None:
        """Drop every projection and rebuild it from the events; drop the loans' snapshots."""
        self.loan_snapshots.clear()
        self.projections.rebuild()

    # --- personal data ---------------------------------------------------------------------------

    @_command
    def forget_borrower(self, borrower_id: str, *, actor: str = "unspecified") -> dict[str, Any]:
        """Crypto-shred a borrower: destroy their data key, so that their name and identity
        number read as `[erased]` everywhere (loan, reports, archive, exports), while amounts,
        reports, `verify()` and `rebuild()` are unchanged. The forgetting is logged (time,
        actor, destroyed key id) in the personal-data log. Forgetting twice changes nothing;
        a borrower the ledger never recorded raises `UnknownBorrowerError`."""
        check_lookup(borrower_id, "borrower_id")
        self.projections.catch_up()
        loans = self._borrower_loans(borrower_id)
        subject = subject_of("borrower", borrower_id)
        if not loans and not self.data_keys.has_key_or_was_forgotten(subject):
            raise UnknownBorrowerError(
                f"borrower {borrower_id} has no loan in this ledger: nothing to forget"
            )
        return {"borrower_id": borrower_id, "loans": sorted(loans), **self._forget(subject, actor)}

    @_command
    def forget_guarantor(self, guarantor_id: str, *, actor: str = "unspecified") -> dict[str, Any]:
        """Crypto-shred a guarantor the same way (their name reads as `[erased]`)."""
        check_lookup(guarantor_id, "guarantor_id")
        subject = subject_of("guarantor", guarantor_id)
        if not self.data_keys.has_key_or_was_forgotten(subject):
            raise UnknownGuarantorError(
                f"guarantor {guarantor_id} has no personal data in this ledger: nothing to forget"
            )
        return {"guarantor_id": guarantor_id, **self._forget(subject, actor)}

    def _forget(self, subject: str, actor: str) -> dict[str, Any]:
        forgotten_at, already, destroyed = self.data_keys.destroy(subject, actor)
        self.read_store.scrub()  # no copy of the destroyed key left in the WAL (SQLite)
        # Decoded copies of the subject's fields live in the decoded-event cache and in loans
        # replayed for reads: drop them all (they are rebuilt from the stored bytes on use).
        self._loan_events.clear()
        self._borrowers = None
        if not already:
            audit_log.warning(
                "FORGOTTEN %s by %s at %s (data key %s destroyed)",
                subject,
                actor,
                forgotten_at,
                destroyed or "none",
            )
        return {
            "forgotten_at": forgotten_at,
            "already_forgotten": already,
            "data_key_destroyed": destroyed is not None,
        }

    @_command
    def rotate_master_key(
        self, new_master_key: str | bytes, *, actor: str = "unspecified"
    ) -> dict[str, Any]:
        """Re-wrap every data key under `new_master_key` (no event is touched); from then on
        this ledger wraps with the new key. See the README for the procedure across processes.
        """
        new = MasterKey.from_text(new_master_key)
        rewrapped = self.data_keys.rotate(new, actor)
        audit_log.warning(
            "MASTER KEY ROTATED to %s by %s: %d data keys re-wrapped", new.key_id, actor, rewrapped
        )
        return {"master_key_id": new.key_id, "data_keys_rewrapped": rewrapped}

    @_query
    def personal_data_log(self) -> list[dict[str, str]]:
        """What was done with personal data, oldest first: `forget`, `unmasked_export`,
        `rotate_master_key` rows with their time, subject, actor and detail."""
        return self.data_keys.log()

    @_query
    def export_loan_level(
        self,
        as_of: date | str,
        known_at: datetime | str | None = None,
        *,
        unmasked: bool = False,
        actor: str = "unspecified",
    ) -> list[dict[str, Any]]:
        """The loan-level report (个人信贷分户账): masked, or with `unmasked=True` in full, which
        is logged (WARNING on `loanledger.audit` and a row in the personal-data log) before
        any row is built. Forgotten borrowers read as `[erased]` either way."""
        day = parse_as_of(as_of)
        moment = parse_known_at(known_at)
        if unmasked:
            detail = f"loan_level as of {day.isoformat()}" + (
                f" known at {moment.isoformat()}" if moment else ""
            )
            self.record_unmasked_export(detail, actor=actor)
        return regulator.loan_level(self._loan_rows(day, moment), unmasked=unmasked)

    @_command
    def record_unmasked_export(self, what: str, *, actor: str = "unspecified") -> None:
        """Log an export of unmasked personal data (for exports built outside the ledger)."""
        recorded_at = self.data_keys.log_action("unmasked_export", "*", actor, what)
        audit_log.warning(
            "UNMASKED export of personal data by %s at %s: %s", actor, recorded_at, what
        )

    def close(self) -> None:
        """Close the store's connections and drop this ledger's caches.

        The ledger and its projections refer to each other (the loaders are its methods), so
        without this its caches (the loan_state projection's kept loans and walks, decoded
        events, the borrower map) would stay as cyclic garbage until a full collection of the
        process's heap, which then costs a later, unrelated call up to a second (B3 measured
        it)."""
        self.loan_state.release()
        self._loan_events.clear()
        self._borrowers = None
        super().close()
        self.read_store.close()

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

    @_query
    def payoff(self, loan_id: str, on: date | str) -> dict[str, Any]:
        """What must be paid on `on` to settle the loan exactly, and its parts (DESIGN §12):
        `total` paid with `prepay: true` on `on` leaves nothing owed and nothing held."""
        day = parse_as_of(on)
        loan = self._get(loan_id)
        if not loan.disbursements:
            raise WrongStateError(f"loan {loan_id} has no payoff before its first disbursement")
        rules = self.book.rules(day)
        return payoff_quote(loan.terms(), loan.money_facts(), day, rules).as_dict(loan_id)

    # --- the servicing desk: installment status, statements, what-if ------------------------------

    @_query
    def installments(
        self, loan_id: str, as_of: date | str, known_at: datetime | str | None = None
    ) -> list[dict[str, Any]]:
        """Each installment of the schedule in force on `as_of` with what is due, paid and
        outstanding of it, the date it was met in full, and its status (`paid`, `partly_paid`,
        `overdue`, `due`, `future`); see `loanledger.reports.installments`."""
        day, moment = self.parse_dates(as_of, known_at)
        loan = self._known_loan(loan_id, day, moment)
        return installment_rows(loan, day, self.book.rules(day, moment))

    @_query
    def statement(
        self,
        loan_id: str,
        from_date: date | str,
        to_date: date | str,
        known_at: datetime | str | None = None,
    ) -> dict[str, Any]:
        """The loan's statement from the start of `from_date` to the end of `to_date`: opening
        balances, each money movement with its allocation and the balances after its day, and
        closing balances equal to `loan(loan_id, to_date)`'s; see `loanledger.reports.statement`."""
        start, moment = self.parse_dates(from_date, known_at)
        end = parse_as_of(to_date)
        if end < start:
            raise InvalidDateError(f"statement to_date {end} is before from_date {start}")
        loan = self._known_loan(loan_id, end, moment)
        return build_statement(loan, start, end, self.book.rules(end, moment))

    @_query
    def explain(
        self,
        loan_id: str,
        field: str,
        as_of: date | str,
        known_at: datetime | str | None = None,
    ) -> dict[str, Any]:
        """Why `field` of the loan view on `as_of` is what it is: `value`, `rule_set`, `rule`,
        `parts` (money parts sum exactly to the value) and `facts` (each event it rests on, with
        its chain link); see `loanledger.reports.explain`."""
        day, moment = self.parse_dates(as_of, known_at)
        loan = self._known_loan(loan_id, day, moment)
        self.projections.catch_up()
        links = {}
        for item in self.recorder.select_events(loan_uuid(loan_id)):
            try:
                links[item.originator_version] = unseal(item.state)[0]
            except MalformedSealError:
                continue  # an unreadable link is shown as none (verify names the break)
        contagion = self._contagion(loan, day, moment)
        rules = self.book.rules(day, moment)
        return explain(loan, field, day, rules, contagion=contagion, links=links)

    def what_if(self) -> Branch:
        """A branch for several what-if steps, never stored:
        `with ledger.what_if() as branch: branch.execute(...); branch.loan(...)`."""
        return Branch(self)

    @_query
    def preview(
        self, commands: Iterable[dict[str, Any]], as_of: date | str | None = None
    ) -> dict[str, Any]:
        """Run journal commands on a branch and return, per loan they touch, the loan view and
        schedule before and after, and the refusals; nothing is recorded (`loanledger.whatif`)."""
        return preview(self, commands, as_of)

    def _known_loan(self, loan_id: str, day: date, moment: datetime | None) -> Loan:
        loan = self._get(loan_id).as_known_at(moment)
        if not loan.exists_on(day):
            raise LoanNotFoundError(f"loan {loan_id} has no application on or before {day}")
        return loan

    # What a what-if branch needs of the ledger (`loanledger.whatif.BranchHost`).

    def stored_loan(self, loan_id: str) -> Loan:
        """A fresh copy of the loan rebuilt from its stored events."""
        return self._get(loan_id)

    def stored_loans(self, known_at: datetime | None) -> Iterator[Loan]:
        return self._loans(known_at)

    def view_of(self, loan: Loan, on: date, known_at: datetime | None = None) -> dict[str, Any]:
        """The §8 `loan` fields of `loan` (as known at `known_at`) on `on`, graded with the
        borrower's other loans, with where its claim stands (on or off the balance sheet)."""
        self.projections.catch_up()
        rules = self.book.rules(on, known_at)
        view = loan_view(loan, on, rules, contagion=self._contagion(loan, on, known_at))
        return {**view, **balance_sheet_figures(view)}

    def horizon(self, recorded_at: datetime, *, cache: BookCache | None = None) -> FutureHorizon:
        """The future horizon in force for a fact recorded at `recorded_at`: the book's policy
        (`set_policy` future_horizon_days, time_zone) as in force on that date, else the
        default. A batch passes its `cache` so that the policy is read once for its lines."""
        policy = self.book.policy(recorded_at.astimezone(UTC).date(), cache=cache)
        if policy.future_horizon_days is None and policy.time_zone is None:
            return self.default_horizon
        return FutureHorizon(
            policy.future_horizon_days
            if policy.future_horizon_days is not None
            else self.default_horizon.days,
            policy.time_zone if policy.time_zone is not None else self.default_horizon.time_zone,
        )

    def rules_on(self, on: date, known_at: datetime | None = None) -> RuleSet:
        """The rule set in force on `on` (as adopted by `set_policy`, known at `known_at`)."""
        return self.book.rules(on, known_at)

    def contagion_of(self, loan: Loan, on: date, known_at: datetime | None = None) -> bool:
        self.projections.catch_up()  # the borrower's loans are looked up in the loan index
        return self._contagion(loan, on, known_at)

    def report_row(self, loan: Loan, on: date, known_at: datetime | None) -> LoanRow | None:
        return self._row_of(loan, on, known_at, details=True)

    def report_builder(
        self, name: str
    ) -> Callable[[Iterable[LoanRow]], list[dict[str, Any]]] | None:
        return REPORTS.get(name)

    def report_names(self) -> list[str]:
        return sorted([*REPORTS, "trial_balance", "journal"])

    def parse_dates(
        self, as_of: date | str, known_at: datetime | str | None
    ) -> tuple[date, datetime | None]:
        return parse_as_of(as_of), parse_known_at(known_at)


def parse_as_of(value: date | str, *, name: str = "as_of") -> date:
    """`as_of` (or another business date, `name`) as a date: a `datetime.date` or an ISO
    `YYYY-MM-DD` string."""
    if isinstance(value, datetime):
        raise InvalidDateError(
            f"{name} must be a date (the end of that business day), not a datetime"
        )
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidDateError(f"{name} must be an ISO date 'YYYY-MM-DD', got {value!r}")


def parse_known_at(value: datetime | str | None) -> datetime | None:
    """`known_at` as an aware datetime (UTC), from a datetime or an ISO 8601 string with offset."""
    if value is None:
        return None
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidDateError(f"known_at must be an ISO 8601 datetime, got {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidDateError(f"known_at must be timezone-aware, got {value!r}")
    return parsed.astimezone(UTC)


SCHEMA_LOCK_KEY = 0x4C4C_0001
"""Advisory-lock key held while a ledger creates its schema and tables on PostgreSQL."""


@contextmanager
def _schema_lock(settings: StoreSettings) -> Iterator[None]:
    import psycopg
    from psycopg import sql

    env = settings.env
    with psycopg.connect(**settings.postgres_connection(), autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            if "POSTGRES_SCHEMA" in env:
                connection.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        sql.Identifier(env["POSTGRES_SCHEMA"])
                    )
                )
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


LOAD_BATCH_EVENTS = 2000
"""Events `load` stores in one transaction at most (bounds memory and the size of a retry)."""


LOAD_KEPT_LOANS = 4096
"""Loans a load keeps in memory after storing them (the most recently used)."""


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
        self.book_cache: BookCache = {}
        """The policy and staff register as read for this batch's lines (see `book.check`);
        emptied whenever the batch records a book command."""

    def loan(self, loan_id: str) -> Loan | None:
        """The batch's copy of the loan: changed by this batch, or kept from an earlier one."""
        loan = self.loans.get(loan_id)
        if loan is None:
            loan = self._kept.pop(loan_id, None)
            if loan is not None:
                self.loans[loan_id] = loan
        return loan

    def stored(self) -> None:
        """The batch's loans were stored: keep them for the next lines (`for_load`), and start
        afresh."""
        for loan_id, loan in self.loans.items() if self.for_load else ():
            if not loan.has_pending_events:
                self._kept[loan_id] = loan
                self._kept.move_to_end(loan_id)
        while len(self._kept) > LOAD_KEPT_LOANS:
            self._kept.popitem(last=False)
        self.clear()

    def forget_stored(self) -> None:
        """Drop the kept copies (the store's loans may have moved on)."""
        self._kept.clear()

    def clear(self) -> None:
        self.loans.clear()
        self.lines.clear()
        self.events = 0


class CommandBatch:
    """Commands staged on loans in memory, stored by `flush`; see `LoanLedger.batch`."""

    def __init__(self, ledger: LoanLedger) -> None:
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


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
