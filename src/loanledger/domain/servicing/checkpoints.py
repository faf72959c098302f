"""Finished walks remembered per loan, so a later derivation continues one instead of walking
from the start (exact, not an approximation: see the `domain.servicing` package docstring).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from loanledger.domain.rules import RuleSet
from loanledger.domain.servicing.figures import (
    MoneyFact,
    Terms,
)
from loanledger.domain.servicing.walk import Walk

MAX_CHECKPOINT_LOANS = 4096
"""Loans whose latest walks `Checkpoints` keeps (least recently used dropped first)."""

CHECKPOINTS_PER_LOAN = 2
"""Walks kept per loan: the latest ones derived (a loan is mostly derived on later dates)."""


@dataclass(frozen=True)
class _Checkpoint:
    facts: tuple[MoneyFact, ...]
    """Every fact the walk took, in walking order: those effective on or before its date."""
    walk: Walk
    """Finished at the end of `walk.position.as_of`; never changed again (resumed on a copy)."""


class Checkpoints:
    """Finished walks remembered per loan (keyed by its terms and rule set), bounded.

    A walk is reused only when the facts a new derivation takes up to the walk's date are exactly
    the ones it took (same kind, date, amount, reference and recording order): anything
    backdated to that date or earlier, or missing, rules it out.
    """

    def __init__(
        self, loans: int = MAX_CHECKPOINT_LOANS, per_loan: int = CHECKPOINTS_PER_LOAN
    ) -> None:
        self._loans = loans
        self._per_loan = per_loan
        self._walks: OrderedDict[tuple[Terms, RuleSet], list[_Checkpoint]] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._walks.clear()

    def find(
        self, terms: Terms, rules: RuleSet, ordered: Sequence[MoneyFact], as_of: date
    ) -> tuple[Walk, int] | None:
        """The latest remembered walk on or before `as_of` that `ordered` (the facts effective by
        `as_of`, in walking order) continues, and how many of those facts it has taken."""
        with self._lock:
            kept = self._walks.get((terms, rules))
            if kept is None:
                return None
            self._walks.move_to_end((terms, rules))
            candidates = list(kept)
        best: tuple[Walk, int] | None = None
        for checkpoint in candidates:
            day = checkpoint.walk.position.as_of
            taken = len(checkpoint.facts)
            if day > as_of or taken > len(ordered):
                continue
            if best is not None and day <= best[0].position.as_of:
                continue
            if taken < len(ordered) and ordered[taken].on <= day:
                continue  # a fact on or before that date that the walk did not take
            if tuple(ordered[:taken]) != checkpoint.facts:
                continue
            best = (checkpoint.walk, taken)
        return best

    def keep(self, terms: Terms, rules: RuleSet, facts: tuple[MoneyFact, ...], walk: Walk) -> None:
        checkpoint = _Checkpoint(facts, walk)
        key = (terms, rules)
        with self._lock:
            kept = self._walks.get(key)
            if kept is None:
                kept = self._walks[key] = []
            else:
                self._walks.move_to_end(key)
            kept.append(checkpoint)
            del kept[: -self._per_loan]
            while len(self._walks) > self._loans:
                self._walks.popitem(last=False)


CHECKPOINTS = Checkpoints()
"""The process's remembered walks (pure memory: the figures are those of a walk from scratch)."""
