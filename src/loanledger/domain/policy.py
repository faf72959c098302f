"""The book's policy: book-wide settings adopted by recorded facts from a business date on.

A policy fact (`set_policy`) names only the settings it changes; every other setting keeps its
value. What is in force on a business date, as known at a moment, is the latest value of each
setting among the facts effective on or before that date and recorded at or before that moment.
So a rule change (a new rule-set version, DESIGN §12) never alters a report as known before it
was recorded, and reports for business dates before its effective date keep the old rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from loanledger.domain.aggregate import EventSourcedAggregate
from loanledger.domain.event import DomainEvent
from loanledger.domain.provisions import (
    CN_PROVISIONS,
    ProvisioningObject,
    ProvisionRules,
    provision_rules,
)
from loanledger.domain.rules import CN_2023, RULE_SETS, RuleSet

POLICY_STREAM = "book:policy"
"""The `loan_id` every policy fact carries: the stream's name in verify and the archive."""


class BookEvent(DomainEvent):
    """A fact about the book rather than a loan (policy, staff register, products): the loan
    read models skip these (see `projection.engine`)."""

    def create_aggregate(self) -> Any:
        raise TypeError(f"{type(self).__name__} cannot start a stream")


class PolicySet(BookEvent):
    """A `set_policy` fact: each field not None is adopted from `effective_date` on."""

    rule_set: str | None = None
    require_staff_register: bool | None = None
    set_by: str | None = None
    future_horizon_days: int | None = None
    time_zone: str | None = None
    provisioning: ProvisioningObject | None = None
    """The provision rule set and its rates (`domain.provisions.provision_rules`); IFRS 9 may
    carry per-product PD and LGD tables under `products`."""

    def create_aggregate(self) -> Any:
        return BookPolicy(self.originator_id)


POLICY_FIELDS = (
    "rule_set",
    "require_staff_register",
    "future_horizon_days",
    "time_zone",
    "provisioning",
)
"""The settings a `PolicySet` may carry (each optional)."""


@dataclass(frozen=True)
class Policy:
    """The settings in force on one business date, as known at one moment."""

    rule_set: RuleSet = CN_2023
    require_staff_register: bool = False
    future_horizon_days: int | None = None
    """How far ahead of its recording date a fact may be dated (None: the ledger's default,
    `loanledger.domain.horizon`)."""
    time_zone: str | None = None
    """The time zone a recording moment's calendar date is read in (None: the default)."""
    provisioning: ProvisionRules = CN_PROVISIONS
    """The loan-loss provision rule set (`domain.provisions`)."""


DEFAULT_POLICY = Policy()


class BookPolicy(EventSourcedAggregate):
    """The stream of policy facts (one per book)."""

    def __init__(self, aggregate_id: UUID) -> None:
        super().__init__(aggregate_id)
        self.facts: list[PolicySet] = []

    def apply(self, event: Any) -> None:
        if not isinstance(event, PolicySet):
            raise TypeError(f"the book policy cannot apply {type(event).__name__}")
        super().apply(event)
        self.facts.append(event)

    def set(self, on: date, recorded_at: datetime, **settings: Any) -> PolicySet:
        """Record a policy fact; `settings` are the fields the command gave (None: unchanged)."""
        return self.trigger(
            PolicySet, recorded_at, loan_id=POLICY_STREAM, effective_date=on, **settings
        )

    def in_force(self, on: date, known_at: datetime | None = None) -> Policy:
        if not self.facts:
            return DEFAULT_POLICY  # most books never set a policy: asked on every command
        values: dict[str, Any] = {}
        facts = sorted(
            (
                fact
                for fact in self.facts
                if fact.effective_date <= on and (known_at is None or fact.timestamp <= known_at)
            ),
            key=lambda fact: (fact.effective_date, fact.originator_version),
        )
        for fact in facts:
            for name in POLICY_FIELDS:
                value = getattr(fact, name)
                if value is not None:
                    values[name] = value
        rule_set = RULE_SETS[values.get("rule_set", CN_2023.version)]
        return Policy(
            rule_set=rule_set,
            require_staff_register=bool(values.get("require_staff_register", False)),
            future_horizon_days=values.get("future_horizon_days"),
            time_zone=values.get("time_zone"),
            provisioning=(
                provision_rules(values["provisioning"])
                if "provisioning" in values
                else CN_PROVISIONS
            ),
        )

    def adoptions(self) -> list[PolicySet]:
        """The facts that adopt a rule set, in recorded order."""
        return [fact for fact in self.facts if fact.rule_set is not None]
