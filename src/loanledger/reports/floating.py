"""The rate block of a floating-rate loan's view: its index, spread, the rate in force, the
index value it was set from, the next reset date and the APR at the rate in force."""

from __future__ import annotations

from datetime import date
from typing import Any

from loanledger.domain.loan import Loan
from loanledger.domain.rules import RuleSet


def rate_view(loan: Loan, on: date, rules: RuleSet) -> dict[str, Any] | None:
    """`rate` of the loan view on `on` (None for a fixed-rate loan, whose view is unchanged)."""
    floating = loan.floating()
    if floating is None:
        return None
    resets = [event for day, event in sorted(loan.recorded_resets().items()) if day <= on]
    annual_rate = resets[-1].annual_rate if resets else loan.rate_on(on)
    index_rate = resets[-1].index_rate if resets else floating.index_rate_at_approval
    next_reset = loan.next_reset_date(on)
    apr = loan.apr(rules, annual_rate=annual_rate, as_of=on)
    return {
        "type": "floating",
        "index": floating.index,
        "spread": format(floating.spread, "f"),
        "index_rate": format(index_rate, "f") if index_rate is not None else None,
        "annual_rate": format(annual_rate, "f"),
        "reset": floating.reset,
        "next_reset_date": next_reset.isoformat() if next_reset is not None else None,
        "apr": f"{apr:.4f}" if apr is not None else None,
    }


def rate_periods(loan: Loan, on: date) -> str:
    """For `explain` of interest: the rate periods of a floating loan up to `on` ("" for a
    fixed-rate loan), e.g. "; interest at 0.0455 from 2024-01-10, 0.042 from 2025-01-15"."""
    if loan.floating() is None or loan.approval is None:
        return ""
    periods = [f"{format(loan.approval.annual_rate, 'f')} from {loan.approval.effective_date}"]
    periods.extend(
        f"{format(event.annual_rate, 'f')} from {day.isoformat()} (RateReset, {event.index} "
        f"{format(event.index_rate, 'f')} + {format(event.spread, 'f')})"
        for day, event in sorted(loan.recorded_resets().items())
        if day <= on
    )
    return "; interest at " + ", ".join(periods)
