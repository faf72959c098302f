"""Deriving a position: walk the money facts effective by `as_of` (resuming a remembered walk
where the facts allow), and the same walk traced for `explain` (`penalty_windows`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from loanledger.domain.books import Books
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.domain.servicing.checkpoints import CHECKPOINTS
from loanledger.domain.servicing.figures import (
    MoneyFact,
    PenaltyWindow,
    Position,
    Terms,
)
from loanledger.domain.servicing.walk import Walk


def derive_position(
    terms: Terms,
    facts: Iterable[MoneyFact],
    as_of: date,
    rules: RuleSet = CN_2023,
    *,
    books: Books | None = None,
    remember: bool = True,
) -> Position:
    """Walk the money facts effective on or before `as_of` and return the position at its end.

    With `books`, the walk also records the general-ledger postings of every step (dated on or
    before `as_of`) into it. Without, the walk continues a remembered one where the facts allow
    (see the module docstring); the position returned may be shared and must not be changed.
    With `remember=False` the walk is not kept for later ones (a hypothetical fact's walk, such
    as a payoff quote's, which no recorded history continues)."""
    ordered = sorted(
        (fact for fact in facts if fact.on <= as_of), key=lambda fact: (fact.on, fact.sequence)
    )
    if books is not None:
        walk = Walk(terms, rules, as_of, books)
        _walk_facts(walk, ordered)
        walk.finish(as_of)
        books.postings = [posting for posting in books.postings if posting.on <= as_of]
        return walk.position
    found = CHECKPOINTS.find(terms, rules, ordered, as_of)
    if found is None:
        walk = Walk(terms, rules, as_of, None)
        walked = 0
    else:
        earlier, walked = found
        if earlier.position.as_of == as_of:
            return earlier.position  # the same facts on the same date: the same position
        walk = earlier.resumed(as_of)
    _walk_facts(walk, ordered[walked:])
    walk.finish(as_of)
    if remember:
        CHECKPOINTS.keep(terms, rules, tuple(ordered), walk)
    return walk.position


def penalty_windows(
    terms: Terms, facts: Iterable[MoneyFact], as_of: date, rules: RuleSet = CN_2023
) -> tuple[Position, list[PenaltyWindow]]:
    """The position at the end of `as_of` and every stretch of penalty accrued on the way, from
    a fresh walk (not a remembered one, whose earlier stretches were accrued before)."""
    ordered = sorted(
        (fact for fact in facts if fact.on <= as_of), key=lambda fact: (fact.on, fact.sequence)
    )
    walk = Walk(terms, rules, as_of, None)
    walk.trace = []
    _walk_facts(walk, ordered)
    walk.finish(as_of)
    return walk.position, walk.trace


def _walk_facts(walk: Walk, ordered: Iterable[MoneyFact]) -> None:
    for fact in ordered:
        walk.advance_to(fact.on)
        if fact.kind == "disburse":
            walk.disburse(fact)
        elif fact.kind == "repay":
            walk.repay(fact)
        elif fact.kind == "restructure":
            walk.restructure(fact)
        elif fact.kind == "misuse":
            walk.misuse(fact)
        elif fact.kind == "rate_reset":
            walk.rate_reset(fact)
        elif fact.kind == "write_off":
            walk.write_off(fact)
        elif fact.kind == "close":
            walk.close(fact)
        elif fact.kind == "refund":
            walk.refund(fact)
        else:
            raise ValueError(f"unknown money fact kind {fact.kind!r}")
        walk.note_arrears(fact.on)
