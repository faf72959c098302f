"""Journal commands about the book rather than one loan: policy, the staff register, products.

They follow the loan commands' style (strict, unknown fields refused) but carry no `loan_id`:
`set_policy` (on, policy fields: each optional, at least one), `grant_authority` and
`revoke_authority` (staff_id, on, role, limit?, granted_by), `define_product` (product_id, on,
name, ranges and pricing: see `DefineProduct`), `define_calendar` (calendar_id, on, holidays,
working_days?: see `DefineCalendar`), `publish_rate` (index, on, rate, published_by?).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from loanledger.domain.command_fields import (
    Amount,
    Flag,
    IsoDate,
    Rate,
    RepaymentMethodName,
    WholeNumber,
)
from loanledger.domain.errors import InvalidCommandError, InvalidProductError
from loanledger.domain.horizon import DEFAULT_FUTURE_HORIZON_DAYS, DEFAULT_TIME_ZONE, FutureHorizon
from loanledger.domain.money import Currency, currency, parse_decimal
from loanledger.domain.policy import POLICY_FIELDS
from loanledger.domain.products.calendars import MAX_CALENDAR_DATES
from loanledger.domain.products.floating import RESET_RULES, SPREAD_LIMIT, ResetRule
from loanledger.domain.provisions import ProvisioningObject
from loanledger.domain.rate_index import INDEX_RATE_PLACES, index_rate
from loanledger.domain.text import Identifier, Name

RoleName = Literal["investigator", "reviewer", "approver", "administrator"]


class BookCommand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: ClassVar[str]
    command: str
    on: IsoDate

    def content_hash(self) -> str:
        canonical = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class SetPolicy(BookCommand):
    """Adopt book-wide settings from `on`; fields left out keep their value."""

    name = "set_policy"
    command: Literal["set_policy"]
    rule_set: Identifier | None = None
    require_staff_register: Flag | None = None
    set_by: Identifier | None = None
    future_horizon_days: int | None = None
    time_zone: Identifier | None = None
    provisioning: ProvisioningObject | None = None
    """The provision rule set and its rates from `on`, e.g. `{"rule_set": "CN-PROV-2002",
    "general": "0.01"}` or `{"rule_set": "IFRS9-ECL-2026", "products": {"mortgage": {"pd_1":
    "0.005"}}}` (checked by `domain.provisions.provision_rules`, and its product ids against the
    book's products, when executed)."""

    @model_validator(mode="after")
    def _names_a_setting(self) -> SetPolicy:
        if all(getattr(self, field) is None for field in POLICY_FIELDS):
            raise InvalidCommandError(
                f"set_policy names no setting; give at least one of {', '.join(POLICY_FIELDS)}"
            )
        # Checked as the horizon itself checks them (0-3660 days, a known time zone).
        FutureHorizon(
            self.future_horizon_days
            if self.future_horizon_days is not None
            else DEFAULT_FUTURE_HORIZON_DAYS,
            self.time_zone if self.time_zone is not None else DEFAULT_TIME_ZONE,
        )
        return self


class GrantAuthority(BookCommand):
    name = "grant_authority"
    command: Literal["grant_authority"]
    staff_id: Identifier
    role: RoleName
    limit: Amount | None = None
    granted_by: Identifier


class RevokeAuthority(BookCommand):
    name = "revoke_authority"
    command: Literal["revoke_authority"]
    staff_id: Identifier
    role: RoleName
    granted_by: Identifier


def _multiplier(value: object) -> Decimal:
    parsed = parse_decimal(value, "multiplier", error=InvalidProductError)
    if not Decimal(1) <= parsed <= Decimal(10):
        raise InvalidProductError(
            f"a penalty multiplier must be between 1 and 10 (1.5 = the contract rate + 50%), "
            f"got {value}"
        )
    return parsed


Multiplier = Annotated[
    Decimal, BeforeValidator(_multiplier), PlainSerializer(lambda value: format(value, "f"))
]


class OriginationFee(BaseModel):
    """An origination fee: `flat` (an amount) or `percent` (a fraction of each disbursement),
    withheld from the proceeds when the money is paid out (`collect: "disbursement"`) or spread
    over the installments of the schedule and paid with them (`collect: "schedule"`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    flat: Amount | None = None
    percent: Rate | None = None
    collect: Literal["disbursement", "schedule"] = "disbursement"

    @model_validator(mode="after")
    def _one_kind(self) -> OriginationFee:
        if (self.flat is None) == (self.percent is None):
            raise InvalidProductError("an origination fee is either flat or percent, not both")
        return self


class PrepaymentFee(BaseModel):
    """A prepayment fee: `percent` of the principal prepaid, on prepayments dated within
    `within_months` of the first disbursement; paid out of the prepayment itself."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    percent: Rate
    within_months: Annotated[WholeNumber, Field(ge=1, le=600)]


MAX_LATE_FEE_AFTER_DAYS = 360
"""A late fee charged later than a year past due would come after the loan is graded doubtful."""


class LateFee(BaseModel):
    """A late fee: `flat` (an amount) or `percent` (a fraction of the installment's principal and
    interest still unpaid), charged once per installment on the day it is `after_days` days past
    due, at most `cap` per installment and `cap_per_loan` over the loan's life."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    flat: Amount | None = None
    percent: Rate | None = None
    after_days: Annotated[WholeNumber, Field(ge=1, le=MAX_LATE_FEE_AFTER_DAYS)]
    cap: Amount | None = None
    cap_per_loan: Amount | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> LateFee:
        if (self.flat is None) == (self.percent is None):
            raise InvalidProductError("a late fee is either flat or percent, not both")
        return self


class Fees(BaseModel):
    """The fees a product charges: origination, prepayment and late fees."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    origination: OriginationFee | None = None
    prepayment: PrepaymentFee | None = None
    late: LateFee | None = None


INDEX_NAME = r"^[A-Z][A-Z0-9_]{1,23}$"
"""An index name: capitals, digits and underscores (`LPR1Y`, `LPR5Y`, `SHIBOR_3M`)."""

IndexName = Annotated[str, Field(strict=True, pattern=INDEX_NAME)]


def _spread(value: object) -> Decimal:
    parsed = parse_decimal(value, "spread", error=InvalidProductError)
    exponent = parsed.as_tuple().exponent
    assert isinstance(exponent, int)
    if not -SPREAD_LIMIT <= parsed <= SPREAD_LIMIT or -exponent > INDEX_RATE_PLACES:
        raise InvalidProductError(
            f"a spread is a fraction between -{SPREAD_LIMIT} and {SPREAD_LIMIT} with at most "
            f"{INDEX_RATE_PLACES} places (0.0035 = +35 bp), got {value}"
        )
    return parsed


def _bound(value: object) -> Decimal:
    return index_rate(value, "floor or cap")


Spread = Annotated[Decimal, BeforeValidator(_spread), PlainSerializer(lambda v: format(v, "f"))]
RateBound = Annotated[Decimal, BeforeValidator(_bound), PlainSerializer(lambda v: format(v, "f"))]


class RateTerms(BaseModel):
    """How a product's loans are priced: `{"type": "fixed"}` (the approved rate for life), or
    `{"type": "floating", "index", "spread", "reset", "floor"?, "cap"?}` (see
    `domain.products.floating`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    type: Literal["fixed", "floating"]
    index: IndexName | None = None
    spread: Spread | None = None
    reset: ResetRule | None = None
    floor: RateBound | None = None
    cap: RateBound | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RateTerms:
        given = [
            name
            for name in ("index", "spread", "reset", "floor", "cap")
            if getattr(self, name) is not None
        ]
        if self.type == "fixed" and given:
            raise InvalidProductError(
                f"a fixed rate takes no {', '.join(given)} (those are a floating rate's terms)"
            )
        if self.type == "floating":
            missing = [name for name in ("index", "spread", "reset") if getattr(self, name) is None]
            if missing:
                rules = " or ".join(RESET_RULES)
                raise InvalidProductError(
                    f"a floating rate needs {', '.join(missing)} (reset: {rules})"
                )
            if self.floor is not None and self.cap is not None and self.floor > self.cap:
                raise InvalidProductError(f"the floor {self.floor} is above the cap {self.cap}")
        return self


MAX_GRACE_DAYS = 30
"""A grace longer than a month would hide arrears from the monthly dunning cycle."""


class DefineProduct(BookCommand):
    """A new version of a product, effective from `on` (issue 19 item 1).

    Ranges bound what loans on the product may apply for and be approved with (inclusive);
    pricing fields default to the built-in default product's (CN-2023) values."""

    name = "define_product"
    command: Literal["define_product"]
    product_id: Identifier
    title: Annotated[Name, Field(alias="name")]
    """The product's name (`name` in the journal: the model's own `name` is the command's)."""
    currency: Annotated[str, Field(strict=True, min_length=3, max_length=3)] = "CNY"
    repayment_methods: Annotated[list[RepaymentMethodName], Field(min_length=1, max_length=4)]
    amount_min: Amount
    amount_max: Amount
    term_min: WholeNumber
    term_max: WholeNumber
    rate_min: Rate
    rate_max: Rate
    day_count: Literal["ACT/360", "ACT/365F", "30/360", "ACT/ACT"] = "ACT/360"
    rounding: Literal["HALF_UP", "HALF_EVEN"] = "HALF_UP"
    penalty_multiplier: Multiplier = Decimal("1.5")
    misuse_multiplier: Multiplier = Decimal("2")
    allocation: Literal[
        "penalty_interest_principal",
        "interest_principal_penalty",
        "principal_interest_penalty",
        "horizontal",
    ] = "penalty_interest_principal"
    grace_days: WholeNumber = 0
    fees: Fees | None = None
    calendar: Identifier | None = None
    """A holiday calendar (`define_calendar`) the due dates follow."""
    business_day: Literal["following", "modified_following", "none"] | None = None
    """Where a due date on a day that is not a business day moves (`following` when a calendar
    is named and this is not)."""
    defined_by: Identifier | None = None
    rate: RateTerms | None = None
    """Fixed (the default) or floating: index, spread, reset rule, floor?, cap?."""

    @model_validator(mode="after")
    def _consistent(self) -> DefineProduct:
        unit = currency(self.currency)
        problems = []
        if len(set(self.repayment_methods)) != len(self.repayment_methods):
            problems.append("repayment_methods names a method twice")
        if self.amount_min > self.amount_max:
            problems.append(f"amount_min {self.amount_min} is above amount_max {self.amount_max}")
        for field in ("amount_min", "amount_max"):
            exponent = getattr(self, field).as_tuple().exponent
            if isinstance(exponent, int) and -exponent > unit.minor_unit:
                problems.append(f"{field} has more places than {unit.code} allows")
        if not 1 <= self.term_min <= self.term_max <= 600:
            problems.append(
                f"terms must satisfy 1 <= term_min <= term_max <= 600, got "
                f"{self.term_min}..{self.term_max}"
            )
        if self.rate_min > self.rate_max:
            problems.append(f"rate_min {self.rate_min} is above rate_max {self.rate_max}")
        if self.misuse_multiplier < self.penalty_multiplier:
            problems.append(
                f"misuse_multiplier {self.misuse_multiplier} is below penalty_multiplier "
                f"{self.penalty_multiplier} (misused funds never cost less than arrears)"
            )
        if not 0 <= self.grace_days <= MAX_GRACE_DAYS:
            problems.append(f"grace_days must be 0 to {MAX_GRACE_DAYS}, got {self.grace_days}")
        fee = self.fees.origination if self.fees is not None else None
        if fee is not None and fee.flat is not None and fee.flat >= self.amount_min:
            problems.append(
                f"the origination fee {fee.flat} is not below amount_min {self.amount_min}"
            )
        if fee is not None and fee.percent is not None and fee.percent >= 1:
            problems.append(f"the origination fee percent {fee.percent} is not below 1")
        prepayment = self.fees.prepayment if self.fees is not None else None
        if prepayment is not None and prepayment.percent >= 1:
            problems.append(f"the prepayment fee percent {prepayment.percent} is not below 1")
        if self.business_day is not None and self.calendar is None:
            problems.append("business_day needs a calendar")
        rate = self.rate
        if rate is not None and rate.floor is not None and rate.floor > self.rate_max:
            problems.append(f"the rate floor {rate.floor} is above rate_max {self.rate_max}")
        if rate is not None and rate.cap is not None and rate.cap < self.rate_min:
            problems.append(f"the rate cap {rate.cap} is below rate_min {self.rate_min}")
        problems += _late_fee_problems(self.fees.late if self.fees is not None else None, unit)
        if problems:
            raise InvalidProductError(f"define_product {self.product_id!r}: " + "; ".join(problems))
        return self


class DefineCalendar(BookCommand):
    """A new version of a holiday calendar, effective from `on` (issue 19 item 6): the whole
    calendar from `on` on (see `domain.products.calendars`)."""

    name = "define_calendar"
    command: Literal["define_calendar"]
    calendar_id: Identifier
    holidays: Annotated[list[IsoDate], Field(max_length=MAX_CALENDAR_DATES + 1)]
    working_days: Annotated[list[IsoDate], Field(max_length=MAX_CALENDAR_DATES + 1)] = []
    defined_by: Identifier | None = None
    """Checked when recorded (`domain.products.calendars.check_calendar`): the dates' rules need
    no store, but the refusal then names the calendar rather than a field."""


class PublishRate(BookCommand):
    """A published value of a rate index from `on` (issue 19 item 5; `domain.rate_index`)."""

    name = "publish_rate"
    command: Literal["publish_rate"]
    index: IndexName
    rate: Annotated[Decimal, BeforeValidator(index_rate), PlainSerializer(lambda v: format(v, "f"))]
    published_by: Identifier | None = None


def _late_fee_problems(late: LateFee | None, unit: Currency) -> list[str]:
    """What is inconsistent in a late fee: a percentage not below 1, an amount with more places
    than the currency allows, a per-installment cap above the per-loan cap (amounts are above
    zero already: `Amount`)."""
    if late is None:
        return []
    problems = []
    if late.percent is not None and late.percent >= 1:
        problems.append(f"the late fee percent {late.percent} is not below 1")
    for field in ("flat", "cap", "cap_per_loan"):
        value = getattr(late, field)
        if value is None:
            continue
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > unit.minor_unit:
            problems.append(f"the late fee {field} has more places than {unit.code} allows")
    if late.cap is not None and late.cap_per_loan is not None and late.cap > late.cap_per_loan:
        problems.append(
            f"the late fee cap {late.cap} is above its cap_per_loan {late.cap_per_loan}"
        )
    return problems


BOOK_COMMANDS: dict[str, type[BookCommand]] = {
    cls.name: cls
    for cls in (
        SetPolicy,
        GrantAuthority,
        RevokeAuthority,
        DefineProduct,
        DefineCalendar,
        PublishRate,
    )
}
