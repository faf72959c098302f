"""Provision rules (domain/provisions.py): CN by grade plus the general provision, IFRS 9 ECL by
stage, and the allowance postings they give."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loanledger.domain.books import IMPAIRMENT_EXPENSE, LOAN_LOSS_ALLOWANCE, WRITE_OFF_EXPENSE
from loanledger.domain.errors import ProvisionRuleError
from loanledger.domain.provisions import (
    CN_PROVISIONS,
    IFRS9_ECL,
    Exposure,
    allowance_postings,
    cn_allowance,
    cn_allowance_fen,
    fen,
    fen_decimal,
    fen_text,
    loan_provision,
    provision_rules,
)


def _exposure(classification: str, stage: int, principal: str = "100000.00") -> Exposure:
    return Exposure(
        loan_id="L-1",
        classification=classification,
        ifrs9_stage=stage,
        principal=Decimal(principal),
        overdue_interest=Decimal("500.00"),
        annual_rate=Decimal("0.12"),
        months_remaining=12,
    )


@pytest.mark.parametrize(
    ("classification", "allowance"),
    [
        ("normal", "1500.00"),
        ("special_mention", "3500.00"),
        ("substandard", "26500.00"),
        ("doubtful", "51500.00"),
        ("loss", "100000.00"),
    ],
)
def test_cn_allowance_is_the_grade_rate_plus_the_general_provision_capped_at_the_exposure(
    classification: str, allowance: str
) -> None:
    result = loan_provision(_exposure(classification, 1), CN_PROVISIONS)
    assert result.allowance == Decimal(allowance)
    assert result.exposure == Decimal("100000.00")


def test_cn_rates_round_half_up_to_the_fen_per_loan() -> None:
    result = loan_provision(_exposure("special_mention", 1, "333.33"), CN_PROVISIONS)
    # 333.33 x (0.02 + 0.015) = 11.66655 -> 11.67
    assert result.allowance == Decimal("11.67")


def test_substandard_and_doubtful_rates_may_move_twenty_percent_either_way() -> None:
    rules = provision_rules({"rule_set": "CN-PROV-2002", "substandard": "0.30", "doubtful": "0.40"})
    assert rules.grade_rates["substandard"] == Decimal("0.30")
    assert rules.grade_rates["doubtful"] == Decimal("0.40")
    with pytest.raises(ProvisionRuleError, match=r"substandard rate 0.31 is outside 0.20-0.30"):
        provision_rules({"rule_set": "CN-PROV-2002", "substandard": "0.31"})
    with pytest.raises(ProvisionRuleError, match=r"doubtful rate 0.39 is outside 0.40-0.60"):
        provision_rules({"rule_set": "CN-PROV-2002", "doubtful": "0.39"})


def test_the_general_provision_is_configurable() -> None:
    rules = provision_rules({"rule_set": "CN-PROV-2002", "general": "0.01"})
    assert loan_provision(_exposure("normal", 1), rules).allowance == Decimal("1000.00")


def test_unknown_provision_settings_are_refused_by_name() -> None:
    with pytest.raises(ProvisionRuleError, match=r"unknown provision rule set 'X'"):
        provision_rules({"rule_set": "X"})
    with pytest.raises(ProvisionRuleError, match=r"unknown provision rate 'pd_9'"):
        provision_rules({"rule_set": "IFRS9-ECL-2026", "pd_9": "0.1"})
    with pytest.raises(ProvisionRuleError, match=r"rate general must be a decimal from 0 to 1"):
        provision_rules({"rule_set": "CN-PROV-2002", "general": "1.5"})
    with pytest.raises(ProvisionRuleError, match=r"rate general must be a decimal from 0 to 1"):
        provision_rules({"rule_set": "CN-PROV-2002", "general": "NaN"})


def test_ifrs9_stage_1_is_twelve_month_pd_times_lgd_times_ead() -> None:
    result = loan_provision(_exposure("normal", 1), IFRS9_ECL)
    # EAD = 100000.00 + 500.00; 0.01 x 0.45 x 100500 = 452.25
    assert (result.pd, result.lgd, result.allowance) == (
        Decimal("0.01"),
        Decimal("0.45"),
        Decimal("452.25"),
    )


def test_ifrs9_lifetime_ecl_is_discounted_at_the_effective_rate() -> None:
    result = loan_provision(_exposure("special_mention", 2), IFRS9_ECL)
    # 0.20 x 0.45 x 100500 = 9045; spread over 12 months at 1 % a month: the mean discount
    # factor (1 - 1.01^-12) / 0.01 / 12 = 0.937923...; 9045 x that = 8483.51
    assert result.allowance == Decimal("8483.51")


def test_ifrs9_stage_3_takes_the_whole_loss_given_default() -> None:
    exposure = Exposure("L-1", "substandard", 3, Decimal("1000.00"), Decimal(0), Decimal(0), 1)
    assert loan_provision(exposure, IFRS9_ECL).allowance == Decimal("450.00")


def test_the_allowance_posts_the_difference_draws_down_on_write_off_and_takes_recoveries() -> None:
    targets = [
        (date(2024, 1, 31), Decimal("100.00")),
        (date(2024, 2, 29), Decimal("40.00")),
        (date(2024, 3, 31), Decimal("0.00")),
    ]
    postings = allowance_postings(
        targets,
        write_off=(date(2024, 3, 10), Decimal("900.00")),
        recoveries=[(date(2024, 3, 20), Decimal("30.00"))],
    )
    lines = [(p.on, p.kind, p.lines) for p in postings]
    assert lines == [
        (
            date(2024, 1, 31),
            "provision",
            ((IMPAIRMENT_EXPENSE, Decimal("100.00")), (LOAN_LOSS_ALLOWANCE, Decimal("-100.00"))),
        ),
        (
            date(2024, 2, 29),
            "provision",
            ((LOAN_LOSS_ALLOWANCE, Decimal("60.00")), (IMPAIRMENT_EXPENSE, Decimal("-60.00"))),
        ),
        (
            date(2024, 3, 10),
            "allowance_use",
            ((LOAN_LOSS_ALLOWANCE, Decimal("40.00")), (WRITE_OFF_EXPENSE, Decimal("-40.00"))),
        ),
        (
            date(2024, 3, 20),
            "recovery_credit",
            ((WRITE_OFF_EXPENSE, Decimal("30.00")), (LOAN_LOSS_ALLOWANCE, Decimal("-30.00"))),
        ),
        (
            date(2024, 3, 31),
            "provision",
            ((LOAN_LOSS_ALLOWANCE, Decimal("30.00")), (IMPAIRMENT_EXPENSE, Decimal("-30.00"))),
        ),
    ]


@given(
    principal=st.integers(0, 10**13),
    rate=st.decimals(min_value=0, max_value="1.015", places=4, allow_nan=False),
)
def test_the_whole_fen_allowance_is_exactly_the_decimal_one(principal: int, rate: Decimal) -> None:
    amount = Decimal(principal).scaleb(-2)
    assert fen(fen_text(principal)) == principal
    assert fen_decimal(principal) == amount
    assert fen_decimal(cn_allowance_fen(principal, rate.as_integer_ratio())) == cn_allowance(
        amount, rate
    )


def test_fen_reads_negative_and_irregular_amount_texts() -> None:
    assert (fen("-0.50"), fen("12.5"), fen("0.005"), fen_text(-50)) == (-50, 1250, 1, "-0.50")


@given(amount=st.integers(-(10**13), 10**13))
def test_whole_fen_are_written_and_read_back_as_decimal_text_would_be(amount: int) -> None:
    text = fen_text(amount)
    assert text == f"{Decimal(amount).scaleb(-2):.2f}"
    assert fen(text) == amount
