"""`LoanLedger`: the eventsourcing Application that records loans and answers questions.

The application is the only place that reads the clock and talks to storage: it turns journal
commands into calls on the pure `Loan` aggregate, seals each batch of new events into the per-loan
hash chain, and maps an optimistic-concurrency conflict to `ConcurrencyError`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Notification, Recording, StoredEvent
from eventsourcing.utils import Environment, EnvType

from loanledger.domain.errors import ConcurrencyError
from loanledger.persistence.chain import GENESIS_LINK, ChainHeads, compute_link, seal, unseal
from loanledger.persistence.mapper import LedgerMapper
from loanledger.persistence.urls import StoreSettings, parse_store_url, resolve_store_url
from loanledger.persistence.verify import VerifyResult, read_notifications, verify_chains

Clock = Callable[[], datetime]


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
        if settings.kind == "postgresql" and "POSTGRES_SCHEMA" in settings.env:
            _create_schema(settings)
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


def _create_schema(settings: StoreSettings) -> None:
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
        connection.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(env["POSTGRES_SCHEMA"]))
        )


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
