"""Sealing each batch of new events into its loan's hash chain, in the transaction that stores it.

eventsourcing has no public hook between mapping a batch to stored events and inserting them, so
`ChainedRecording` overrides its private `Application._record` (eventsourcing 9.x): the one place
that does. `tests/unit/test_eventsourcing_hooks.py` fails loudly if that private signature
changes, or `Application.save` stops calling it (it holds the PostgreSQL recorder's
`_insert_stored_events`, overridden in `loanledger.persistence.recorder`, the same way): check
this module against the library's new code then.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    PersistenceError,
    Recording,
    StoredEvent,
)

from loanledger.application.base import LedgerBase
from loanledger.application.loans import LoanEvents
from loanledger.application.store import UNKNOWN_OUTCOME
from loanledger.domain.errors import ConcurrencyError, StoreUnavailableError
from loanledger.persistence.chain import GENESIS_LINK, compute_link, seal, unseal
from loanledger.persistence.failures import store_data_error
from loanledger.persistence.personal_data import subjects_of


class ChainedRecording(LedgerBase):
    """The ledger's `_record`: seal, insert in one transaction, remember each loan's chain head."""

    _loan_events: LoanEvents

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


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
