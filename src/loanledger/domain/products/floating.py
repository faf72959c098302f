"""Floating rates (浮动利率): a loan priced at a published index plus a spread, reset on its
reset dates (issue 19 item 5).

A floating product names an index (`LPR5Y`), a spread (`"0.0035"` = +35 bp; negative spreads
are allowed, as "LPR − 20 bp" mortgages have), a reset rule and optionally a floor and a cap on
the resulting rate. The loan's contract rate is `index in force + spread`, clamped to the floor
and cap (and never below 0):

* at approval, with the index value in force on the approval date (the approved `annual_rate`
  must equal it: the contract states the rate it was signed at);
* on each **reset date** before maturity, with the index value in force on that date:
  `anniversary` — each anniversary of the first disbursement (贷款发放日对应日: a loan disbursed
  15 March resets each 15 March; 29 February resets on 28 February in other years), or
  `january_first` — each 1 January after the first disbursement (每年1月1日).

This module is the rule itself, pure; the loan records each reset as a `RateReset` fact
(`domain.loan.rate_resets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from loanledger.domain.calendar import add_months

RESET_RULES = ("anniversary", "january_first")
ResetRule = Literal["anniversary", "january_first"]

SPREAD_LIMIT = Decimal("0.10")
"""A spread beyond ±10 percentage points over a benchmark rate is a typo, not a price."""


@dataclass(frozen=True)
class FloatingRate:
    """The floating-rate terms of a product, as pinned on a loan."""

    index: str
    spread: Decimal
    reset: str
    floor: Decimal | None = None
    cap: Decimal | None = None
    index_rate_at_approval: Decimal | None = None
    """The index value the approved rate was set from (pinned loans only)."""

    def rate_for(self, index_rate: Decimal) -> Decimal:
        """The contract rate for an index value: index + spread, within the floor and cap."""
        rate = index_rate + self.spread
        if self.floor is not None:
            rate = max(rate, self.floor)
        if self.cap is not None:
            rate = min(rate, self.cap)
        # Normalised, so 0.0385 + 0.0035 reads 0.042 (as the rate is quoted), not 0.0420.
        return max(rate, Decimal(0)).normalize()

    def reset_dates(self, first_disbursed_on: date, maturity: date) -> list[date]:
        """Every reset date after the first disbursement and before maturity, in order."""
        dates: list[date] = []
        years = 1
        while True:
            if self.reset == "anniversary":
                day = add_months(first_disbursed_on, 12 * years)
            else:
                day = date(first_disbursed_on.year + years, 1, 1)
            if day >= maturity:
                return dates
            dates.append(day)
            years += 1

    def next_reset_after(self, day: date, first_disbursed_on: date, maturity: date) -> date | None:
        """The first reset date after `day` (None: no reset is left before maturity)."""
        return next((d for d in self.reset_dates(first_disbursed_on, maturity) if d > day), None)

    def as_fields(self) -> dict[str, str]:
        """The stored form (in `ProductDefined.rate` and `ProductPinned.pricing["rate"]`)."""
        fields = {
            "type": "floating",
            "index": self.index,
            "spread": format(self.spread, "f"),
            "reset": self.reset,
        }
        for name in ("floor", "cap", "index_rate_at_approval"):
            value = getattr(self, name)
            if value is not None:
                fields[name] = format(value, "f")
        return fields

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> FloatingRate:
        def optional(name: str) -> Decimal | None:
            value = fields.get(name)
            return Decimal(value) if value is not None else None

        return cls(
            index=fields["index"],
            spread=Decimal(fields["spread"]),
            reset=fields["reset"],
            floor=optional("floor"),
            cap=optional("cap"),
            index_rate_at_approval=optional("index_rate_at_approval"),
        )
