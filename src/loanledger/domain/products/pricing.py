"""The product terms pinned on a loan at approval (DESIGN §12): what prices and services it.

`Pricing` is the part of a product version that a loan keeps for life: day count, rounding,
penalty and misuse multipliers, the allocation strategy and grace days. It is recorded on the
loan (`ProductPinned`) when the loan is approved, so a later version of the product never
re-derives an existing loan, and the loan's figures stay a pure function of its own events.

A loan without a pinned product (every loan recorded before products existed, and every loan
that names none) is priced by the built-in default product, whose terms are the rule set's own
(CN-2023: ACT/360, HALF_UP, 1.5, 2, no grace, penalty → interest → principal): its figures are
today's, byte for byte.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from loanledger.domain.calendar import add_months
from loanledger.domain.money import Currency, round_to_minor
from loanledger.domain.products.floating import FloatingRate
from loanledger.domain.rates import DayCount
from loanledger.domain.rules import CN_2023, RuleSet

DEFAULT_PRODUCT_ID = "default"
"""The built-in product a loan without `product` is on (never recorded: it is the rule set)."""

DEFAULT_PRODUCT_VERSION = 0
"""The built-in product's version: 0, before any recorded version (which count from 1)."""

ROUNDINGS = {"HALF_UP": ROUND_HALF_UP, "HALF_EVEN": ROUND_HALF_EVEN}
"""Rounding names a product may give, and the decimal module's modes they stand for."""


class AllocationStrategy(StrEnum):
    """How a repayment is spread over what the borrower owes (issue 19 item 3).

    Every strategy goes to installments that have fallen due (on or before the payment date)
    first; what is left is held as overpayment (or prepays, with `prepay: true`), as by default.

    * `penalty_interest_principal` (default; Civil Code art. 561): oldest installment first, and
      within it penalty → interest → principal. Two overdue installments each owing 1.00 penalty,
      10.00 interest, 100.00 principal, and a payment of 115.00: the first is paid in full
      (111.00), then 1.00 penalty and 3.00 interest of the second.
    * `interest_principal_penalty`: oldest installment first, within it interest → principal →
      penalty (penalty last, so it never keeps principal overdue). The same payment: 10.00 +
      100.00 + 1.00 of the first, then 3.00 interest of the second.
    * `principal_interest_penalty`: oldest installment first, within it principal → interest →
      penalty. The same payment: 100.00 + 10.00 + 1.00 of the first, then 3.00 principal of the
      second.
    * `horizontal` (due installments first, then across them by kind): the penalty of every due
      installment (oldest first), then their interest, then their principal. The same payment:
      1.00 + 1.00 penalty, 10.00 + 10.00 interest, then 93.00 principal of the first.
    """

    PENALTY_INTEREST_PRINCIPAL = "penalty_interest_principal"
    INTEREST_PRINCIPAL_PENALTY = "interest_principal_penalty"
    PRINCIPAL_INTEREST_PENALTY = "principal_interest_penalty"
    HORIZONTAL = "horizontal"

    @property
    def order(self) -> tuple[str, str, str, str]:
        """The kinds paid, in order, within one installment (or across them: `horizontal`).

        A fee (an installment's share of an origination fee spread over the schedule, and its
        late fee) sits beside penalty, the other charge: right after it where penalty comes
        first, right before it where penalty comes last."""
        if self is AllocationStrategy.INTEREST_PRINCIPAL_PENALTY:
            return ("interest", "principal", "fee", "penalty")
        if self is AllocationStrategy.PRINCIPAL_INTEREST_PENALTY:
            return ("principal", "interest", "fee", "penalty")
        return ("penalty", "fee", "interest", "principal")


@dataclass(frozen=True)
class LateFeeTerms:
    """A product's late fee (滞纳金): charged once per installment, at the end of the day the
    installment is `after_days` days past due (counted like days past due: from the due date +
    the product's grace) if any of its principal, interest or scheduled fee is unpaid then.

    The fee is `flat`, or `percent` of the installment's principal and interest unpaid at that
    moment rounded to the minor unit with the product's rounding; it is at most `cap` per
    installment and, over the loan's life, at most `cap_per_loan` in all (the fee that would
    pass it is cut to what is left under it, later ones are 0)."""

    after_days: int
    flat: Decimal | None = None
    percent: Decimal | None = None
    cap: Decimal | None = None
    cap_per_loan: Decimal | None = None

    def charge(
        self, unpaid: Decimal, charged_before: Decimal, currency: Currency, rounding: str
    ) -> Decimal:
        """The fee on an installment whose principal and interest unpaid are `unpaid`, when the
        loan's late fees charged before come to `charged_before`."""
        if self.percent is not None:
            fee = round_to_minor(Fraction(unpaid) * Fraction(self.percent), currency, rounding)
        else:
            assert self.flat is not None
            fee = self.flat
        if self.cap is not None:
            fee = min(fee, self.cap)
        if self.cap_per_loan is not None:
            fee = min(fee, max(self.cap_per_loan - charged_before, Decimal(0)))
        return fee

    def as_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"after_days": self.after_days}
        for name in ("flat", "percent", "cap", "cap_per_loan"):
            value = getattr(self, name)
            if value is not None:
                fields[name] = format(value, "f")
        return fields

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> LateFeeTerms:
        def value(name: str) -> Decimal | None:
            found = fields.get(name)
            return Decimal(found) if found is not None else None

        return cls(
            after_days=int(fields["after_days"]),
            flat=value("flat"),
            percent=value("percent"),
            cap=value("cap"),
            cap_per_loan=value("cap_per_loan"),
        )


@dataclass(frozen=True)
class Pricing:
    """A product version's terms as pinned on one loan."""

    product_id: str
    version: int
    day_count: DayCount = DayCount.ACT_360
    rounding: str = ROUND_HALF_UP
    """A `decimal` rounding mode (ROUND_HALF_UP or ROUND_HALF_EVEN)."""
    penalty_multiplier: Decimal = CN_2023.penalty_multiplier
    misuse_multiplier: Decimal = CN_2023.misuse_penalty_multiplier
    allocation: AllocationStrategy = AllocationStrategy.PENALTY_INTEREST_PRINCIPAL
    origination_flat: Decimal | None = None
    """An origination fee of this amount, withheld from the first disbursement."""
    origination_percent: Decimal | None = None
    """An origination fee of this fraction of each disbursement, withheld from it."""
    origination_on_schedule: bool = False
    """The origination fee is not withheld but spread over the installments (`collect:
    "schedule"`): see `spread_fee`."""
    prepayment_percent: Decimal | None = None
    """A prepayment fee of this fraction of the principal prepaid ..."""
    prepayment_within_months: int = 0
    """... on prepayments dated before the first disbursement date + this many months."""
    late_fee: LateFeeTerms | None = None
    """A late fee per overdue installment (None: the product charges none)."""
    grace_days: int = 0
    """Days after a due date inside which an unpaid installment bears no penalty and does not
    count as past due: days past due and penalty count from the due date + grace_days (so DPD 1,
    the first dunning day, is the first day after the grace). The amount itself is overdue from
    the day after its due date, as for every loan."""
    calendar_id: str | None = None
    """The holiday calendar the loan's due dates follow (`domain.products.calendars`): pinned by
    id only; the calendar's versions are the loan's own `CalendarApplied` facts."""
    business_day: str | None = None
    """Where a due date that is not a business day moves: `following`, `modified_following`,
    `none` (set when `calendar_id` is)."""
    floating: FloatingRate | None = None
    """Index, spread and reset rule of a floating-rate loan (None: a fixed rate)."""

    def applied_to(self, rules: RuleSet) -> RuleSet:
        """`rules` with this product's pricing in place of the rule set's own (the regulatory
        thresholds, which are book-wide, stay the rule set's)."""
        return replace(
            rules,
            penalty_multiplier=self.penalty_multiplier,
            misuse_penalty_multiplier=self.misuse_multiplier,
            penalty_day_count_basis=self.day_count.basis,
            irregular_period_day_count=self.day_count,
            rounding=self.rounding,
        )

    def origination_fee(self, amount: Decimal, currency: Currency, *, first: bool) -> Decimal:
        """The origination fee withheld from a disbursement of `amount` (the first, or a later
        tranche): the flat fee once, or the percentage of each tranche rounded to the minor unit
        with the product's rounding."""
        if self.origination_percent is not None:
            exact = Fraction(amount) * Fraction(self.origination_percent)
            return round_to_minor(exact, currency, self.rounding)
        if self.origination_flat is not None and first:
            return self.origination_flat
        return Decimal(0)

    def withheld_fee(self, amount: Decimal, currency: Currency, *, first: bool) -> Decimal:
        """The origination fee withheld from a disbursement's proceeds (0 when the product
        spreads it over the schedule instead)."""
        if self.origination_on_schedule:
            return Decimal(0)
        return self.origination_fee(amount, currency, first=first)

    def scheduled_fee(self, amount: Decimal, currency: Currency, *, first: bool) -> Decimal:
        """The origination fee a disbursement adds to the installments (0 unless the product
        spreads it over the schedule)."""
        if not self.origination_on_schedule:
            return Decimal(0)
        return self.origination_fee(amount, currency, first=first)

    def prepayment_fee_rate(self, first_disbursed_on: date, on: date) -> Fraction:
        """The fee rate on principal prepaid on `on` (0 outside the product's window)."""
        if self.prepayment_percent is None:
            return Fraction(0)
        if on >= add_months(first_disbursed_on, self.prepayment_within_months):
            return Fraction(0)
        return Fraction(self.prepayment_percent)

    def as_fields(self) -> dict[str, Any]:
        """The stored form (`ProductPinned.pricing`): JSON-ready strings and numbers."""
        return {
            "day_count": self.day_count.value,
            "rounding": rounding_name(self.rounding),
            "penalty_multiplier": format(self.penalty_multiplier, "f"),
            "misuse_multiplier": format(self.misuse_multiplier, "f"),
            "allocation": self.allocation.value,
            "grace_days": self.grace_days,
            **(
                {"origination_fee": {"flat": format(self.origination_flat, "f")}}
                if self.origination_flat is not None
                else {}
            ),
            **(
                {"origination_fee": {"percent": format(self.origination_percent, "f")}}
                if self.origination_percent is not None
                else {}
            ),
            **({"origination_fee_collect": "schedule"} if self.origination_on_schedule else {}),
            **({"late_fee": self.late_fee.as_fields()} if self.late_fee is not None else {}),
            **(
                {
                    "prepayment_fee": {
                        "percent": format(self.prepayment_percent, "f"),
                        "within_months": self.prepayment_within_months,
                    }
                }
                if self.prepayment_percent is not None
                else {}
            ),
            **(
                {"calendar": self.calendar_id, "business_day": self.business_day or "following"}
                if self.calendar_id is not None
                else {}
            ),
            **({"rate": self.floating.as_fields()} if self.floating is not None else {}),
        }

    @classmethod
    def from_fields(cls, product_id: str, version: int, fields: dict[str, Any]) -> Pricing:
        return cls(
            product_id=product_id,
            version=version,
            day_count=DayCount(fields["day_count"]),
            rounding=ROUNDINGS[fields["rounding"]],
            penalty_multiplier=Decimal(fields["penalty_multiplier"]),
            misuse_multiplier=Decimal(fields["misuse_multiplier"]),
            allocation=AllocationStrategy(fields["allocation"]),
            grace_days=int(fields.get("grace_days", 0)),
            origination_flat=_fee(fields, "flat"),
            origination_percent=_fee(fields, "percent"),
            origination_on_schedule=fields.get("origination_fee_collect") == "schedule",
            late_fee=(
                LateFeeTerms.from_fields(fields["late_fee"]) if "late_fee" in fields else None
            ),
            prepayment_percent=(
                Decimal(fields["prepayment_fee"]["percent"]) if "prepayment_fee" in fields else None
            ),
            prepayment_within_months=(
                int(fields["prepayment_fee"]["within_months"]) if "prepayment_fee" in fields else 0
            ),
            calendar_id=fields.get("calendar"),
            business_day=fields.get("business_day"),
            floating=FloatingRate.from_fields(fields["rate"]) if "rate" in fields else None,
        )


def spread_fee(fee: Decimal, count: int, currency: Currency) -> list[Decimal]:
    """An origination fee spread evenly over `count` installments: each share is fee / count
    rounded DOWN to the minor unit (ROUND_DOWN, so the shares before the last never pass the
    fee) and the last takes the remainder, so the shares sum to the fee exactly. 100.00 over
    12: eleven of 8.33 and a last of 8.37."""
    if count <= 0 or not fee:
        return [Decimal(0)] * max(count, 0)
    unit = currency.quantum
    share = Decimal(math.floor(Fraction(fee) / count / Fraction(unit))) * unit  # ROUND_DOWN
    return [share] * (count - 1) + [fee - share * (count - 1)]


def _fee(fields: dict[str, Any], kind: str) -> Decimal | None:
    value = (fields.get("origination_fee") or {}).get(kind)
    return Decimal(value) if value is not None else None


def rounding_name(mode: str) -> str:
    """The product's name of a `decimal` rounding mode ("HALF_UP" for ROUND_HALF_UP)."""
    for name, value in ROUNDINGS.items():
        if value == mode:
            return name
    raise ValueError(f"no product rounding name for {mode!r}")
