"""Limits on what one loan may accumulate, so every derivation over its facts stays bounded."""

from __future__ import annotations

from loanledger.domain.errors import InvalidTermError
from loanledger.domain.schedule import MAX_TERM_MONTHS, MIN_TERM_MONTHS

MAX_REMEMBERED_POSITIONS = 64
"""Positions one Loan object keeps for reuse (a bound, since a loan may be read on many dates)."""

MAX_TRANCHES = 120
"""Disbursement tranches per loan: a limit keeps every derivation bounded."""

MAX_REPAYMENTS = 5000
"""Repayments per loan (a 30-year monthly loan needs 360; the rest is headroom for partials)."""

MAX_COLLATERAL_ITEMS = 100
MAX_GUARANTORS = 50
MAX_CASES = 50
MAX_RESTRUCTURES = 12
"""Limits on what a loan may accumulate, so every derivation stays bounded."""


def check_term(term_months: int) -> None:
    """Refuse a term (applied, approved or restructured) the schedule would not build."""
    if not MIN_TERM_MONTHS <= term_months <= MAX_TERM_MONTHS:
        raise InvalidTermError(
            f"term_months must be between {MIN_TERM_MONTHS} and {MAX_TERM_MONTHS}, "
            f"got {term_months}"
        )
