"""What every job of the ledger reads: the state `LoanLedger.__init__` builds, and the rules and
future horizon in force (the book's policy over the defaults).

The jobs are mixins over `LedgerBase` (`loans`, `grading`, `close_of_day`, `commands`,
`queries`, `desk`, `chain`): they share the loan loader and its caches, and tests reach their
private hooks on the ledger (`ledger._stage`, `ledger._close_loan_day`, ...).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from eventsourcing.application import Application

from loanledger.application.book import BookCache, BookRegister
from loanledger.application.dates import Clock, parse_as_of, parse_known_at
from loanledger.domain.commands import Command
from loanledger.domain.horizon import FutureHorizon
from loanledger.domain.loan import Loan
from loanledger.domain.products.catalogue import ProductVersion
from loanledger.domain.provisions import ProvisionRules
from loanledger.domain.rules import RuleSet
from loanledger.persistence.chain import ChainHeads
from loanledger.persistence.keys import DataKeys
from loanledger.persistence.read_store import ReadStore
from loanledger.persistence.snapshots import Snapshots
from loanledger.persistence.transparency import TransparencyLog
from loanledger.persistence.urls import StoreSettings
from loanledger.projection.engine import ProjectionEngine
from loanledger.projection.loan_index import LoanIndexProjection
from loanledger.projection.loan_state import LoanStateProjection
from loanledger.projection.notices import NoticesProjection


class LedgerBase(Application[UUID]):
    """The ledger's state, declared for the job mixins (built by `LoanLedger.__init__`)."""

    settings: StoreSettings
    clock: Clock
    _heads: ChainHeads
    _borrowers: tuple[int, int, dict[str, tuple[str, ...]]] | None
    data_keys: DataKeys
    rules: RuleSet
    default_horizon: FutureHorizon
    book: BookRegister
    _closing_rules: dict[date, RuleSet]
    create_tables: bool
    read_store: ReadStore
    loan_index: LoanIndexProjection
    loan_state: LoanStateProjection
    notices: NoticesProjection
    projections: ProjectionEngine
    loan_snapshots: Snapshots
    _closed_days: dict[str, str]
    transparency: TransparencyLog

    def recorded_at_for(self, loan: Loan) -> datetime:
        """The recorded time of the loan's next facts: now, but never before its last recorded
        fact (recorded time never runs backwards within a loan, even if the clock does)."""
        now = self.clock()
        return max(now, loan.modified_on) if loan.modified_on else now

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

    def product_version(self, command: Command, loan: Loan | None) -> ProductVersion | None:
        """The product version an `apply` naming a product, or an `approve` of a loan on one,
        is checked against (see `BookRegister.product_for`); None otherwise."""
        return self.book.product_for(command, loan)

    def rules_on(self, on: date, known_at: datetime | None = None) -> RuleSet:
        """The rule set in force on `on` (as adopted by `set_policy`, known at `known_at`)."""
        return self.book.rules(on, known_at)

    def provisioning_on(self, on: date, known_at: datetime | None = None) -> ProvisionRules:
        """The provision rule set in force on `on` (`set_policy` provisioning)."""
        return self.book.policy(on, known_at).provisioning

    def parse_dates(
        self, as_of: date | str, known_at: datetime | str | None
    ) -> tuple[date, datetime | None]:
        return parse_as_of(as_of), parse_known_at(known_at)
