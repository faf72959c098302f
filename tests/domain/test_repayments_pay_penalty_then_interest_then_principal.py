"""Repayment allocation (Civil Code art. 561): oldest installment first; within one, penalty,
then interest, then principal; a remainder is held as overpayment. A repayment is recorded with
its allocation, and the same reference again is a no-op answering the first result."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loanledger.domain.errors import DuplicateReferenceError
from loanledger.domain.loan_events import AllocationRevised
from tests.domain.builders import LOAN_ID, disbursed, record
from tests.journal import repay


def test_a_small_payment_on_an_overdue_loan_meets_penalty_before_interest() -> None:
    """First installment (972.80 principal + 60.00 interest) due 2024-02-15, unpaid; a payment
    on 2024-03-01 meets the penalty accrued through 2024-02-29 (14 days, 算头不算尾) first:
    1,032.80 × 6% × 1.5 / 360 × 14 = 3.6148, paid as 3.61; the rest goes to interest."""
    loan = disbursed(on="2024-01-15")

    outcome = record(loan, repay(LOAN_ID, "2024-03-01", "10.00", "R-1"))

    assert outcome.result["allocation"] == {
        "penalty": "3.61",
        "interest": "6.39",
        "principal": "0.00",
        "prepaid_principal": "0.00",
        "overpayment": "0.00",
    }


def test_an_installment_paid_on_its_due_date_goes_to_interest_then_principal() -> None:
    loan = disbursed(on="2024-01-15")

    outcome = record(loan, repay(LOAN_ID, "2024-02-15", "1032.80", "R-1"))

    allocation = outcome.result["allocation"]
    assert (allocation["penalty"], allocation["interest"], allocation["principal"]) == (
        "0.00",
        "60.00",
        "972.80",
    )


def test_money_beyond_what_is_due_is_held_as_overpayment() -> None:
    loan = disbursed(on="2024-01-15")

    outcome = record(loan, repay(LOAN_ID, "2024-02-15", "1100.00", "R-1"))

    assert outcome.result["allocation"]["overpayment"] == "67.20"


def test_the_same_repayment_again_records_nothing_and_answers_the_first_result() -> None:
    loan = disbursed()
    first = record(loan, repay(LOAN_ID, "2024-02-15", "1032.80", "R-1"))

    again = record(loan, repay(LOAN_ID, "2024-02-15", "1032.80", "R-1"))

    assert again.events == ()
    assert again.result == {**first.result, "repeated": True}
    assert len(loan.repayments) == 1


def test_a_reference_reused_with_other_content_is_refused() -> None:
    loan = disbursed()
    record(loan, repay(LOAN_ID, "2024-02-15", "1032.80", "R-1"))

    with pytest.raises(DuplicateReferenceError, match="different content"):
        record(loan, repay(LOAN_ID, "2024-02-15", "1032.81", "R-1"))


def test_a_backdated_repayment_revises_the_allocation_of_a_later_one() -> None:
    """R-1 on 2024-03-01 paid penalty first; R-0, recorded later but dated on the due date,
    pays the installment on time, so R-1's penalty share is revised away."""
    loan = disbursed(on="2024-01-15")
    record(loan, repay(LOAN_ID, "2024-03-01", "10.00", "R-1"))

    outcome = record(loan, repay(LOAN_ID, "2024-02-15", "1032.80", "R-0"))

    revisions = [event for event in loan.history if isinstance(event, AllocationRevised)]
    assert [getattr(event, "reference", None) for event in outcome.events] == ["R-0"]
    assert [revision.reference for revision in revisions] == ["R-1"]
    assert revisions[0].previous["penalty"] == Decimal("3.61")
    assert loan.recorded_allocations["R-1"][1]["penalty"] == Decimal("0.00")
