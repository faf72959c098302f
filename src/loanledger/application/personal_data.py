"""Personal data: crypto-shredding a borrower or guarantor, rotating the master key, unmasked
exports and the log of what was done with personal data. A service over the ledger's data keys;
the ledger's public methods delegate here."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from loanledger.application.dates import parse_as_of, parse_known_at
from loanledger.application.store import _command, _query
from loanledger.domain.errors import (
    InvalidCommandError,
    UnknownBorrowerError,
    UnknownGuarantorError,
)
from loanledger.domain.text import check_lookup
from loanledger.persistence.keys import DataKeys, MasterKey
from loanledger.persistence.personal_data import subject_of
from loanledger.persistence.read_store import ReadStore
from loanledger.projection.engine import ProjectionEngine
from loanledger.reports import regulator
from loanledger.reports.portfolio import LoanRow

audit_log = logging.getLogger("loanledger.audit")
"""Where every use of personal data worth an auditor's attention is logged (WARNING), besides
the store's `loanledger_personal_data_log` table."""


class PersonalData:
    """Forget, rotate, export and log, on the ledger's data keys and read store (each method is
    documented on the `LoanLedger` method that delegates to it)."""

    def __init__(
        self,
        data_keys: DataKeys,
        read_store: ReadStore,
        projections: ProjectionEngine,
        *,
        borrower_loans: Callable[[str], list[str]],
        loan_rows: Callable[[date, datetime | None], Iterator[LoanRow]],
        drop_caches: Callable[[], None],
    ) -> None:
        self.data_keys = data_keys
        self.read_store = read_store
        self.projections = projections
        self._borrower_loans = borrower_loans
        """Every loan of a borrower (the loan index)."""
        self._loan_rows = loan_rows
        """Each loan's report row on a date, as known at a moment."""
        self._drop_caches = drop_caches
        """Forget the ledger's decoded copies of personal data."""

    @_command
    def forget_borrower(self, borrower_id: str, *, actor: str = "unspecified") -> dict[str, Any]:
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
        self._drop_caches()
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
        new = MasterKey.from_text(new_master_key)
        rewrapped = self.data_keys.rotate(new, actor)
        audit_log.warning(
            "MASTER KEY ROTATED to %s by %s: %d data keys re-wrapped", new.key_id, actor, rewrapped
        )
        return {"master_key_id": new.key_id, "data_keys_rewrapped": rewrapped}

    @_query
    def personal_data_log(self) -> list[dict[str, str]]:
        return self.data_keys.log()

    @_query
    def export_loan_level(
        self,
        as_of: date | str,
        known_at: datetime | str | None = None,
        *,
        unmasked: bool = False,
        actor: str = "unspecified",
        headers: str = "en",
        allowances: Callable[[date, datetime | None], Mapping[str, Decimal]] | None = None,
    ) -> list[dict[str, Any]]:
        if headers not in ("en", "zh"):
            raise InvalidCommandError(f"unknown headers {headers!r}; headers: en, zh")
        day = parse_as_of(as_of)
        moment = parse_known_at(known_at)
        if unmasked:
            detail = f"loan_level as of {day.isoformat()}" + (
                f" known at {moment.isoformat()}" if moment else ""
            )
            self.record_unmasked_export(detail, actor=actor)
        rows = regulator.loan_level(
            self._loan_rows(day, moment),
            unmasked=unmasked,
            allowances=allowances(day, moment) if allowances is not None else None,
        )
        return regulator.zh_headers(rows) if headers == "zh" else rows

    @_command
    def record_unmasked_export(self, what: str, *, actor: str = "unspecified") -> None:
        recorded_at = self.data_keys.log_action("unmasked_export", "*", actor, what)
        audit_log.warning(
            "UNMASKED export of personal data by %s at %s: %s", actor, recorded_at, what
        )
