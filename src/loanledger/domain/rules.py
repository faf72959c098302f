"""Servicing rule sets: every threshold of DESIGN §7 as a field of a versioned, frozen value.

A derived figure (penalty, DPD bucket, classification, stage, notice) is a function of the facts,
the business date and one of these. Products may use their own rule set; every derived decision
that is recorded names the rule set's `version`, so an auditor can tell which rules produced it.
`CN_2023` is the default and matches the Contract exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from loanledger.domain.rates import DayCount

BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+")
CLASSIFICATIONS = ("normal", "special_mention", "substandard", "doubtful", "loss")
IFRS9_STAGES = (1, 2, 3)


@dataclass(frozen=True)
class RuleSet:
    """One versioned set of servicing rules."""

    version: str
    penalty_multiplier: Decimal
    """罚息: the contract rate times this (1.5 = +50%) on overdue principal and interest."""
    misuse_penalty_multiplier: Decimal
    """Funds used against the agreed purpose: rate times this (+100%, 银发〔2003〕251号)."""
    penalty_day_count_basis: int
    """Days in the penalty year (360): a day's penalty is balance × rate × multiplier / basis."""
    irregular_period_day_count: DayCount
    rounding: str
    bucket_upper_bounds: tuple[int, ...]
    """Upper DPD of M0..M6 (M7+ is above the last): 0, 30, 60, ..., 180."""
    classification_floors: tuple[int, ...]
    """Lowest DPD of special_mention, substandard, doubtful, loss: 1, 91, 271, 361."""
    stage2_days_past_due: int
    stage3_days_past_due: int
    reminder_days_before_due: int
    dunning_interval_days: int
    legal_recovery_after_days: int
    """Legal recovery opens the first day DPD exceeds this (逾期三个月以上依法收贷)."""
    non_accrual_after_days: int
    """Interest falling due while DPD exceeds this is tracked off balance sheet (表外)."""
    ltv_warning_above: Decimal
    post_loan_check_interval_days: int
    contagion_non_performing_share: Decimal
    """A borrower whose non-performing share exceeds this has all loans non-performing."""
    stage_follows_classification: bool = False
    """IFRS 9 honours the five-category grade: substandard, doubtful or loss is stage 3 (credit
    impaired); special mention or a restructured loan in observation at least stage 2."""


CN_2023 = RuleSet(
    version="CN-2023",
    penalty_multiplier=Decimal("1.5"),
    misuse_penalty_multiplier=Decimal("2"),
    penalty_day_count_basis=360,
    irregular_period_day_count=DayCount.ACT_360,
    rounding=ROUND_HALF_UP,
    bucket_upper_bounds=(0, 30, 60, 90, 120, 150, 180),
    classification_floors=(1, 91, 271, 361),
    stage2_days_past_due=31,
    stage3_days_past_due=91,
    reminder_days_before_due=7,
    dunning_interval_days=30,
    legal_recovery_after_days=90,
    non_accrual_after_days=90,
    ltv_warning_above=Decimal("0.8"),
    post_loan_check_interval_days=90,
    contagion_non_performing_share=Decimal("0.1"),
)

CN_2026 = replace(CN_2023, version="CN-2026", stage_follows_classification=True)
"""CN-2023 with the IFRS 9 stage floored by the five-category grade (issue 17 item 8); a book
adopts it by a recorded `set_policy` fact from a business date on."""

RULE_SETS = {CN_2023.version: CN_2023, CN_2026.version: CN_2026}


def bucket(days_past_due: int, rules: RuleSet = CN_2023) -> str:
    """M0 current, M1 1–30, M2 31–60, ... M7+ over 180."""
    for name, upper in zip(BUCKETS, rules.bucket_upper_bounds, strict=False):
        if days_past_due <= upper:
            return name
    return BUCKETS[-1]


def classification_floor(days_past_due: int, rules: RuleSet = CN_2023) -> str:
    """五级分类 floor by DPD: 0 normal 正常; 1–90 关注; 91–270 次级; 271–360 可疑; >360 损失."""
    result = CLASSIFICATIONS[0]
    for name, floor in zip(CLASSIFICATIONS[1:], rules.classification_floors, strict=True):
        if days_past_due >= floor:
            result = name
    return result


def worse_classification(first: str, second: str) -> str:
    """The more severe of two classifications."""
    return max(first, second, key=CLASSIFICATIONS.index)


def ifrs9_stage(
    days_past_due: int, *, flagged: bool, written_off: bool, rules: RuleSet = CN_2023
) -> int:
    """1 if DPD ≤ 30 and not flagged; 2 if DPD 31–90 or flagged; 3 if DPD > 90 or written off."""
    if written_off or days_past_due >= rules.stage3_days_past_due:
        return 3
    if flagged or days_past_due >= rules.stage2_days_past_due:
        return 2
    return 1


def stage_floor(classification: str, *, in_observation: bool, rules: RuleSet) -> int:
    """The lowest IFRS 9 stage the grade allows under `rules` (1 when the rule set ignores it)."""
    if not rules.stage_follows_classification:
        return 1
    if CLASSIFICATIONS.index(classification) >= CLASSIFICATIONS.index("substandard"):
        return 3
    if classification == "special_mention" or in_observation:
        return 2
    return 1
