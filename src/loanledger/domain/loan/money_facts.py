"""A loan's money facts (the money walk's input) put together again after repayments alone were
recorded: `loan_state` asks for them at each of a loan's moments, one after the other, and most
of those moments add one repayment to what the loan remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from loanledger.domain.loan.memo import EVENT_VALUES
from loanledger.domain.loan_events import RepaymentReceived
from loanledger.domain.servicing import MoneyFact

LENGTH, LAST = 6, 11
"""Where a money-facts basis (`LoanCore.money_facts`: the 5 ends, then the length of each of the 5
lists, then its last event) holds the repayments' length and last event (the second list)."""


def _others(basis: tuple[object, ...]) -> tuple[object, ...]:
    """Everything in `basis` but the repayments."""
    return basis[:LENGTH] + basis[LENGTH + 1 : LAST] + basis[LAST + 1 :]


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
    if _others(earlier) != _others(basis):  # compared as the cache compares a whole basis
        return None
    known = earlier[LENGTH]
    assert isinstance(known, int)
    if known >= len(repayments) or (known and repayments[known - 1] is not earlier[LAST]):
        return None
    at = disbursements + known
    added = [EVENT_VALUES.get(event, fact_of) for event in repayments[known:]]
    return [*facts[:at], *added, *facts[at:]]
