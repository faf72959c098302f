"""`LoanLedger`: the eventsourcing Application that records loans and answers questions.

The application is the only place that reads the clock and talks to storage: it turns journal
commands into calls on the pure `Loan` aggregate, seals each batch of new events into the per-loan
hash chain, and maps an optimistic-concurrency conflict to `ConcurrencyError`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from os import PathLike
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Notification, Recording, StoredEvent
from eventsourcing.utils import Environment, EnvType

from loanledger.domain.commands import (
    Apply,
    Approve,
    CloseDay,
    Command,
    Disburse,
    RecordInvestigation,
    Reject,
    Repay,
    Review,
    Withdraw,
    parse_command,
)
from loanledger.domain.errors import (
    ConcurrencyError,
    DomainError,
    InvalidDateError,
    LoanNotFoundError,
    WrongStateError,
)
from loanledger.domain.loan import Loan, Outcome
from loanledger.journal import numbered_lines, parse_line
from loanledger.persistence.chain import GENESIS_LINK, ChainHeads, compute_link, seal, unseal
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.mapper import LedgerMapper
from loanledger.persistence.urls import StoreSettings, parse_store_url, resolve_store_url
from loanledger.persistence.verify import VerifyResult, read_notifications, verify_chains
from loanledger.views import loan_view, schedule_rows

Clock = Callable[[], datetime]

MAX_COMMAND_ATTEMPTS = 25
"""How often `execute` re-runs a command after losing an optimistic-concurrency race."""

RETRY_BACKOFF_SECONDS = 0.002
RETRY_BACKOFF_MAX_SECONDS = 0.05
"""Jittered exponential backoff between attempts, so that racing writers spread out."""


def system_clock() -> datetime:
    """The recorded time of a new fact: now, in UTC."""
    return datetime.now(UTC)


class LoanLedger(Application[UUID]):
    """An event-sourced loan ledger on one store (memory, SQLite or PostgreSQL)."""

    name = "LoanLedger"

    def __init__(self, settings: StoreSettings, *, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        self._heads = ChainHeads()
        super().__init__(env=dict(settings.env))

    @classmethod
    def open(cls, url: str | None = None, *, clock: Clock = system_clock) -> LoanLedger:
        """Open the ledger at `url` (else env `LOANLEDGER_DB`, else `sqlite:///loanledger.db`)."""
        settings = parse_store_url(resolve_store_url(url))
        if settings.kind != "postgresql":
            return cls(settings, clock=clock)
        # CREATE SCHEMA/TABLE IF NOT EXISTS race in PostgreSQL's catalog ("tuple concurrently
        # updated") when several processes open the same new store at once, so opening holds an
        # advisory lock while the library creates its tables.
        with _schema_lock(settings):
            return cls(settings, clock=clock)

    # --- eventsourcing hooks -------------------------------------------------------------------

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # The store URL alone decides the persistence settings: unlike eventsourcing's default,
        # the process environment is not merged in, so a stray variable cannot change the store.
        return Environment(name, dict(env or {}))

    def construct_mapper(self) -> LedgerMapper:
        return LedgerMapper(self._heads)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Seal the batch into each loan's chain, insert it in one transaction, remember heads."""
        events = processing_event.events
        stored = self._seal([self.mapper.to_stored_event(event) for event in events])
        try:
            notification_ids = self.recorder.insert_events(
                stored, tracking=processing_event.tracking, **processing_event.saved_kwargs
            )
        except IntegrityError as error:
            raise ConcurrencyError(
                "another writer recorded an event for the same loan first; reload and retry"
            ) from error
        for stored_event in stored:
            link, _ = unseal(stored_event.state)
            self._heads.observe(
                _as_uuid(stored_event.originator_id), stored_event.originator_version, link
            )
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

    def _seal(self, stored: list[StoredEvent]) -> list[StoredEvent]:
        """Prefix every event body with its chain link, in version order per loan."""
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
        return sealed

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

    def verify(self) -> VerifyResult:
        """Recompute every loan's hash chain from the stored bytes; name the first break."""
        return verify_chains(
            read_notifications(
                lambda start, limit: self.recorder.select_notifications(start, limit)
            )
        )

    def record(self, *aggregates: Any) -> None:
        """Store the pending events of `aggregates` in one transaction (all or nothing)."""
        self.save(*aggregates)

    # --- commands --------------------------------------------------------------------------------

    def execute(self, command: dict[str, Any]) -> dict[str, Any]:
        """Apply one journal command (DESIGN §6); return a JSON-ready result.

        A refused command raises a `DomainError` subclass and records nothing. Losing an
        optimistic-concurrency race to another writer of the same loan re-runs the command on the
        reloaded loan, up to `MAX_COMMAND_ATTEMPTS` times, then raises `ConcurrencyError`.
        """
        parsed = parse_command(command)
        if isinstance(parsed, CloseDay):
            raise WrongStateError("close_day is not available in this version of the ledger")
        for attempt in range(1, MAX_COMMAND_ATTEMPTS + 1):
            try:
                return self._execute_once(parsed)
            except ConcurrencyError:
                if attempt == MAX_COMMAND_ATTEMPTS:
                    raise
                ceiling = min(RETRY_BACKOFF_MAX_SECONDS, RETRY_BACKOFF_SECONDS * 2**attempt)
                time.sleep(random.uniform(0, ceiling))
        raise AssertionError("unreachable")  # pragma: no cover

    def load(self, source: str | PathLike[str] | Iterable[str]) -> dict[str, Any]:
        """Apply journal lines in order (a path, or an iterable of lines).

        Each line is all-or-nothing; lines before a refused one stay applied, and the refusal's
        message starts with `line N:` (1-based, blank lines counted).
        """
        applied = 0
        for number, line in numbered_lines(source):
            try:
                self.execute(parse_line(line))
            except DomainError as error:
                raise type(error)(f"line {number}: {error}") from error
            applied += 1
        return {"applied": applied}

    def _execute_once(self, command: Command) -> dict[str, Any]:
        aggregate_id = loan_uuid(command.loan_id)
        if isinstance(command, Apply):
            if aggregate_id in self.repository:
                raise WrongStateError(f"loan {command.loan_id} has applied already")
            loan = Loan.open_application(aggregate_id, command, self.clock())
            self.save(loan)
            return self._result(command, loan, Outcome(tuple(), {}))
        loan = self._get(command.loan_id)
        recorded_at = max(self.clock(), loan.modified_on or self.clock())
        outcome = Outcome((), {})
        if isinstance(command, RecordInvestigation):
            loan.record_investigation(command, recorded_at)
        elif isinstance(command, Review):
            loan.record_review(command, recorded_at)
        elif isinstance(command, Approve):
            loan.approve(command, recorded_at)
        elif isinstance(command, Reject):
            loan.reject(command, recorded_at)
        elif isinstance(command, Withdraw):
            loan.withdraw(command, recorded_at)
        elif isinstance(command, Disburse):
            outcome = loan.disburse(command, recorded_at)
        elif isinstance(command, Repay):
            outcome = loan.repay(command, recorded_at)
        else:  # pragma: no cover - parse_command only returns the commands above
            raise WrongStateError(f"command {command.command!r} is not handled")
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

    def _get(self, loan_id: str) -> Loan:
        try:
            loan: Loan = self.repository.get(loan_uuid(loan_id))
        except AggregateNotFoundError:
            raise LoanNotFoundError(f"loan {loan_id} has not applied") from None
        assert isinstance(loan, Loan)
        return loan

    # --- queries ---------------------------------------------------------------------------------

    def loan(
        self, loan_id: str, as_of: date | str, known_at: datetime | str | None = None
    ) -> dict[str, Any]:
        """The §8 `loan` fields on `as_of` (end of that day), from the facts known at `known_at`."""
        day = parse_as_of(as_of)
        loan = self._get(loan_id).as_known_at(parse_known_at(known_at))
        if not loan.exists_on(day):
            raise LoanNotFoundError(f"loan {loan_id} has no application on or before {day}")
        return loan_view(loan, day)

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


def parse_as_of(value: date | str) -> date:
    """`as_of` as a date: a `datetime.date` or an ISO `YYYY-MM-DD` string."""
    if isinstance(value, datetime):
        raise InvalidDateError(
            "as_of must be a date (the end of that business day), not a datetime"
        )
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidDateError(f"as_of must be an ISO date 'YYYY-MM-DD', got {value!r}")


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
    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
        connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
        autocommit=True,
    ) as connection:
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


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
