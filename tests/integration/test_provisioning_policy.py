"""The provision rule set is book policy: adopted by a recorded `set_policy` fact from a business
date on, book-wide; reports as known before the fact are unchanged, byte for byte.

The book (as in test_rule_set_adoption): L-0001, 12,000.00 over 12 months at 6 %, annuity,
disbursed 2024-01-15, the first installment paid on 2024-02-15 (principal left 11,027.20),
downgraded to `loss` on 2024-02-20 at DPD 0 (IFRS 9 stage 1 under CN-2023).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import ProvisionRuleError
from tests.integration.test_rule_set_adoption import _book

IFRS9 = {"rule_set": "IFRS9-ECL-2026"}


def _adopt(ledger: LoanLedger, settings: dict[str, str], on: str = "2024-03-01") -> None:
    ledger.execute({"command": "set_policy", "on": on, "provisioning": settings})


def _loan_row(ledger: LoanLedger, as_of: str) -> dict[str, Any]:
    return next(row for row in ledger.report("provisions", as_of=as_of) if row["level"] == "loan")


def test_a_loss_loan_is_provided_in_full_under_the_cn_rules(ledger: LoanLedger) -> None:
    _book(ledger)

    row = _loan_row(ledger, "2024-02-29")

    # loss 100 % + general 1.5 %, capped at the exposure
    assert (row["rule_set"], row["classification"], row["rate"], row["allowance"]) == (
        "CN-PROV-2002",
        "loss",
        "1.015",
        "11027.20",
    )


def test_after_adopting_ifrs9_the_allowance_is_pd_times_lgd_times_ead(ledger: LoanLedger) -> None:
    _book(ledger)
    _adopt(ledger, IFRS9)

    row = _loan_row(ledger, "2024-03-01")

    # stage 1: 0.01 x 0.45 x 11,027.20 = 49.6224 -> 49.62; 11,027.20 held at 02-29 released
    assert (row["rule_set"], row["ifrs9_stage"], row["pd"], row["lgd"]) == (
        "IFRS9-ECL-2026",
        1,
        "0.01",
        "0.45",
    )
    assert (row["allowance"], row["previous_allowance"], row["change"]) == (
        "49.62",
        "11027.20",
        "-10977.58",
    )
    trial = ledger.report("trial_balance", as_of="2024-03-01")
    allowance = next(r for r in trial if r["account"] == "loan_loss_allowance")
    assert (allowance["debit"], allowance["credit"]) == ("0.00", "49.62")
    assert _loan_row(ledger, "2024-02-29")["rule_set"] == "CN-PROV-2002"


def test_rates_are_configurable_and_recorded(ledger: LoanLedger) -> None:
    _book(ledger)
    _adopt(ledger, {**IFRS9, "pd_1": "0.02", "lgd_1": "0.5"})

    row = _loan_row(ledger, "2024-03-01")

    # 0.02 x 0.5 x 11,027.20 = 110.272 -> 110.27
    assert (row["pd"], row["lgd"], row["allowance"]) == ("0.02", "0.5", "110.27")


def test_reports_as_known_before_the_adoption_are_byte_identical(
    ledger: LoanLedger, clock: Callable[[], datetime]
) -> None:
    _book(ledger)
    names = ("provisions", "kpi", "trial_balance", "journal")

    def snapshot(day: str, known_at: datetime | None) -> str:
        return json.dumps(
            {name: ledger.report(name, as_of=day, known_at=known_at) for name in names}
        )

    moment = clock()
    then = {day: snapshot(day, None) for day in ("2024-02-29", "2024-03-01", "2024-04-30")}
    _adopt(ledger, IFRS9)

    for day, text in then.items():
        assert snapshot(day, moment) == text, day
    assert snapshot("2024-02-29", None) == then["2024-02-29"]
    assert snapshot("2024-03-01", None) != then["2024-03-01"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"rule_set": "CN-PROV-1999"}, "unknown provision rule set 'CN-PROV-1999'"),
        ({"rule_set": "CN-PROV-2002", "substandard": "0.35"}, "substandard rate 0.35 is outside"),
        ({"rule_set": "CN-PROV-2002", "loss": "0.9"}, "the loss rate is fixed"),
        ({**IFRS9, "lgd_4": "0.4"}, "unknown provision rate 'lgd_4'"),
    ],
)
def test_bad_provision_settings_are_refused_and_nothing_is_recorded(
    ledger: LoanLedger, settings: dict[str, str], message: str
) -> None:
    _book(ledger)
    events = ledger.verify().events_checked

    with pytest.raises(ProvisionRuleError, match=message):
        _adopt(ledger, settings)

    assert ledger.verify().events_checked == events


def test_the_readmes_provisioning_examples_are_accepted(ledger: LoanLedger) -> None:
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2] / "README.md"
    examples = [
        json.loads(line)
        for line in readme.read_text(encoding="utf-8").splitlines()
        if line.startswith('{"command": "set_policy"') and "provisioning" in line
    ]
    _book(ledger)

    assert len(examples) == 2
    for example in examples:
        ledger.execute(example)
    row = _loan_row(ledger, "2026-01-01")
    # long past maturity by then, unpaid: stage 3 at the configured LGD
    assert (row["rule_set"], row["pd"], row["lgd"]) == ("IFRS9-ECL-2026", "1.00", "0.6")


def test_a_recovery_on_a_loan_never_provided_for_is_released_again(ledger: LoanLedger) -> None:
    """Written off the day it was disbursed (no month end in between, so no allowance was ever
    held): of 500.00 received on 03-10, 434.06 recovers what was written off (the rest meets the
    penalty accrued since, income when paid); it is credited back to the allowance and released
    the same day, since a written-off loan needs none."""
    from tests.journal import disburse, pre_loan, repay

    for command in pre_loan("L-0009"):
        ledger.execute(command)
    ledger.execute(disburse("L-0009", "2024-01-15", "12000.00"))
    ledger.execute(
        {
            "command": "write_off",
            "loan_id": "L-0009",
            "on": "2024-01-15",
            "approver": "board",
            "reason": "fraud",
        }
    )
    ledger.execute(repay("L-0009", "2024-03-10", "500.00", "R-1"))

    lines = ledger.report("journal", as_of="2024-03-10", since="2024-03-10")
    assert [
        (line["kind"], line["account"], line["debit"], line["credit"])
        for line in lines
        if line["kind"] in ("recovery_credit", "provision")
    ] == [
        ("recovery_credit", "write_off_expense", "434.06", "0.00"),
        ("recovery_credit", "loan_loss_allowance", "0.00", "434.06"),
        ("provision", "loan_loss_allowance", "434.06", "0.00"),
        ("provision", "impairment_expense", "0.00", "434.06"),
    ]
    trial = ledger.report("trial_balance", as_of="2024-03-10")
    allowance = next(row for row in trial if row["account"] == "loan_loss_allowance")
    assert (allowance["debit"], allowance["credit"]) == ("0.00", "0.00")
