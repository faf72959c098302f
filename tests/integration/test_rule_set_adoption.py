"""IFRS 9 honours the five-category grade from the rule set a book adopts (issue 17 item 8).

Under CN-2023 a loan downgraded to `loss` at DPD 0 stays stage 1. CN-2026 floors the stage by the
grade (substandard, doubtful, loss: stage 3; special mention or restructured in observation: at
least stage 2). A book adopts it by a recorded `set_policy` fact from a business date on; reports
as known before that fact are unchanged, byte for byte.

The book: L-0001 is 12,000.00 over 12 months at 6%, annuity, disbursed 2024-01-15, the first
installment (1,032.80) paid on its due date 2024-02-15, downgraded to `loss` on 2024-02-20.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import InvalidCommandError, InvalidDateError, UnknownRuleSetError
from loanledger.domain.loan_events import ClassificationChanged
from loanledger.persistence.ids import loan_uuid
from tests.journal import disburse, pre_loan, repay

REPORTS = ("loan_ledger", "ifrs9_stages", "five_category", "aging", "worklist")


def _book(ledger: LoanLedger) -> None:
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))
    ledger.execute(
        {
            "command": "downgrade",
            "loan_id": "L-0001",
            "on": "2024-02-20",
            "classification": "loss",
            "approver": "risk-1",
            "reason": "borrower absconded",
        }
    )


def _adopt(ledger: LoanLedger, on: str = "2024-03-01") -> dict[str, Any]:
    return ledger.execute({"command": "set_policy", "on": on, "rule_set": "CN-2026"})


def _snapshot(ledger: LoanLedger, as_of: str, known_at: datetime | None) -> str:
    reports = {name: ledger.report(name, as_of=as_of, known_at=known_at) for name in REPORTS}
    reports["loan"] = [ledger.loan("L-0001", as_of=as_of, known_at=known_at)]
    return json.dumps(reports, sort_keys=True)


def test_a_loan_downgraded_to_loss_at_dpd_0_is_stage_1_under_cn_2023(ledger: LoanLedger) -> None:
    _book(ledger)

    view = ledger.loan("L-0001", as_of="2024-03-01")

    assert (view["classification"], view["days_past_due"], view["ifrs9_stage"]) == ("loss", 0, 1)
    assert view["rule_set"] == "CN-2023"


def test_after_adopting_cn_2026_a_loan_downgraded_to_loss_at_dpd_0_is_stage_3(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    _adopt(ledger)

    after = ledger.loan("L-0001", as_of="2024-03-01")
    before = ledger.loan("L-0001", as_of="2024-02-29")

    assert (after["classification"], after["days_past_due"], after["ifrs9_stage"]) == (
        "loss",
        0,
        3,
    )
    assert after["rule_set"] == "CN-2026"
    assert (before["ifrs9_stage"], before["rule_set"]) == (1, "CN-2023")
    assert ledger.report("ifrs9_stages", as_of="2024-03-01") == [
        {"stage": 1, "loans": 0, "principal_outstanding": "0.00"},
        {"stage": 2, "loans": 0, "principal_outstanding": "0.00"},
        {"stage": 3, "loans": 1, "principal_outstanding": "11027.20"},
    ]
    (row,) = ledger.report("loan_ledger", as_of="2024-03-01")
    assert (row["ifrs9_stage"], row["rule_set"]) == (3, "CN-2026")


def test_reports_as_known_before_the_adoption_are_byte_identical(
    ledger: LoanLedger, clock: Callable[[], datetime]
) -> None:
    _book(ledger)
    before_adoption = clock()
    as_known_then = {
        day: _snapshot(ledger, day, None) for day in ("2024-02-29", "2024-03-01", "2024-06-30")
    }
    _adopt(ledger)

    for day, text in as_known_then.items():
        assert _snapshot(ledger, day, before_adoption) == text, day
    assert _snapshot(ledger, "2024-03-01", None) != as_known_then["2024-03-01"]
    assert _snapshot(ledger, "2024-02-29", None) == as_known_then["2024-02-29"]


def test_close_of_day_records_the_stage_under_the_rule_set_in_force(ledger: LoanLedger) -> None:
    _book(ledger)
    _adopt(ledger)

    ledger.close_day("2024-02-29")
    ledger.close_day("2024-03-01")

    changed = [
        (event.effective_date.isoformat(), event.classification, event.ifrs9_stage, event.rule_set)
        for event in ledger.events.get(loan_uuid("L-0001"))
        if isinstance(event, ClassificationChanged)
    ]
    assert changed == [
        ("2024-02-29", "loss", 1, "CN-2023"),
        ("2024-03-01", "loss", 3, "CN-2026"),
    ]


def test_an_unknown_rule_set_is_refused_and_nothing_is_recorded(ledger: LoanLedger) -> None:
    _book(ledger)
    events = ledger.verify().events_checked

    with pytest.raises(UnknownRuleSetError, match="unknown rule set 'CN-2099'"):
        ledger.execute({"command": "set_policy", "on": "2024-03-01", "rule_set": "CN-2099"})
    with pytest.raises(InvalidCommandError, match="set_policy names no setting"):
        ledger.execute({"command": "set_policy", "on": "2024-03-01"})

    assert ledger.verify().events_checked == events


def test_policy_facts_are_chained_and_verified_like_loans(ledger: LoanLedger) -> None:
    _book(ledger)
    _adopt(ledger)
    _adopt(ledger, on="2024-04-01")

    result = ledger.verify()

    assert (result.ok, result.events_checked) == (True, 7 + 2)


def test_a_rule_set_is_adopted_only_from_a_business_date_not_yet_closed(
    ledger: LoanLedger,
) -> None:
    """Grades recorded by close of day on closed dates name the rule set they were derived
    under; adopting another for those dates would contradict them."""
    _book(ledger)
    ledger.close_day("2024-03-01")

    with pytest.raises(
        InvalidDateError,
        match="2024-03-01 is on or before the last closed date 2024-03-01",
    ):
        _adopt(ledger, on="2024-03-01")
    _adopt(ledger, on="2024-03-02")

    assert ledger.loan("L-0001", as_of="2024-03-02")["ifrs9_stage"] == 3


def test_after_adopting_cn_2026_a_restructured_loan_in_observation_is_at_least_stage_2(
    ledger: LoanLedger,
) -> None:
    """Restructured on 2024-03-05 (observation at least a year): CN-2023 keeps it stage 1 at
    DPD 0; CN-2026 credit-impairs it with its substandard grade."""
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    ledger.execute(
        {
            "command": "restructure",
            "loan_id": "L-0001",
            "on": "2024-03-05",
            "approver": "risk-1",
            "term_months": 24,
            "annual_rate": "0.05",
            "repayment_method": "annuity",
        }
    )
    under_cn_2023 = ledger.loan("L-0001", as_of="2024-03-05")
    _adopt(ledger)

    view = ledger.loan("L-0001", as_of="2024-03-05")

    assert (under_cn_2023["classification"], under_cn_2023["ifrs9_stage"]) == ("substandard", 1)
    assert (view["classification"], view["days_past_due"], view["ifrs9_stage"]) == (
        "substandard",
        0,
        3,
    )
