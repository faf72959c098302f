"""`LoanLedger`: the eventsourcing Application that records loans and answers questions.

The application is the only place that reads the clock and talks to storage: it turns journal
commands into calls on the pure `Loan` aggregate, seals each batch of new events into the per-loan
hash chain, and maps an optimistic-concurrency conflict to `ConcurrencyError`. This class wires
the stores, projections and services together; each job lives in its own module of
`loanledger.application` (see its `__init__`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, datetime
from os import PathLike
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import Environment, EnvType

from loanledger.application.audit import Audit
from loanledger.application.book import BookRegister
from loanledger.application.chain import ChainedRecording
from loanledger.application.commands import Commands
from loanledger.application.dates import Clock, system_clock
from loanledger.application.desk import Desk
from loanledger.application.loans import LoanEvents
from loanledger.application.personal_data import PersonalData
from loanledger.application.store import _without_hidden_retries, open_store
from loanledger.domain.event import DomainEvent
from loanledger.domain.horizon import horizon_from_env
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.persistence.chain import ChainHeads
from loanledger.persistence.keys import DataKeys, Keyring, load_keyring
from loanledger.persistence.mapper import LedgerMapper
from loanledger.persistence.pages import events_reader, page_reader
from loanledger.persistence.read_store import open_read_store
from loanledger.persistence.snapshots import Snapshots
from loanledger.persistence.sql import statements
from loanledger.persistence.transparency import TransparencyLog
from loanledger.persistence.urls import StoreSettings, parse_store_url, resolve_store_url
from loanledger.persistence.verify import VerifyResult
from loanledger.projection.engine import ProjectionEngine
from loanledger.projection.loan_index import LoanIndexProjection
from loanledger.projection.loan_state import LoanStateProjection
from loanledger.projection.notices import NoticesProjection


class LoanLedger(Commands, Desk, ChainedRecording):
    """An event-sourced loan ledger on one store (memory, SQLite or PostgreSQL).

    A facade over its jobs: recording commands (`commands`, `close_of_day`), loading loans
    (`loans`), grading with the borrower (`grading`), answering (`queries`, `desk`), sealing
    the hash chain (`chain`), and the `audit` and `personal_data` services it owns.
    """

    name = "LoanLedger"

    def __init__(
        self,
        settings: StoreSettings,
        *,
        clock: Clock = system_clock,
        keyring: Keyring | None = None,
        withhold_personal_data: bool = False,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._heads = ChainHeads()
        self._loan_events = LoanEvents()
        self._borrowers: tuple[int, int, dict[str, tuple[str, ...]]] | None = None
        """(projection position, loans in the index, borrower -> loan ids)."""
        # The mapper seals personal data with these keys, so they exist before the mapper does;
        # their table lives in the read store, attached once that is open.
        self.data_keys = DataKeys(
            keyring, clock, settings.redacted_url, withhold=withhold_personal_data
        )
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
        """Policy (the rule set in force) and staff register: see `loanledger.application.book`."""
        self._closing_rules: dict[date, RuleSet] = {}
        """The rule set of each date being closed, read once per close of day."""
        self.create_tables = settings.env.get("CREATE_TABLE", "y") != "n"
        self.read_store = open_read_store(settings)
        self.data_keys.attach(self.read_store, create_tables=self.create_tables)
        self.loan_index = LoanIndexProjection()
        self._events_of = events_reader(self.recorder)
        self.loan_state = LoanStateProjection(
            lambda loan_id: self._get(loan_id, remember=False), self.rules, self._get_many
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
            self._decode,
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
        self.audit = Audit(
            self.recorder, self.mapper, self.transparency, self.loan_snapshots, self.rules
        )
        """Verify, checkpoint, prove and archive (`loanledger.application.audit`)."""
        self.personal_data = PersonalData(
            self.data_keys,
            self.read_store,
            self.projections,
            borrower_loans=self._borrower_loans,
            loan_rows=self._loan_rows,
            drop_caches=self._drop_caches,
        )
        """Forget, rotate, export and log (`loanledger.application.personal_data`)."""

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        clock: Clock = system_clock,
        master_key: str | bytes | None = None,
        previous_master_key: str | bytes | None = None,
        withhold_personal_data: bool = False,
    ) -> LoanLedger:
        """Open the ledger at `url` (else env `LOANLEDGER_DB`, else `sqlite:///loanledger.db`).

        `master_key` (else env `LOANLEDGER_MASTER_KEY`) wraps the data keys that encrypt
        personal data; `previous_master_key` (else env `LOANLEDGER_PREVIOUS_MASTER_KEY`) only
        unwraps, during a rotation. A `memory://` store without one uses a random key for this
        process; a SQLite or PostgreSQL store without one opens, but refuses with
        `MasterKeyMissingError` the first time personal data must be written or read
        (`verify()` never needs it). A malformed key raises `InvalidMasterKeyError` here.
        With `withhold_personal_data` and no master key, personal fields read as `[withheld]`
        instead (for queries that print none, such as `loan` and `schedule`); a key, when
        there is one, is used as always.
        """
        settings = parse_store_url(resolve_store_url(url))
        keyring = load_keyring(
            master_key, previous_master_key, os.environ, ephemeral=settings.kind == "memory"
        )
        return open_store(
            settings,
            lambda: cls(
                settings,
                clock=clock,
                keyring=keyring,
                withhold_personal_data=withhold_personal_data,
            ),
        )

    def _decode(self, stored: Iterable[StoredEvent]) -> list[DomainEvent]:
        """Stored events as events, in one batch: a page of the notification log for the
        projection engine, a loan's events for its snapshots' loads."""
        assert isinstance(self.mapper, LedgerMapper)
        return self.mapper.to_domain_events(stored)

    # --- eventsourcing hooks -------------------------------------------------------------------

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # The store URL alone decides the persistence settings: unlike eventsourcing's default,
        # the process environment is not merged in, so a stray variable cannot change the store.
        return Environment(name, dict(env or {}))

    def construct_mapper(self) -> LedgerMapper:
        return LedgerMapper(self._heads, self.data_keys)

    def close(self) -> None:
        """Close the store's connections and drop this ledger's caches.

        The ledger and its projections refer to each other (the loaders are its methods), so
        without this its caches (the loan_state projection's kept loans and walks, decoded
        events, the borrower map) would stay as cyclic garbage until a full collection of the
        process's heap, which then costs a later, unrelated call up to a second (B3 measured
        it)."""
        self.loan_state.release()
        self._drop_caches()
        super().close()
        self.read_store.close()

    # --- audit (`loanledger.application.audit`) ---------------------------------------------------

    def verify(
        self,
        against: dict[str, Any] | str | PathLike[str] | None = None,
        *,
        workers: int = 1,
        scheduler: str | None = None,
    ) -> VerifyResult:
        """Recompute every loan's hash chain from the stored bytes and hold the events against
        `against` (a checkpoint dict or its JSON file) and every stored checkpoint; name the
        first break (`loanledger.persistence.book_audit`). With `workers` > 1 or a Dask
        `scheduler` address, the chains and snapshots are checked in partitions of loans on
        Dask, to the same result (`application/partitioned_verify.py`)."""
        if workers == 1 and scheduler is None:
            return self.audit.verify(against)
        from loanledger.application.partitioned_verify import verify_partitioned

        given = against if against is None or isinstance(against, dict) else str(against)
        return verify_partitioned(self, workers, scheduler, given)

    def checkpoint(self) -> dict[str, Any]:
        """Record and return the Merkle tree head of every stored event (DESIGN §12)."""
        return self.audit.checkpoint()

    def prove(
        self, loan_id: str, checkpoint: dict[str, Any] | str | PathLike[str] | None = None
    ) -> dict[str, Any]:
        """The inclusion proof of the loan's events under `checkpoint` (else the latest stored
        one), which `loanledger.proof.check_inclusion` checks without a store."""
        return self.audit.prove(loan_id, checkpoint)

    def prove_consistency(
        self, old: dict[str, Any] | str | PathLike[str], new: dict[str, Any] | str | PathLike[str]
    ) -> dict[str, Any]:
        """The proof that the book only grew from checkpoint `old` to checkpoint `new`."""
        return self.audit.prove_consistency(old, new)

    def archive(
        self, loan_id: str, *, unmasked: bool = False, actor: str = "unspecified"
    ) -> dict[str, Any]:
        """The loan archive (贷款业务管理档案): every stored fact with its chain proof and the
        state after it, the time-driven changes between facts and a summary. A loan whose
        stored bytes were altered still has an archive: it names the break and lists what
        follows it as unreadable. Personal data is masked unless `unmasked`, which is recorded
        in the personal-data log as an unmasked export by `actor`. See
        `loanledger.reports.archive`."""
        archive = self.audit.archive(loan_id, unmasked=unmasked)
        if unmasked:
            self.personal_data.record_unmasked_export(f"archive of {loan_id}", actor=actor)
        return archive

    def archive_html(
        self, loan_id: str, *, unmasked: bool = False, actor: str = "unspecified"
    ) -> str:
        """The archive as a page to read and print (masked unless `unmasked`, as `archive`)."""
        page = self.audit.archive_html(loan_id, unmasked=unmasked)
        if unmasked:
            self.personal_data.record_unmasked_export(f"archive of {loan_id} (html)", actor=actor)
        return page

    # --- personal data (`loanledger.application.personal_data`) -----------------------------------

    def forget_borrower(self, borrower_id: str, *, actor: str = "unspecified") -> dict[str, Any]:
        """Crypto-shred a borrower: destroy their data key, so that their name and identity
        number read as `[erased]` everywhere (loan, reports, archive, exports), while amounts,
        reports, `verify()` and `rebuild()` are unchanged. The forgetting is logged (time,
        actor, destroyed key id) in the personal-data log. Forgetting twice changes nothing;
        a borrower the ledger never recorded raises `UnknownBorrowerError`."""
        return self.personal_data.forget_borrower(borrower_id, actor=actor)

    def forget_guarantor(self, guarantor_id: str, *, actor: str = "unspecified") -> dict[str, Any]:
        """Crypto-shred a guarantor the same way (their name reads as `[erased]`)."""
        return self.personal_data.forget_guarantor(guarantor_id, actor=actor)

    def rotate_master_key(
        self, new_master_key: str | bytes, *, actor: str = "unspecified"
    ) -> dict[str, Any]:
        """Re-wrap every data key under `new_master_key` (no event is touched); from then on
        this ledger wraps with the new key. See the README for the procedure across processes.
        """
        return self.personal_data.rotate_master_key(new_master_key, actor=actor)

    def personal_data_log(self) -> list[dict[str, str]]:
        """What was done with personal data, oldest first: `forget`, `unmasked_export`,
        `rotate_master_key` rows with their time, subject, actor and detail."""
        return self.personal_data.personal_data_log()

    def export_loan_level(
        self,
        as_of: date | str,
        known_at: datetime | str | None = None,
        *,
        unmasked: bool = False,
        actor: str = "unspecified",
        headers: str = "en",
    ) -> list[dict[str, Any]]:
        """The loan-level report (个人信贷分户账): masked, or with `unmasked=True` in full, which
        is logged (WARNING on `loanledger.audit` and a row in the personal-data log) before
        any row is built. Forgotten borrowers read as `[erased]` either way. Each row has the
        grade's code and Chinese name, the product, rate type and loan-loss allowance;
        `headers="zh"` gives the columns Chinese headers (`reports.regulator.ZH_HEADERS`)."""
        return self.personal_data.export_loan_level(
            as_of,
            known_at,
            unmasked=unmasked,
            actor=actor,
            headers=headers,
            allowances=self.loan_allowances,
        )

    def record_unmasked_export(self, what: str, *, actor: str = "unspecified") -> None:
        """Log an export of unmasked personal data (for exports built outside the ledger)."""
        self.personal_data.record_unmasked_export(what, actor=actor)
