"""The lifecycle table (`domain.lifecycle`) is checked before any handler runs: a command the
loan's stage does not allow is refused with `WrongStateError`, and nothing is recorded."""

from __future__ import annotations

import pytest

from loanledger.domain.errors import OverDisbursementError, WrongStateError
from tests.domain.builders import LOAN_ID, approved, disbursed, line, loan_from, pre_loan, record
from tests.journal import disburse, repay


def test_money_cannot_be_repaid_before_it_is_disbursed() -> None:
    loan = approved()

    with pytest.raises(WrongStateError):
        record(loan, repay(LOAN_ID, "2024-01-20", "100.00", "R-1"))

    assert loan.repayments == []


def test_a_loan_cannot_be_disbursed_before_approval() -> None:
    reviewed = loan_from(pre_loan(LOAN_ID)[:3])

    with pytest.raises(WrongStateError):
        record(reviewed, disburse(LOAN_ID, "2024-01-15", "12000.00"))


def test_a_rejected_application_takes_no_further_command() -> None:
    loan = loan_from(
        [
            *pre_loan(LOAN_ID)[:3],
            line("reject", "2024-01-10", approver="approver-1", reason="thin file"),
        ]
    )

    assert loan.lifecycle_stage() == "rejected"
    with pytest.raises(WrongStateError):
        record(loan, line("withdraw", "2024-01-11", reason="changed mind"))


def test_a_disbursed_loan_can_no_longer_be_withdrawn() -> None:
    loan = disbursed()

    with pytest.raises(WrongStateError):
        record(loan, line("withdraw", "2024-01-20", reason="changed mind"))


def test_tranches_never_exceed_the_approved_amount() -> None:
    loan = loan_from([*pre_loan(LOAN_ID), disburse(LOAN_ID, "2024-01-15", "6000.00")])

    with pytest.raises(OverDisbursementError, match=r"above the approved 12000\.00"):
        record(loan, disburse(LOAN_ID, "2024-01-20", "6000.01", reference="D-2"))

    record(loan, disburse(LOAN_ID, "2024-01-20", "6000.00", reference="D-2"))
    assert len(loan.disbursements) == 2


def test_a_loan_that_still_owes_cannot_be_closed() -> None:
    loan = disbursed()

    with pytest.raises(WrongStateError, match="still owes principal"):
        record(loan, line("close", "2024-03-01"))
