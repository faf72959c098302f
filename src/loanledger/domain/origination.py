"""The loan-to-value ratio at origination, and when a later LTV is a breach (issue 23 §2).

IFRS 9 stage 2 is a *significant increase in credit risk since initial recognition*: it is
measured against the loan as it was made, so a loan cannot have deteriorated on its first day.
The LTV when the loan is first both disbursed and secured is therefore its origination LTV, and
the `ltv_breach` warning (which moves a loan to stage 2) needs all of:

- a collateral fact (revaluation, pledge or release) effective after that origination date,
- an LTV above the rule set's threshold (DESIGN §7: "LTV after a revaluation > 0.8"), and
- an LTV above the origination LTV (a rise since initial recognition).

A high LTV at origination is a pre-loan matter for the credit officer (a worklist item on the
origination date), never a stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from loanledger.domain.rules import RuleSet

LTV_PLACES = Decimal("0.0001")


class CollateralFacts(Protocol):
    """What the origination LTV needs of a loan's post-loan state."""

    as_of: date
    origination_on: date | None
    origination_principal: Decimal
    collateral_history: list[tuple[date, Decimal]]


@dataclass(frozen=True)
class Origination:
    """The date the loan was first both disbursed and secured, and its LTV then."""

    on: date
    ltv: Decimal


def origination(state: CollateralFacts) -> Origination | None:
    """None before disbursement, or while the loan has never been secured."""
    if state.origination_on is None:
        return None
    secured_on = next((day for day, value in state.collateral_history if value > 0), None)
    if secured_on is None:
        return None
    on = max(state.origination_on, secured_on)
    value = Decimal(0)
    for day, total in state.collateral_history:
        if day > on:
            break
        value = total
    if value <= 0:
        return None
    ltv = (state.origination_principal / value).quantize(LTV_PLACES, rounding=ROUND_HALF_UP)
    return Origination(on, ltv)


def ltv_breached(state: CollateralFacts, ltv: Decimal | None, rules: RuleSet) -> bool:
    """Whether `ltv` (today's) is a breach: above the threshold, after a collateral fact later
    than origination, and above the origination LTV."""
    if ltv is None or ltv <= rules.ltv_warning_above:
        return False
    made = origination(state)
    if made is None:
        return False
    if not any(day > made.on for day, _ in state.collateral_history):
        return False
    return ltv > made.ltv


def made_today(state: CollateralFacts) -> bool:
    """Whether the state's date is the loan's first disbursement date (initial recognition):
    on it a loan cannot have deteriorated since initial recognition, so its IFRS 9 stage
    follows days past due (and a write-off) alone."""
    return state.origination_on == state.as_of


def origination_item(state: CollateralFacts, as_of: date, rules: RuleSet) -> str | None:
    """The worklist detail for a loan made with an LTV above the threshold, on that date."""
    made = origination(state)
    if made is None or made.on != as_of or made.ltv <= rules.ltv_warning_above:
        return None
    return f"ltv {made.ltv} above {rules.ltv_warning_above} at origination"
