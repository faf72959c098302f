"""Products as recorded, versioned facts (issue 19 item 1).

Each `define_product` call records a `ProductDefined` fact on that product's own stream (its
own aggregate and hash chain, like the book's policy and staff register): the first call is
version 1, each later call the next version, effective from its `on` date. A loan names the
product when it applies; it is checked against the version in force on that date, and again,
with the approved terms, against the version in force on the approval date, which the loan
then pins (`ProductPinned`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from loanledger.domain.aggregate import FactStream
from loanledger.domain.errors import FloatingRateError, OutsideProductError, UnknownProductError
from loanledger.domain.policy import BookEvent
from loanledger.domain.products.calendars import CalendarDefined
from loanledger.domain.products.floating import FloatingRate
from loanledger.domain.products.pricing import (
    ROUNDINGS,
    AllocationStrategy,
    LateFeeTerms,
    Pricing,
)
from loanledger.domain.rate_index import IndexValue
from loanledger.domain.rates import DayCount


def product_stream(product_id: str) -> str:
    """The `loan_id` a product's facts carry (their stream's name in verify and the archive)."""
    return f"product:{product_id}"


class ProductDefined(BookEvent):
    """One version of a product: what loans on it may be and how they are priced."""

    product_id: str
    name: str
    currency: str
    repayment_methods: tuple[str, ...]
    amount_min: Decimal
    amount_max: Decimal
    term_min: int
    term_max: int
    rate_min: Decimal
    rate_max: Decimal
    day_count: str
    rounding: str
    penalty_multiplier: Decimal
    misuse_multiplier: Decimal
    allocation: str
    grace_days: int = 0
    fees: dict[str, dict[str, str | int]] | None = None
    """{"origination": {"flat": "200.00"}} or {"origination": {"percent": "0.01"}} (with
    `"collect": "schedule"` when spread over the installments), "prepayment" and "late"."""
    defined_by: str | None = None
    calendar: str | None = None
    """The holiday calendar the due dates follow (None: none, no date moves)."""
    business_day: str | None = None
    """`following`, `modified_following` or `none` (set when `calendar` is)."""
    rate: dict[str, str] | None = None
    """A floating rate's terms (`FloatingRate.as_fields`); None: a fixed rate."""

    def create_aggregate(self) -> Any:
        return Product(self.originator_id)


@dataclass(frozen=True)
class ProductVersion:
    """One recorded version of a product, as loans are checked against it."""

    fact: ProductDefined
    calendar_versions: tuple[CalendarDefined, ...] = ()
    """The versions of the product's calendar known when an approval pins the product: the loan
    records each (`CalendarApplied`); empty for a product without a calendar."""
    index_value: IndexValue | None = None
    """For a floating product: the index value in force on the date of the command checked
    against this version (the application reads it from the index's stream)."""

    @property
    def product_id(self) -> str:
        return self.fact.product_id

    @property
    def version(self) -> int:
        return self.fact.originator_version

    @property
    def floating(self) -> FloatingRate | None:
        """The product's floating-rate terms (None: a fixed-rate product)."""
        if self.fact.rate is None:
            return None
        return FloatingRate.from_fields(self.fact.rate)

    def pricing(self) -> Pricing:
        fact = self.fact
        floating = self.floating
        if floating is not None and self.index_value is not None:
            floating = replace(floating, index_rate_at_approval=self.index_value.rate)
        return Pricing(
            product_id=fact.product_id,
            version=self.version,
            day_count=DayCount(fact.day_count),
            rounding=ROUNDINGS[fact.rounding],
            penalty_multiplier=fact.penalty_multiplier,
            misuse_multiplier=fact.misuse_multiplier,
            allocation=AllocationStrategy(fact.allocation),
            grace_days=fact.grace_days,
            origination_flat=_origination(fact, "flat"),
            origination_percent=_origination(fact, "percent"),
            origination_on_schedule=(fact.fees or {}).get("origination", {}).get("collect")
            == "schedule",
            late_fee=(
                LateFeeTerms.from_fields(dict((fact.fees or {})["late"]))
                if "late" in (fact.fees or {})
                else None
            ),
            prepayment_percent=_prepayment(fact, "percent"),
            prepayment_within_months=int(_prepayment(fact, "within_months") or 0),
            calendar_id=fact.calendar,
            business_day=fact.business_day,
            floating=floating,
        )

    def check(
        self,
        what: str,
        *,
        currency: str,
        amount: Decimal,
        term_months: int,
        annual_rate: Decimal,
        repayment_method: str,
    ) -> None:
        """Refuse terms outside this version's ranges (OutsideProductError naming the rule)."""
        fact = self.fact
        name = f"product {fact.product_id!r} version {self.version}"
        if currency != fact.currency:
            raise OutsideProductError(
                f"{what}: currency {currency} is not {name}'s currency {fact.currency}"
            )
        if repayment_method not in fact.repayment_methods:
            allowed = ", ".join(fact.repayment_methods)
            raise OutsideProductError(
                f"{what}: repayment_method {repayment_method} is not allowed by {name} "
                f"(allowed: {allowed})"
            )
        for field, value, low, high in (
            ("amount", amount, fact.amount_min, fact.amount_max),
            ("term_months", term_months, fact.term_min, fact.term_max),
            ("annual_rate", annual_rate, fact.rate_min, fact.rate_max),
        ):
            if not low <= value <= high:
                raise OutsideProductError(
                    f"{what}: {field} {value} is outside {name}'s range {low}..{high}"
                )
        floating = self.floating
        if floating is not None and what == "approve":
            # The contract states the rate it is signed at: the index in force on the approval
            # date plus the spread (the caller found no index value: NoIndexRateError, earlier).
            assert self.index_value is not None
            expected = floating.rate_for(self.index_value.rate)
            if annual_rate != expected:
                raise FloatingRateError(
                    f"approve: annual_rate {annual_rate} is not {name}'s floating rate "
                    f"{floating.index} {self.index_value.rate} (published "
                    f"{self.index_value.published_on.isoformat()}) + spread {floating.spread}"
                    f" = {expected}"
                )


def _origination(fact: ProductDefined, kind: str) -> Decimal | None:
    fee = (fact.fees or {}).get("origination") or {}
    value = fee.get(kind)
    return Decimal(value) if value is not None else None


def _prepayment(fact: ProductDefined, field: str) -> Decimal | None:
    fee = (fact.fees or {}).get("prepayment") or {}
    value = fee.get(field)
    return Decimal(value) if value is not None else None


class Product(FactStream[ProductDefined]):
    """The stream of one product's versions."""

    fact_type = ProductDefined
    what = "a product"

    def define(self, on: date, recorded_at: datetime, **fields: Any) -> ProductDefined:
        """Record the next version, effective from `on`."""
        return self.trigger(
            ProductDefined,
            recorded_at,
            loan_id=product_stream(fields["product_id"]),
            effective_date=on,
            **fields,
        )

    def in_force(
        self, product_id: str, on: date, known_at: datetime | None = None
    ) -> ProductVersion:
        """The version in force on business date `on` (the latest effective on or before it),
        as known at `known_at`; UnknownProductError when none is."""
        found = self.latest_in_force(on, known_at)
        if found is None:
            raise UnknownProductError(
                f"product {product_id!r} is not defined on {on.isoformat()}"
                + (
                    f" (its first version is effective from "
                    f"{min(f.effective_date for f in self.facts).isoformat()})"
                    if self.facts
                    else ""
                )
            )
        return ProductVersion(found)
