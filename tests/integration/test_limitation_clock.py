"""The claim clocks (issue 17 item 12): limitation restarts on each interruption (Civil Code
art. 195), and limitation, the guarantee period (art. 692) and unanswered notices reach the
warnings and the worklist before it is too late.

The book: L-0001 is 12,000.00 over 12 months at 6%, annuity, disbursed 2024-01-15 and never
repaid unless a test says so; installment 1 falls due 2024-02-15, so limitation runs to
2027-02-15 (its 90-day warning from 2026-11-17). Maturity is 2025-01-15, so a guarantor's period
ends 2025-07-15 (warning from 2025-04-16).
"""

from __future__ import annotations

from datetime import date

from loanledger import LoanLedger
from tests.journal import disburse, pre_loan, repay


def _book(ledger: LoanLedger) -> None:
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))


def _worklist(ledger: LoanLedger, as_of: str) -> list[tuple[str, str]]:
    return [(item["item"], item["detail"]) for item in ledger.report("worklist", as_of=as_of)]


def test_a_partial_payment_restarts_the_limitation_clock(ledger: LoanLedger) -> None:
    _book(ledger)
    before = ledger.loan("L-0001", as_of="2024-05-31")["limitation_expires_on"]

    ledger.execute(repay("L-0001", "2024-06-01", "100.00", "R-1"))

    assert before == "2027-02-15"
    assert ledger.loan("L-0001", as_of="2024-06-01")["limitation_expires_on"] == "2027-06-01"
    assert ledger.loan("L-0001", as_of="2024-05-31")["limitation_expires_on"] == "2027-02-15"


def test_filing_arbitration_restarts_the_limitation_clock(ledger: LoanLedger) -> None:
    _book(ledger)

    ledger.execute(
        {
            "command": "file_arbitration",
            "loan_id": "L-0001",
            "on": "2024-07-10",
            "case_id": "ARB-1",
            "forum": "Shanghai Arbitration Commission",
            "claim_amount": "12000.00",
        }
    )

    assert ledger.loan("L-0001", as_of="2024-07-10")["limitation_expires_on"] == "2027-07-10"


def test_limitation_warns_for_90_days_before_expiry_with_worklist_items_then_and_at_expiry(
    ledger: LoanLedger,
) -> None:
    _book(ledger)

    def warned(day: str) -> bool:
        return "limitation_expiring" in ledger.loan("L-0001", as_of=day)["warnings"]

    assert [warned(day) for day in ("2026-11-16", "2026-11-17", "2027-02-15", "2027-02-16")] == [
        False,
        True,
        True,
        False,
    ]
    assert ("limitation", "expires 2027-02-15: 90 days left") in _worklist(ledger, "2026-11-17")
    assert ("limitation", "expires 2027-02-15: last day") in _worklist(ledger, "2027-02-15")
    assert not [item for item in _worklist(ledger, "2026-12-01") if item[0] == "limitation"]


def test_the_guarantee_period_warns_and_reaches_the_worklist_before_it_lapses(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    ledger.execute(
        {
            "command": "add_guarantor",
            "loan_id": "L-0001",
            "on": "2024-01-15",
            "guarantor": {"id": "G-1", "name": "王五"},
            "guaranteed_amount": "12000.00",
        }
    )

    def warned(day: str) -> bool:
        return "guarantee_period_lapsing" in ledger.loan("L-0001", as_of=day)["warnings"]

    assert [warned(day) for day in ("2025-04-15", "2025-04-16", "2025-07-15", "2025-07-16")] == [
        False,
        True,
        True,
        False,
    ]
    assert ("guarantee_period", "expires 2025-07-15: 90 days left") in _worklist(
        ledger, "2025-04-16"
    )
    assert ("guarantee_period", "expires 2025-07-15: last day") in _worklist(ledger, "2025-07-15")
    assert ("warning", "guarantee_period_lapsing") in _worklist(ledger, "2025-05-01")


def test_a_notice_awaiting_its_receipt_over_30_days_is_a_worklist_item(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    ledger.close_day(date(2024, 2, 16))  # dunning at DPD 1
    item = ("receipt_overdue", "notice L-0001/dunning/2024-02-16 issued 2024-02-16")

    assert item not in _worklist(ledger, "2024-03-17")
    assert item in _worklist(ledger, "2024-03-18")

    ledger.execute(
        {
            "command": "acknowledge_notice",
            "loan_id": "L-0001",
            "on": "2024-03-19",
            "notice_id": "L-0001/dunning/2024-02-16",
        }
    )
    assert item not in _worklist(ledger, "2024-03-19")


def test_the_read_model_agrees_with_a_replay_on_the_clock_warnings(ledger: LoanLedger) -> None:
    """A post-loan check dated 2027-07-01 carries the business horizon (what the read model
    covers without a replay) past every date asked."""
    _book(ledger)
    ledger.execute(repay("L-0001", "2024-06-01", "100.00", "R-1"))
    ledger.execute(
        {
            "command": "record_post_loan_check",
            "loan_id": "L-0001",
            "on": "2027-07-01",
            "inspector": "inspector-1",
            "findings": {
                "use_of_funds": "as agreed",
                "repayment_ability": "none",
                "collateral": "n/a",
                "guarantor": "n/a",
            },
            "rating": "normal",
        }
    )

    for day in ("2024-06-01", "2027-03-03", "2027-03-04", "2027-06-01", "2027-06-02"):
        (row,) = ledger.report("loan_ledger", as_of=day)
        view = ledger.loan("L-0001", as_of=day)
        assert (row["warnings"], row["limitation_expires_on"]) == (
            view["warnings"],
            view["limitation_expires_on"],
        ), day


def test_an_agreed_guarantee_period_replaces_the_six_months(ledger: LoanLedger) -> None:
    """Agreed 12 months: the guarantee ends 2026-01-15 and warns from 2025-10-17."""
    _book(ledger)
    ledger.execute(
        {
            "command": "add_guarantor",
            "loan_id": "L-0001",
            "on": "2024-01-15",
            "guarantor": {"id": "G-1", "name": "王五"},
            "guaranteed_amount": "12000.00",
            "guarantee_period_months": 12,
        }
    )

    view = ledger.loan("L-0001", as_of="2025-10-17")

    assert view["guarantee_expires_on"] == "2026-01-15"
    assert "guarantee_period_lapsing" in view["warnings"]
    assert "guarantee_period_lapsing" not in ledger.loan("L-0001", as_of="2025-10-16")["warnings"]
