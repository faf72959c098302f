"""The book's audit: verifying every loan's hash chain, checkpoints (Merkle tree heads) and their
proofs, and the loan archive. A service over the event store and the transparency log; the
ledger's public methods delegate here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from os import PathLike
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
)

from loanledger.application.store import _query
from loanledger.domain.errors import LoanNotFoundError
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.domain.rules import RuleSet
from loanledger.persistence.book_audit import verify_book
from loanledger.persistence.chain import MalformedSealError, unseal
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.pages import page_reader
from loanledger.persistence.snapshots import Snapshots
from loanledger.persistence.transparency import TransparencyLog, inclusion_status, leaf_bytes
from loanledger.persistence.verify import VerifyResult, read_notifications, verify_chains
from loanledger.projection.segments import Timeline, event_changes_row
from loanledger.reports.archive import StoredFact, TimeStep, build_archive, render_html


class Audit:
    """Verify, checkpoint, prove and archive, on the ledger's recorder and transparency log (each
    method is documented on the `LoanLedger` method that delegates to it)."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper[UUID],
        transparency: TransparencyLog,
        loan_snapshots: Snapshots,
        rules: RuleSet,
    ) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.transparency = transparency
        self.loan_snapshots = loan_snapshots
        self.rules = rules

    @_query
    def verify(self, against: dict[str, Any] | str | PathLike[str] | None = None) -> VerifyResult:
        pages = page_reader(self.recorder)
        return verify_book(
            lambda: read_notifications(pages),
            self.transparency,
            against if against is None or isinstance(against, dict) else str(against),
            lambda chains: self.loan_snapshots.verify(chains, loan_uuid),
        )

    def checkpoint(self) -> dict[str, Any]:
        return self.transparency.checkpoint()

    def prove(
        self, loan_id: str, checkpoint: dict[str, Any] | str | PathLike[str] | None = None
    ) -> dict[str, Any]:
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
        return self.transparency.prove_consistency(
            old if isinstance(old, dict) else str(old), new if isinstance(new, dict) else str(new)
        )

    @_query
    def archive(self, loan_id: str, *, unmasked: bool = False) -> dict[str, Any]:
        stored = self.recorder.select_events(loan_uuid(loan_id))
        if not stored:
            raise LoanNotFoundError(f"loan {loan_id} has not applied")
        result = verify_chains(iter(stored))
        facts = [
            StoredFact(
                item.originator_version,
                item.topic,
                *self._read_stored(item),
                stored=leaf_bytes(item.state),
            )
            for item in stored
        ]
        verified = {
            "ok": result.ok,
            "events_checked": result.events_checked,
            "first_break": str(result.first_break) if result.first_break else None,
            "checkpoint": inclusion_status(self.transparency, loan_id, loan_uuid(loan_id), stored),
        }
        return build_archive(
            loan_id,
            facts,
            verified,
            self.rules,
            timeline=self._timeline,
            unmasked=unmasked,
        )

    def _timeline(self, loan: Loan, through: date) -> Iterator[TimeStep]:
        """The loan's report row segment by segment (the `loan_state` read model's walk), each
        marked with whether a fact that changes the row is effective on its first day."""
        fact_days = {event.effective_date for event in loan.history if event_changes_row(event)}
        timeline = Timeline(loan, self.rules)
        for segment in timeline.segments(timeline.starts_on, through):
            day = segment.valid_from
            yield TimeStep(day, day in fact_days, segment.row)

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
    def archive_html(self, loan_id: str, *, unmasked: bool = False) -> str:
        return render_html(self.archive(loan_id, unmasked=unmasked))
