"""`define_product` records versions on the product's own hash-chained stream; `apply` names a
product and is checked against its ranges; `approve` pins the version in force (issue 19 items
1 and 2)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import (
    InvalidAmountError,
    InvalidCommandError,
    InvalidProductError,
    OutsideProductError,
    UnknownCalendarError,
    UnknownProductError,
)
from tests.journal import disburse
from tests.products.builders import loan_on, product


def _events(ledger: LoanLedger) -> int:
    return ledger.verify().events_checked


def test_each_definition_is_the_next_version_of_its_own_chained_stream(
    ledger: LoanLedger,
) -> None:
    assert ledger.execute(product()) == {
        "command": "define_product",
        "product_id": "SME",
        "version": 1,
    }
    assert ledger.execute(product(on="2024-06-01", rate_max="0.10"))["version"] == 2
    assert ledger.execute(product("CAR"))["version"] == 1
    result = ledger.verify()
    assert result.ok and result.events_checked == 3


@pytest.mark.parametrize(
    ("fields", "error", "rule"),
    [
        ({"amount_min": "9000.00", "amount_max": "8000.00"}, InvalidProductError, "amount_min"),
        ({"term_min": 12, "term_max": 6}, InvalidProductError, "term_min <= term_max"),
        ({"term_max": 601}, InvalidProductError, "<= 600"),
        ({"rate_min": "0.2", "rate_max": "0.1"}, InvalidProductError, "rate_min"),
        ({"penalty_multiplier": "2", "misuse_multiplier": "1.5"}, InvalidProductError, "misuse"),
        ({"penalty_multiplier": "0.5"}, InvalidProductError, "between 1 and 10"),
        ({"grace_days": 31}, InvalidProductError, "grace_days must be 0 to 30"),
        ({"repayment_methods": ["annuity", "annuity"]}, InvalidProductError, "twice"),
        ({"amount_min": "1000.001"}, InvalidAmountError, "more than 2 decimal places"),
        ({"currency": "JPY", "amount_min": "1000.5"}, InvalidProductError, "JPY allows"),
        ({"day_count": "ACT/364"}, InvalidCommandError, "day_count"),
        ({"rounding": "DOWN"}, InvalidCommandError, "rounding"),
        ({"allocation": "newest_first"}, InvalidCommandError, "allocation"),
        ({"repayment_methods": []}, InvalidCommandError, "repayment_methods"),
        ({"fees": []}, InvalidCommandError, "field 'fees'"),
        (
            {"fees": {"origination": {"flat": "100.00", "percent": "0.01"}}},
            InvalidProductError,
            "either flat or percent",
        ),
        ({"fees": {"origination": {}}}, InvalidProductError, "either flat or percent"),
        (
            {"fees": {"origination": {"flat": "1000.00"}}},
            InvalidProductError,
            "origination fee 1000.00 is not below amount_min 1000.00",
        ),
        (
            {"fees": {"origination": {"percent": "0.01", "collect": "amortised"}}},
            InvalidCommandError,
            "collect",
        ),
        (
            {"fees": {"late": {"flat": "50.00"}}},
            InvalidCommandError,
            "missing field 'fees.late.after_days'",
        ),
        (
            {"fees": {"late": {"flat": "50.00", "percent": "0.05", "after_days": 15}}},
            InvalidProductError,
            "a late fee is either flat or percent",
        ),
        (
            {"fees": {"late": {"percent": "1.0", "after_days": 15}}},
            InvalidProductError,
            "the late fee percent 1.0 is not below 1",
        ),
        (
            {"fees": {"late": {"flat": "50.00", "after_days": 0}}},
            InvalidCommandError,
            "after_days",
        ),
        (
            {
                "fees": {
                    "late": {
                        "percent": "0.05",
                        "after_days": 15,
                        "cap": "80.00",
                        "cap_per_loan": "60.00",
                    }
                }
            },
            InvalidProductError,
            "the late fee cap 80.00 is above its cap_per_loan 60.00",
        ),
        (
            {"currency": "JPY", "fees": {"late": {"flat": "50.5", "after_days": 15}}},
            InvalidProductError,
            "the late fee flat has more places than JPY allows",
        ),
        (
            {"fees": {"prepayment": {"percent": "1", "within_months": 12}}},
            InvalidProductError,
            "prepayment fee percent 1 is not below 1",
        ),
        (
            {"fees": {"prepayment": {"percent": "0.01"}}},
            InvalidCommandError,
            "missing field 'fees.prepayment.within_months'",
        ),
        ({"rate": {"index": "LPR1Y"}}, InvalidCommandError, "missing field 'rate.type'"),
        ({"calendar": "CN"}, UnknownCalendarError, "calendar 'CN' is not defined"),
        ({"business_day": "following"}, InvalidProductError, "business_day needs a calendar"),
        (
            {"calendar": "CN", "business_day": "next"},
            InvalidCommandError,
            "field 'business_day'",
        ),
    ],
)
def test_an_inconsistent_definition_is_refused_naming_the_rule_and_records_nothing(
    fields: dict[str, Any], error: type[Exception], rule: str
) -> None:
    ledger = LoanLedger.open("memory://")
    with pytest.raises(error, match=re.escape(rule)):
        ledger.execute(product(**fields))
    assert _events(ledger) == 0


def test_an_application_naming_an_unknown_product_is_refused(ledger: LoanLedger) -> None:
    ledger.execute(product(on="2024-02-01"))
    with pytest.raises(UnknownProductError, match="'SME' is not defined on 2024-01-02"):
        ledger.execute(loan_on("SME")[0])
    with pytest.raises(UnknownProductError, match="'CAR' is not defined"):
        ledger.execute(loan_on("CAR")[0])
    assert _events(ledger) == 1


@pytest.mark.parametrize(
    ("terms", "rule"),
    [
        ({"amount": "600000.00"}, "amount 600000.00 is outside product 'SME' version 1's range"),
        ({"term_months": 48}, "term_months 48 is outside"),
        ({"annual_rate": "0.15"}, "annual_rate 0.15 is outside"),
        ({"method": "bullet"}, "repayment_method bullet is not allowed"),
    ],
)
def test_an_application_outside_its_product_s_ranges_is_refused(
    terms: dict[str, Any], rule: str
) -> None:
    ledger = LoanLedger.open("memory://")
    ledger.execute(product())
    with pytest.raises(OutsideProductError, match=re.escape(rule)):
        ledger.execute(loan_on("SME", **terms)[0])
    assert _events(ledger) == 1


def test_approval_pins_the_version_in_force_and_later_versions_change_nothing(
    ledger: LoanLedger,
) -> None:
    ledger.execute(product(penalty_multiplier="2"))
    for line in loan_on("SME"):
        ledger.execute(line)
    ledger.execute(disburse("L-1", "2024-01-15", "12000.00"))
    before = ledger.loan("L-1", as_of="2024-04-20")
    # Version 2 from before the approval date, recorded after it: the loan keeps version 1.
    ledger.execute(product(on="2024-01-05", penalty_multiplier="3", misuse_multiplier="3"))
    after = ledger.loan("L-1", as_of="2024-04-20")
    assert (after["product"], after["product_version"]) == ("SME", 1)
    assert after == before


def test_approval_is_checked_against_the_version_in_force_on_its_date(
    ledger: LoanLedger,
) -> None:
    ledger.execute(product())
    ledger.execute(product(on="2024-01-08", rate_max="0.05"))
    lines = loan_on("SME")
    for line in lines[:3]:
        ledger.execute(line)
    with pytest.raises(
        OutsideProductError, match=re.escape("annual_rate 0.06 is outside product 'SME' version 2")
    ):
        ledger.execute(lines[3])
    assert ledger.loan("L-1", as_of="2024-01-10")["status"] == "reviewed"


def test_a_loan_without_a_product_is_on_the_built_in_default_version_0(
    ledger: LoanLedger,
) -> None:
    lines = loan_on(None)
    ledger.execute(lines[0])
    view = ledger.loan("L-1", as_of="2024-01-02")
    assert (view["product"], view["product_version"], view["apr"]) == ("default", None, None)
    for line in lines[1:]:
        ledger.execute(line)
    view = ledger.loan("L-1", as_of="2024-01-10")
    assert (view["product"], view["product_version"], view["apr"]) == ("default", 0, "0.0600")


def test_a_journal_defines_products_and_loans_use_them(ledger: LoanLedger) -> None:
    import json

    lines = [product(), *loan_on("SME"), disburse("L-1", "2024-01-15", "12000.00")]
    assert ledger.load(json.dumps(line) for line in lines) == {"applied": 6}
    row = ledger.report("loan_ledger", as_of="2024-01-31")[0]
    assert (row["product"], row["product_version"]) == ("SME", 1)
