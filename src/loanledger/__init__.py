"""loanledger: an event-sourced loan ledger (贷前 / 贷中 / 贷后) with verifiable history."""

from loanledger.application import LoanLedger
from loanledger.domain.errors import (
    ConcurrencyError,
    CorruptHistoryError,
    DomainError,
    LoanLedgerError,
    StoreUnavailableError,
)
from loanledger.persistence.verify import ChainBreak, VerifyResult

__all__ = [
    "ChainBreak",
    "ConcurrencyError",
    "CorruptHistoryError",
    "DomainError",
    "LoanLedger",
    "LoanLedgerError",
    "StoreUnavailableError",
    "VerifyResult",
]
__version__ = "0.1.0"
