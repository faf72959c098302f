"""Money received is never refused once a loan is disbursed (issue 17 items 4 and 5): held as
overpayment on a settled or closed loan (status `overpaid`, a `refund_due` worklist item) and
paid back by `refund`; a recovery is recorded once per repayment reference."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import DuplicateReferenceError, InvalidDateError, OverRefundError
from tests.journal import disburse, pre_loan, repay

STORE_KINDS = ("memory", "sqlite")


def _book(ledger: LoanLedger) -> None:
    """12,000.00 over 12 months at 6 % (annuity 1,032.80), disbursed 2024-01-15."""
    for command in pre_loan("L-1"):
        ledger.execute(command)
    ledger.execute(disburse("L-1", "2024-01-15", "12000.00"))


def _settled(ledger: LoanLedger) -> None:
    """Paid off on 02-15: installment 1 plus all remaining principal (11,027.20)."""
    _book(ledger)
    ledger.execute(repay("L-1", "2024-02-15", "12060.00", "R-1", prepay=True))


def _refund(on: str, amount: str, reference: str, **extra: Any) -> dict[str, Any]:
    return {
        "command": "refund",
        "loan_id": "L-1",
        "on": on,
        "amount": amount,
        "reference": reference,
        **extra,
    }


def _balance(ledger: LoanLedger, on: str, account: str) -> Decimal:
    row = next(r for r in ledger.report("trial_balance", as_of=on) if r["account"] == account)
    return Decimal(row["debit"]) - Decimal(row["credit"])


def test_money_received_for_a_settled_loan_is_held_and_the_loan_reads_overpaid(
    ledger: LoanLedger,
) -> None:
    _settled(ledger)

    result = ledger.execute(repay("L-1", "2024-03-01", "50.00", "R-2"))
    view = ledger.loan("L-1", as_of="2024-03-01")

    assert result["allocation"]["overpayment"] == "50.00"
    assert (view["status"], view["principal_outstanding"], view["overpayment"]) == (
        "overpaid",
        "0.00",
        "50.00",
    )
    assert ledger.report("worklist", as_of="2024-03-01") == [
        {"loan_id": "L-1", "item": "refund_due", "detail": "held 50.00"}
    ]
    normal = ledger.report("five_category", as_of="2024-03-01")[0]
    assert (normal["classification"], normal["loans"], normal["principal_outstanding"]) == (
        "normal",
        1,
        "0.00",
    )
    assert _balance(ledger, "2024-03-01", "overpayments") == Decimal("-50.00")
    assert ledger.reconcile("2024-03-01") == []


def test_a_refund_pays_held_overpayment_back_and_the_loan_reads_closed(ledger: LoanLedger) -> None:
    _settled(ledger)
    ledger.execute(repay("L-1", "2024-03-01", "50.00", "R-2"))

    result = ledger.execute(_refund("2024-03-05", "50.00", "F-1", payee="张三 6222 0000"))
    view = ledger.loan("L-1", as_of="2024-03-05")

    assert {key: result[key] for key in ("reference", "amount", "repeated")} == {
        "reference": "F-1",
        "amount": "50.00",
        "repeated": False,
    }
    assert (view["status"], view["overpayment"]) == ("closed", "0.00")
    assert ledger.report("worklist", as_of="2024-03-05") == []
    assert _balance(ledger, "2024-03-05", "overpayments") == Decimal(0)
    assert _balance(ledger, "2024-03-05", "cash_clearing") == _balance(
        ledger, "2024-03-04", "cash_clearing"
    ) - Decimal("50.00")
    assert ledger.reconcile("2024-03-05") == []


def test_a_refund_of_more_than_is_held_is_refused(ledger: LoanLedger) -> None:
    _settled(ledger)
    ledger.execute(repay("L-1", "2024-03-01", "50.00", "R-2"))

    with pytest.raises(
        OverRefundError,
        match=re.escape(
            "refund of 50.01 on 2024-03-05 is more than the 50.00 overpayment loan L-1 holds then"
        ),
    ):
        ledger.execute(_refund("2024-03-05", "50.01", "F-1"))
    with pytest.raises(OverRefundError, match=re.escape("more than the 0.00 overpayment")):
        ledger.execute(_refund("2024-02-20", "1.00", "F-1"))
    assert ledger.verify().events_checked == 7


def test_a_refund_that_would_take_money_a_later_refund_paid_back_is_refused(
    ledger: LoanLedger,
) -> None:
    _settled(ledger)
    ledger.execute(repay("L-1", "2024-03-01", "50.00", "R-2"))
    ledger.execute(_refund("2024-03-10", "50.00", "F-1"))

    with pytest.raises(
        OverRefundError, match=re.escape("would leave refund 'F-1' of 50.00 on 2024-03-10")
    ):
        ledger.execute(_refund("2024-03-05", "10.00", "F-2"))


def test_a_refund_is_idempotent_by_reference(ledger: LoanLedger) -> None:
    _settled(ledger)
    ledger.execute(repay("L-1", "2024-03-01", "50.00", "R-2"))
    first = ledger.execute(_refund("2024-03-05", "20.00", "F-1"))

    again = ledger.execute(_refund("2024-03-05", "20.00", "F-1"))

    assert again == {**first, "repeated": True}
    assert ledger.loan("L-1", as_of="2024-03-05")["overpayment"] == "30.00"
    with pytest.raises(DuplicateReferenceError, match="'F-1' was already used"):
        ledger.execute(_refund("2024-03-05", "25.00", "F-1"))


def test_a_refund_pays_back_held_money_on_an_active_loan(ledger: LoanLedger) -> None:
    """200.00 more than installment 1 is held on 02-15; 150.00 of it is paid back."""
    _book(ledger)
    ledger.execute(repay("L-1", "2024-02-15", "1232.80", "R-1"))

    ledger.execute(_refund("2024-02-20", "150.00", "F-1"))
    view = ledger.loan("L-1", as_of="2024-02-20")

    assert (view["status"], view["overpayment"]) == ("active", "50.00")
    assert _balance(ledger, "2024-02-20", "overpayments") == Decimal("-50.00")
    assert ledger.reconcile("2024-02-20") == []


def test_money_for_a_closed_loan_reopens_it_as_overpaid(ledger: LoanLedger) -> None:
    _settled(ledger)
    ledger.execute({"command": "close", "loan_id": "L-1", "on": "2024-02-20"})

    ledger.execute(repay("L-1", "2024-03-01", "80.00", "R-2"))

    assert ledger.loan("L-1", as_of="2024-02-29")["status"] == "closed"
    assert ledger.loan("L-1", as_of="2024-03-01")["status"] == "overpaid"
    assert _balance(ledger, "2024-03-01", "overpayments") == Decimal("-80.00")
    ledger.execute(_refund("2024-03-02", "80.00", "F-1"))
    assert ledger.loan("L-1", as_of="2024-03-02")["status"] == "closed"
    with pytest.raises(InvalidDateError, match="before the close on 2024-02-20"):
        ledger.execute(repay("L-1", "2024-02-19", "1.00", "R-3"))
    assert ledger.reconcile("2024-03-02") == []


def test_money_for_a_written_off_loan_is_a_recovery(ledger: LoanLedger) -> None:
    """1,000.00 received after the write-off first meets penalty accrued off balance since (41.82,
    income when paid); the other 958.18 recovers what was written off: credited back to the
    allowance, which the loan no longer needs, so it is released to impairment expense."""
    _book(ledger)
    ledger.execute(
        {
            "command": "write_off",
            "loan_id": "L-1",
            "on": "2024-09-30",
            "approver": "board",
            "reason": "borrower absconded",
        }
    )
    expense = _balance(ledger, "2024-09-30", "write_off_expense")
    impairment = _balance(ledger, "2024-09-30", "impairment_expense")

    ledger.execute(repay("L-1", "2024-10-10", "1000.00", "R-1"))

    assert ledger.loan("L-1", as_of="2024-10-10")["status"] == "written_off"
    assert _balance(ledger, "2024-10-10", "write_off_expense") == expense
    assert _balance(ledger, "2024-10-10", "impairment_expense") == impairment - Decimal("958.18")
    assert _balance(ledger, "2024-10-10", "loan_loss_allowance") == Decimal(0)
    assert ledger.reconcile("2024-10-10") == []


def _case(ledger: LoanLedger) -> dict[str, Any]:
    _book(ledger)
    case = {"loan_id": "L-1", "case_id": "ARB-1"}
    ledger.execute(
        {
            "command": "file_arbitration",
            **case,
            "on": "2024-07-01",
            "forum": "上海仲裁委员会",
            "claim_amount": "12500.00",
        }
    )
    ledger.execute(repay("L-1", "2024-09-01", "2000.00", "ENF-1"))
    return {
        "command": "record_recovery",
        **case,
        "on": "2024-09-02",
        "amount": "2000.00",
        "repayment_reference": "ENF-1",
    }


def test_record_recovery_twice_with_the_same_case_and_reference_is_recorded_once(
    ledger: LoanLedger,
) -> None:
    recovery = _case(ledger)
    ledger.execute(recovery)
    events = ledger.verify().events_checked

    ledger.execute(recovery)

    assert ledger.verify().events_checked == events
    recoveries = [
        fact for fact in ledger.archive("L-1")["facts"] if fact["fact"] == "RecoveryRecorded"
    ]
    assert len(recoveries) == 1


def test_a_recovery_with_a_used_reference_and_different_content_is_refused(
    ledger: LoanLedger,
) -> None:
    recovery = _case(ledger)
    ledger.execute(recovery)

    with pytest.raises(
        DuplicateReferenceError,
        match=re.escape(
            "recovery of repayment 'ENF-1' was already recorded in case 'ARB-1' on 2024-09-02"
        ),
    ):
        ledger.execute({**recovery, "on": "2024-09-03"})
