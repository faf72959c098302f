"""The mix of the synthetic demo book: its people, terms and proportions, and a loan's plan.

`loanledger.entrypoints.synthetic` draws every application from these with one seeded
`random.Random`, so the same seed gives the same book; what an application turns out to be
(`OUTCOMES`) and how its borrower pays (`BEHAVIOURS`) are dealt by `quota` in exact proportions.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

START = date(2024, 1, 2)
"""The first application date of the demo book."""

APPLICATION_WINDOW_DAYS = 180
"""Applications are spread over about the first six months."""

MONTHS = 18
"""How long the demo runs, day by day."""

METHODS = ("annuity", "equal_principal", "interest_only", "bullet")
TERMS = (6, 9, 12, 12, 18, 24, 24, 36)

OUTCOMES: Mapping[str, float] = {"disbursed": 0.86, "rejected": 0.09, "withdrawn": 0.05}
"""What becomes of an application."""

BEHAVIOURS: Mapping[str, float] = {
    "on_time": 0.50,
    "late_cured": 0.12,
    "partial": 0.10,
    "prepayer": 0.12,
    "defaulter": 0.16,
}
"""How a disbursed loan's borrower pays."""

INVESTIGATORS = tuple(f"inv-{n:02d}" for n in range(1, 17))
REVIEWERS = tuple(f"rev-{n:02d}" for n in range(1, 7))
APPROVERS: Mapping[str, Decimal] = {
    "apr-01": Decimal("300000.00"),
    "apr-02": Decimal("1000000.00"),
    "apr-03": Decimal("1000000.00"),
    "apr-04": Decimal("5000000.00"),
}
"""Approvers and their authority limits (按授权权限审批)."""

INSPECTORS = tuple(f"chk-{n:02d}" for n in range(1, 9))
APPRAISERS = ("appraiser-01", "appraiser-02", "appraiser-03")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国峰辉鹏斌宇浩凯"
PURPOSES = (
    "working capital 流动资金",
    "equipment purchase 设备购置",
    "inventory 备货",
    "shop renovation 店面装修",
    "agricultural production 农业生产",
    "vehicle for deliveries 运输车辆",
)
COLLATERAL_KINDS = ("house", "shop", "vehicle", "equipment", "land_use_right")

CENT = Decimal("0.01")
ZERO = Decimal(0)


def quota(rng: random.Random, count: int, weights: Mapping[str, float]) -> list[str]:
    """`count` labels in the proportions of `weights` (largest remainder; each label at least once
    when there is room), shuffled with `rng`."""
    exact = {label: weight * count for label, weight in weights.items()}
    counts = {label: int(value) for label, value in exact.items()}
    if count >= len(weights):
        for label in counts:
            counts[label] = max(counts[label], 1)
    by_remainder = sorted(weights, key=lambda label: exact[label] - int(exact[label]), reverse=True)
    index = 0
    while sum(counts.values()) < count:
        counts[by_remainder[index % len(by_remainder)]] += 1
        index += 1
    while sum(counts.values()) > count:
        largest = max(counts, key=lambda label: counts[label])
        counts[largest] -= 1
    labels = [label for label, number in counts.items() for _ in range(number)]
    rng.shuffle(labels)
    return labels


@dataclass
class LoanPlan:
    """One application: its terms, what becomes of it, how its borrower pays, and its state."""

    loan_id: str
    borrower_id: str
    borrower_name: str
    id_number: str
    amount: Decimal
    term_months: int
    annual_rate: Decimal
    method: str
    purpose: str
    applied_on: date
    outcome: str
    behaviour: str
    collateral_value: Decimal | None
    guarantor: bool
    approver: str = ""
    approved_amount: Decimal = ZERO
    schedule: dict[date, dict[str, Any]] = field(default_factory=dict)
    last_due: date | None = None
    open: bool = False
    repayments: int = 0
    default_from: int = 0
    special_installments: frozenset[int] = frozenset()


@dataclass
class BookSummary:
    """What the generator did."""

    applications: int = 0
    disbursed: int = 0
    rejected: int = 0
    withdrawn: int = 0
    commands: int = 0
    days: int = 0
    behaviours: dict[str, int] = field(default_factory=dict)
    by_command: dict[str, int] = field(default_factory=dict)


def weekday(day: date) -> date:
    """`day`, or the Monday after it when it falls on a weekend."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def id_number(rng: random.Random) -> str:
    """A made-up resident identity number (region, birth date, sequence, check character)."""
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 40))
    region = rng.choice(("110101", "310104", "440305", "330106", "510107"))
    return f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}{rng.choice('0123456789X')}"
