"""Rate indices (基准利率): published values of an index such as the Loan Prime Rate (贷款市场报价
利率, `LPR1Y`, `LPR5Y`), recorded as book facts on one stream per index (issue 19 item 5).

Each `publish_rate` records a `RatePublished` fact on the index's own stream (`index:LPR5Y`,
hash-chained and verified like every stream). The value **in force** on a business date is the
one published with the latest `on` on or before that date, as known at a recorded moment.

Publishing the same (index, on, rate) again records nothing (idempotent). Publishing a different
rate for an (index, on) already published is a **correction**: a new fact that supersedes the
old one from the moment it is recorded, so a question asked as known before the correction still
gets the old value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from loanledger.domain.aggregate import FactStream
from loanledger.domain.errors import InvalidIndexRateError, NoIndexRateError
from loanledger.domain.money import parse_decimal
from loanledger.domain.policy import BookEvent

INDEX_RATE_MIN = Decimal(0)
INDEX_RATE_MAX = Decimal("0.30")
"""A published index value outside 0%..30% is a typo (the LPR has been 3-6%), not a rate."""

INDEX_RATE_PLACES = 6
"""Indices are quoted in basis points or hundredths of them; more places is a typo."""


def index_stream(index: str) -> str:
    """The `loan_id` an index's facts carry (their stream's name in verify and the archive)."""
    return f"index:{index}"


def index_rate(value: object, what: str = "rate") -> Decimal:
    """A published index value: a decimal fraction within 0..0.30 with at most 6 places."""
    parsed = parse_decimal(value, what, error=InvalidIndexRateError)
    if not INDEX_RATE_MIN <= parsed <= INDEX_RATE_MAX:
        raise InvalidIndexRateError(
            f"an index {what} must be between {INDEX_RATE_MIN} and {INDEX_RATE_MAX} "
            f"(a fraction, 0.0385 for 3.85%), got {value}"
        )
    exponent = parsed.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > INDEX_RATE_PLACES:
        raise InvalidIndexRateError(
            f"an index {what} has at most {INDEX_RATE_PLACES} decimal places, got {value}"
        )
    return parsed


class RatePublished(BookEvent):
    """One published value of a rate index, effective from `effective_date`."""

    index: str
    rate: Decimal
    published_by: str | None = None

    def create_aggregate(self) -> Any:
        return RateIndex(self.originator_id)


@dataclass(frozen=True)
class IndexValue:
    """The value of an index in force on a date, and the fact that published it."""

    index: str
    rate: Decimal
    published_on: date
    version: int


class RateIndex(FactStream[RatePublished]):
    """The stream of one index's published values."""

    fact_type = RatePublished
    what = "a rate index"

    def published(self, on: date, known_at: datetime | None = None) -> RatePublished | None:
        """The fact publishing the value for exactly `on`, as known at `known_at` (the latest
        recorded: a correction supersedes what it corrects)."""
        found = None
        for fact in self.facts:
            if fact.effective_date == on and (known_at is None or fact.timestamp <= known_at):
                found = fact
        return found

    def publish(
        self, index: str, on: date, rate: Decimal, recorded_at: datetime, published_by: str | None
    ) -> RatePublished | None:
        """Record `rate` as the index's value from `on`; None when exactly that is published
        already (a replayed journal line records nothing twice)."""
        current = self.published(on)
        if current is not None and current.rate == rate:
            return None
        return self.trigger(
            RatePublished,
            recorded_at,
            loan_id=index_stream(index),
            effective_date=on,
            index=index,
            rate=rate,
            published_by=published_by,
        )

    def in_force(self, index: str, on: date, known_at: datetime | None = None) -> IndexValue:
        """The value in force on `on` (the latest published on or before it; for one date, the
        latest recorded), as known at `known_at`; NoIndexRateError when none is."""
        found = self.latest_in_force(on, known_at)
        if found is None:
            raise NoIndexRateError(
                f"index {index!r} has no value published on or before {on.isoformat()}"
                + (
                    f" (its first value is effective from "
                    f"{min(f.effective_date for f in self.facts).isoformat()})"
                    if self.facts
                    else ""
                )
            )
        return IndexValue(index, found.rate, found.effective_date, found.originator_version)
