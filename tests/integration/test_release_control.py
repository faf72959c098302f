"""Collateral release control (issue 17 item 9): releasing collateral from an overdue loan, or
leaving it above the LTV threshold, needs a second person's approval, recorded on the fact.

The book: L-0001 is 12,000.00 over 12 months at 6%, annuity, disbursed 2024-01-15 with a house
(C-1, 20,000.00) and a car (C-2, 5,000.00) pledged that day. Installment 1 (1,032.80: 972.80
principal, 60.00 interest) falls due 2024-02-15.
"""

from __future__ import annotations

from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import (
    AuthorityLimitError,
    ReleaseControlError,
    SeparationOfDutiesError,
)
from loanledger.domain.loan_events import CollateralReleased
from loanledger.persistence.ids import loan_uuid
from tests.journal import disburse, pre_loan, repay


def _book(ledger: LoanLedger) -> None:
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    for collateral_id, kind, value in (("C-1", "house", "20000.00"), ("C-2", "car", "5000.00")):
        ledger.execute(
            {
                "command": "pledge_collateral",
                "loan_id": "L-0001",
                "on": "2024-01-15",
                "collateral_id": collateral_id,
                "kind": kind,
                "value": value,
            }
        )


def _release(on: str, collateral_id: str, **approval: str) -> dict[str, Any]:
    return {
        "command": "release_collateral",
        "loan_id": "L-0001",
        "on": on,
        "collateral_id": collateral_id,
        **approval,
    }


def test_a_release_while_the_loan_is_overdue_is_refused_without_a_second_person(
    ledger: LoanLedger,
) -> None:
    _book(ledger)

    with pytest.raises(
        ReleaseControlError,
        match="release_collateral: loan L-0001 is 19 days past due; the release needs a second "
        "person's approval",
    ):
        ledger.execute(_release("2024-03-05", "C-2"))

    view = ledger.loan("L-0001", as_of="2024-03-05")
    assert (view["ltv"], view["ifrs9_stage"]) == ("0.4800", 1)


def test_an_approved_release_on_an_overdue_loan_is_recorded_with_who_approved(
    ledger: LoanLedger,
) -> None:
    _book(ledger)

    ledger.execute(_release("2024-03-05", "C-2", requested_by="officer-1", approver="risk-1"))

    (released,) = [
        event
        for event in ledger.events.get(loan_uuid("L-0001"))
        if isinstance(event, CollateralReleased)
    ]
    assert (released.requested_by, released.approver) == ("officer-1", "risk-1")
    assert ledger.loan("L-0001", as_of="2024-03-05")["ltv"] == "0.6000"


def test_a_release_that_would_leave_the_loan_above_the_ltv_threshold_is_refused(
    ledger: LoanLedger,
) -> None:
    """Current after installment 1: 11,027.20 outstanding over the 5,000.00 car alone is 2.2054."""
    _book(ledger)
    ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))

    with pytest.raises(ReleaseControlError, match=r"LTV would be 2\.2054, above 0\.8"):
        ledger.execute(_release("2024-03-05", "C-1"))
    ledger.execute(_release("2024-03-05", "C-2"))  # 11027.20 / 20000 = 0.5514: no control

    assert ledger.loan("L-0001", as_of="2024-03-05")["ltv"] == "0.5514"


def test_releasing_all_collateral_of_a_loan_with_principal_outstanding_needs_approval(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))
    ledger.execute(_release("2024-03-05", "C-2"))

    with pytest.raises(ReleaseControlError, match=r"no collateral would be left for 11027\.20"):
        ledger.execute(_release("2024-03-06", "C-1"))


def test_the_requester_cannot_approve_their_own_release(ledger: LoanLedger) -> None:
    _book(ledger)

    with pytest.raises(SeparationOfDutiesError, match="approver 'RISK-1' is the requester"):
        ledger.execute(_release("2024-03-05", "C-2", requested_by="risk-1", approver="RISK-1"))


def test_an_approver_beyond_their_granted_limit_cannot_approve_a_release(
    ledger: LoanLedger,
) -> None:
    ledger.execute(
        {
            "command": "grant_authority",
            "staff_id": "risk-2",
            "on": "2024-01-01",
            "role": "approver",
            "limit": "5000.00",
            "granted_by": "admin-1",
        }
    )
    _book(ledger)

    with pytest.raises(
        AuthorityLimitError,
        match=r"principal outstanding 12000\.00 is above approver 'risk-2''s granted limit 5000",
    ):
        ledger.execute(_release("2024-03-05", "C-2", requested_by="officer-1", approver="risk-2"))
