"""Journal loan ids and the aggregate UUIDs they name.

Loan ids in the journal are strings ("L-0001"). The aggregate UUID is derived from the loan id
with uuid5 under a fixed namespace, so the same loan id is the same stream in every store and
every process, and a command never needs a lookup table to find its loan.
"""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

from loanledger.domain.text import check_lookup

LOAN_NAMESPACE = UUID("6f1c2a4e-2d0b-5b8e-9a51-4c0a9e3f7d21")
"""Fixed forever: changing it would orphan every stored loan."""


@lru_cache(maxsize=100_000)
def loan_uuid(loan_id: str) -> UUID:
    """The aggregate id of the loan with journal id `loan_id` (pure, so remembered: every
    command and query derives it). An id no store could hold is `InvalidCommandError`."""
    return uuid5(LOAN_NAMESPACE, check_lookup(loan_id, "loan_id"))
