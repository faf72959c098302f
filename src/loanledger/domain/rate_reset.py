"""The fact a floating-rate loan records when its rate resets (`domain.loan.rate_resets`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from loanledger.domain.event import DomainEvent


class RateReset(DomainEvent):
    """A floating-rate loan's rate reset on `effective_date`: index value used, spread, the new
    rate (index + spread within the floor and cap) and the rate before."""

    index: str
    index_rate: Decimal
    index_published_on: date
    spread: Decimal
    annual_rate: Decimal
    previous_rate: Decimal
    corrects_version: int | None = None
    """A reset recorded again for the same date (a backdated index value): the version of the
    `RateReset` it supersedes."""
