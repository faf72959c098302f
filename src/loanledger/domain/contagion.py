"""Borrower-level contagion (风险传染): when more than the rule set's share of a borrower's
outstanding balances is non-performing (substandard or worse), every loan of the borrower is
graded non-performing too.

The rule is decided here once, from the borrower's disbursed loans' outstanding principal and
grades; the replay (`LoanLedger`, over the loans themselves) and the `loan_state` read model
(`projection.loan_state.contagious_borrowers`, over its rows) only gather those figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from loanledger.domain.rules import CLASSIFICATIONS

NON_PERFORMING_FROM = "substandard"
"""The first grade that counts as non-performing (不良): substandard, doubtful, loss."""

CONTAGION_REASON = "borrower non-performing elsewhere (contagion)"


def is_non_performing(classification: str) -> bool:
    """Whether a grade is substandard or worse."""
    return CLASSIFICATIONS.index(classification) >= CLASSIFICATIONS.index(NON_PERFORMING_FROM)


def contagion_spreads(balances: Iterable[tuple[Decimal, str]], share: Decimal) -> bool:
    """Whether more than `share` (the rule set's `contagion_non_performing_share`) of a
    borrower's outstanding principal is non-performing. `balances` holds, for each of the
    borrower's disbursed loans, its outstanding principal and its own grade (without contagion);
    with nothing outstanding, nothing spreads."""
    total = Decimal(0)
    non_performing = Decimal(0)
    for outstanding, classification in balances:
        total += outstanding
        if is_non_performing(classification):
            non_performing += outstanding
    return total != 0 and non_performing / total > share


def spread_to(classification: str, reasons: list[str]) -> tuple[str, list[str]]:
    """A grade once the borrower is non-performing elsewhere (contagion): below substandard it
    becomes substandard, with the reason added; at or above it stays."""
    if CLASSIFICATIONS.index(classification) < CLASSIFICATIONS.index("substandard"):
        return "substandard", [*reasons, CONTAGION_REASON]
    return classification, reasons
