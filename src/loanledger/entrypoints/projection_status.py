"""`loanledger project --status`: each projection's position, lag and stuck event, without the
stale-read warning the catch-up would print (the status says it better)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from loanledger.projection.stuck import StaleReadModelWarning

if TYPE_CHECKING:
    from loanledger.application import LoanLedger


def projection_status(ledger: LoanLedger) -> list[dict[str, Any]]:
    """`ledger.projection_status()` with its stale-read warning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StaleReadModelWarning)
        return ledger.projection_status()
