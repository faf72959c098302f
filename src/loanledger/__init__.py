"""loanledger: an event-sourced loan ledger (贷前 / 贷中 / 贷后) with verifiable history."""

import logging

from loanledger.application import LoanLedger
from loanledger.domain.errors import (
    ConcurrencyError,
    CorruptHistoryError,
    DomainError,
    LoanLedgerError,
    MasterKeyMismatchError,
    MasterKeyMissingError,
    PersonalDataKeyError,
    StoreDataError,
    StoreUnavailableError,
    UnknownBorrowerError,
)
from loanledger.persistence.verify import ChainBreak, VerifyResult
from loanledger.projection.stuck import StaleReadModelWarning

__all__ = [
    "ChainBreak",
    "ConcurrencyError",
    "CorruptHistoryError",
    "DomainError",
    "LoanLedger",
    "LoanLedgerError",
    "MasterKeyMismatchError",
    "MasterKeyMissingError",
    "PersonalDataKeyError",
    "StaleReadModelWarning",
    "StoreDataError",
    "StoreUnavailableError",
    "UnknownBorrowerError",
    "VerifyResult",
]
__version__ = "0.1.0"

# A library leaves logging to the application: without this handler Python's last-resort handler
# would print the audit warnings (`loanledger.audit`) on stderr by itself.
logging.getLogger("loanledger").addHandler(logging.NullHandler())
