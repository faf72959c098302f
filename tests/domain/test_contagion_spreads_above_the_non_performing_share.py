"""Borrower-level contagion (风险传染): when more than the rule set's share (10% in CN-2023) of
a borrower's outstanding principal is substandard or worse, every loan of the borrower is graded
at least substandard, with the reason named."""

from __future__ import annotations

from decimal import Decimal

from loanledger.domain.contagion import CONTAGION_REASON, contagion_spreads, spread_to
from loanledger.domain.rules import CN_2023

SHARE = CN_2023.contagion_non_performing_share


def test_a_non_performing_share_above_the_threshold_spreads() -> None:
    balances = [(Decimal("8900.00"), "normal"), (Decimal("1100.00"), "substandard")]

    assert contagion_spreads(balances, SHARE)


def test_a_share_exactly_at_the_threshold_does_not_spread() -> None:
    balances = [(Decimal("9000.00"), "normal"), (Decimal("1000.00"), "doubtful")]

    assert not contagion_spreads(balances, SHARE)


def test_special_mention_is_not_non_performing() -> None:
    balances = [(Decimal("1000.00"), "normal"), (Decimal("9000.00"), "special_mention")]

    assert not contagion_spreads(balances, SHARE)


def test_a_borrower_with_nothing_outstanding_spreads_nothing() -> None:
    assert not contagion_spreads([(Decimal(0), "loss"), (Decimal(0), "normal")], SHARE)
    assert not contagion_spreads([], SHARE)


def test_contagion_lowers_a_better_grade_to_substandard_and_says_why() -> None:
    assert spread_to("normal", ["ltv"]) == ("substandard", ["ltv", CONTAGION_REASON])


def test_contagion_leaves_a_grade_already_non_performing() -> None:
    assert spread_to("doubtful", []) == ("doubtful", [])
