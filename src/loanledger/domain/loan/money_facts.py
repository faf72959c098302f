"""A loan's money facts (the money walk's input) put together again after repayments alone were
recorded: `loan_state` asks for them at each of a loan's moments, one after the other, and most
of those moments add one repayment to what the loan remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from loanledger.domain.loan.memo import EVENT_VALUES
from loanledger.domain.loan_events import RepaymentReceived
from loanledger.domain.servicing import MoneyFact

SAME = (0, 1, 2, 3, 4, 10, 12, 13, 14)
"""Where a money-facts basis (`LoanCore.money_facts`: the 5 ends, then the length of each list,
then its last event; the repayments are the second list) holds an event that must be the same."""


def with_new_repayments(
    cached: tuple[tuple[object, ...], list[MoneyFact]],
    basis: tuple[object, ...],
    disbursements: int,
    repayments: Sequence[RepaymentReceived],
    fact_of: Callable[[RepaymentReceived], MoneyFact],
) -> list[MoneyFact] | None:
    """The facts `cached` with their basis, with those of the repayments recorded since put in
    their place, when repayments are all that was added; else None (build them again).
    `_build_money_facts` lists one fact per disbursement, then one per repayment."""
    earlier, facts = cached
    if any(earlier[i] is not basis[i] for i in SAME):
        return None
    if any(earlier[i] != basis[i] for i in (5, 7, 8, 9)):
        return None
    known = earlier[6]
    assert isinstance(known, int)
    if known >= len(repayments) or (known and repayments[known - 1] is not earlier[11]):
        return None
    at = disbursements + known
    added = [EVENT_VALUES.get(event, fact_of) for event in repayments[known:]]
    return [*facts[:at], *added, *facts[at:]]
