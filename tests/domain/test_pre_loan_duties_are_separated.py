"""Pre-loan (贷前) and approval (贷中): two distinct investigators (双人调查), a reviewer who was
not one of them, an approver who is neither, and approval within the approver's authority
limit (按授权权限审批), checked by the aggregate itself."""

from __future__ import annotations

import pytest

from loanledger.domain.errors import AuthorityLimitError, SeparationOfDutiesError
from loanledger.domain.loan_events import LoanApproved
from tests.domain.builders import approved, line, loan_from, pre_loan

APPLY, INVESTIGATE, REVIEW, APPROVE = pre_loan("L-0001")


def test_four_distinct_people_take_a_loan_to_approval() -> None:
    loan = approved()

    assert isinstance(loan.approval, LoanApproved)
    assert loan.lifecycle_stage() == "approved"


def test_the_same_investigator_twice_is_refused_whatever_the_case() -> None:
    with pytest.raises(SeparationOfDutiesError, match="two distinct people"):
        loan_from([APPLY, {**INVESTIGATE, "investigators": ["inv-1", "INV-1"]}])


def test_an_investigator_cannot_review_their_own_investigation() -> None:
    with pytest.raises(SeparationOfDutiesError, match="must not be one of the investigators"):
        loan_from([APPLY, INVESTIGATE, {**REVIEW, "reviewer": "inv-2"}])


def test_the_reviewer_cannot_approve() -> None:
    with pytest.raises(SeparationOfDutiesError, match="must not be the reviewer"):
        loan_from([APPLY, INVESTIGATE, REVIEW, {**APPROVE, "approver": "rev-1"}])


def test_an_investigator_cannot_approve() -> None:
    with pytest.raises(SeparationOfDutiesError, match="must not be one of the investigators"):
        loan_from([APPLY, INVESTIGATE, REVIEW, {**APPROVE, "approver": "inv-1"}])


def test_an_amount_above_the_approvers_authority_limit_is_refused() -> None:
    over_limit = {**APPROVE, "authority_limit": "10000.00"}

    with pytest.raises(AuthorityLimitError, match=r"authority limit 10000\.00"):
        loan_from([APPLY, INVESTIGATE, REVIEW, over_limit])


def test_an_approval_above_the_applied_amount_is_refused() -> None:
    more_than_asked = {**APPROVE, "amount": "12000.01"}

    with pytest.raises(AuthorityLimitError, match="exceeds the applied amount"):
        loan_from([APPLY, INVESTIGATE, REVIEW, more_than_asked])


def test_the_reviewer_cannot_reject_either() -> None:
    reject = line("reject", "2024-01-10", approver="rev-1", reason="thin file")

    with pytest.raises(SeparationOfDutiesError, match="must not be the reviewer"):
        loan_from([APPLY, INVESTIGATE, REVIEW, reject])
