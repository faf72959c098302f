"""The application layer: `LoanLedger`, the facade that records loans and answers questions.

Each job of the ledger has its own module:

- `ledger`: `LoanLedger` itself, wiring the stores, projections and services together;
- `store`: opening the stores (schema lock) and the driver-error guards of every public method;
- `chain`: sealing new events into each loan's hash chain in the transaction that stores them
  (the one override of eventsourcing's private `Application._record`);
- `loans`: loading a loan from its events (`LoanEvents`, the decoded-event cache);
- `grading`: the borrower-level contagion rule as the ledger applies it;
- `commands`, `retries`: `execute`, `load`, `batch` and re-running a command after a lost race;
- `close_of_day`, `close_gap`: the day's servicing, and closing the days skipped since the last;
- `queries`: the loan view, schedules, reports and their read models, reconciliation;
- `desk`, `whatif`, `off_balance`: payoff, installments, statements, explain, what-if branches;
- `audit`, `personal_data`: services for verify/checkpoint/prove/archive, and for forgetting
  people, rotating the master key and logging unmasked exports;
- `book`: the book's policy and staff register; `journal`: reading journal lines;
- `dates`, `base`: the clock and date parsing; the state every job reads.
"""

from loanledger.application.close_of_day import CLOSE_DAY_LOANS_PER_PAUSE
from loanledger.application.commands import (
    LOAD_BATCH_EVENTS,
    LOAD_KEPT_EVENTS,
    LOAD_KEPT_LOANS,
    CommandBatch,
)
from loanledger.application.dates import Clock, parse_as_of, parse_known_at, system_clock
from loanledger.application.ledger import LoanLedger
from loanledger.application.loans import LoanEvents
from loanledger.application.personal_data import audit_log
from loanledger.application.queries import REPORTS, SUMMARY_REPORTS
from loanledger.application.retries import (
    MAX_COMMAND_ATTEMPTS,
    RETRY_BACKOFF_MAX_SECONDS,
    RETRY_BACKOFF_SECONDS,
)
from loanledger.application.risk import RISK_REPORTS
from loanledger.application.store import SCHEMA_LOCK_KEY, UNKNOWN_OUTCOME

__all__ = [
    "CLOSE_DAY_LOANS_PER_PAUSE",
    "LOAD_BATCH_EVENTS",
    "LOAD_KEPT_EVENTS",
    "LOAD_KEPT_LOANS",
    "MAX_COMMAND_ATTEMPTS",
    "REPORTS",
    "RETRY_BACKOFF_MAX_SECONDS",
    "RETRY_BACKOFF_SECONDS",
    "RISK_REPORTS",
    "SCHEMA_LOCK_KEY",
    "SUMMARY_REPORTS",
    "UNKNOWN_OUTCOME",
    "Clock",
    "CommandBatch",
    "LoanEvents",
    "LoanLedger",
    "audit_log",
    "parse_as_of",
    "parse_known_at",
    "system_clock",
]
