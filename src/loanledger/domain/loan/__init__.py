"""The Loan aggregate: the rules that decide whether a fact may be recorded, and its history.

Commands are checked against everything recorded so far; a refused command raises a
`DomainError` subclass naming the rule and leaves no pending event behind (the caller discards
the aggregate). Derived figures are not stored on the aggregate: `position` and `status_on`
compute them from the facts for any business date, and `as_known_at` rebuilds the aggregate from
the facts recorded up to a moment, which is how `known_at` queries work.

Where each part lives, by stage of the loan's life:

- `aggregate`: the core (state, replay through `APPLIERS`, money facts, position, postings,
  status) and the guards every handler shares;
- `preloan`: application, investigation, review, approval, rejection, withdrawal;
- `money`: disbursement, repayment, refund, revised allocations;
- `security`: collateral, guarantors, post-loan checks, notices acknowledged;
- `legal`: downgrade, arbitration, award, enforcement, recovery;
- `endings`: write-off, restructure, close;
- `close_of_day`: the notices and grade changes a business day owes one loan;
- `dispatch`: `Loan` itself (the core and every stage's handlers as one class) and `handle`;
- `results`: `Outcome` and the JSON summaries of the money commands;
- `memo`: the process-wide memo of values derived from one event; `limits`: what a loan may
  accumulate; `money_facts`: the money facts put together again after repayments alone.
"""

from loanledger.domain.loan.aggregate import APPLIERS, LoanCore
from loanledger.domain.loan.dispatch import HANDLERS, Loan
from loanledger.domain.loan.limits import (
    MAX_CASES,
    MAX_COLLATERAL_ITEMS,
    MAX_GUARANTORS,
    MAX_REPAYMENTS,
    MAX_RESTRUCTURES,
    MAX_TRANCHES,
)
from loanledger.domain.loan.memo import event_values_scoped
from loanledger.domain.loan.results import Outcome

__all__ = [
    "APPLIERS",
    "HANDLERS",
    "MAX_CASES",
    "MAX_COLLATERAL_ITEMS",
    "MAX_GUARANTORS",
    "MAX_REPAYMENTS",
    "MAX_RESTRUCTURES",
    "MAX_TRANCHES",
    "Loan",
    "LoanCore",
    "Outcome",
    "event_values_scoped",
]
