"""The staff register (issue 17 item 7): authority is granted and revoked by recorded facts, and
an approval is checked against the limit in force on its date, not the limit the approver
declares. A book that requires the register refuses staff without a grant.

The book: L-0001 applies for 12,000.00 on 2024-01-02 (investigators inv-1 and inv-2), is reviewed
by rev-1 and approved by approver-1 on 2024-01-10, who declares an authority limit of
5,000,000.00 (tests/journal.py `pre_loan`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import (
    AuthorityLimitError,
    SeparationOfDutiesError,
    UnregisteredStaffError,
    WrongStateError,
)
from tests.journal import lines, pre_loan


def _grant(
    staff_id: str, role: str, on: str = "2024-01-01", limit: str | None = None
) -> dict[str, Any]:
    command: dict[str, Any] = {
        "command": "grant_authority",
        "staff_id": staff_id,
        "on": on,
        "role": role,
        "granted_by": "admin-1",
    }
    if limit is not None:
        command["limit"] = limit
    return command


def _revoke(staff_id: str, role: str, on: str) -> dict[str, Any]:
    return {
        "command": "revoke_authority",
        "staff_id": staff_id,
        "on": on,
        "role": role,
        "granted_by": "admin-1",
    }


def _everyone(ledger: LoanLedger, approver_limit: str = "5000000.00") -> None:
    ledger.execute({**_grant("admin-1", "administrator"), "granted_by": "root"})
    for staff_id, role in (
        ("inv-1", "investigator"),
        ("inv-2", "investigator"),
        ("rev-1", "reviewer"),
    ):
        ledger.execute(_grant(staff_id, role))
    ledger.execute(_grant("approver-1", "approver", limit=approver_limit))


def _require_register(ledger: LoanLedger) -> None:
    ledger.execute({"command": "set_policy", "on": "2024-01-01", "require_staff_register": True})


def test_a_declared_authority_limit_above_the_granted_limit_is_refused(ledger: LoanLedger) -> None:
    ledger.execute(_grant("approver-1", "approver", limit="10000.00"))
    *before, approve = pre_loan("L-0001")
    for command in before:
        ledger.execute(command)

    with pytest.raises(
        AuthorityLimitError,
        match=r"declared authority_limit 5000000.00 is above 'approver-1''s granted limit "
        r"10000.00 in force on 2024-01-10",
    ):
        ledger.execute(approve)

    assert ledger.loan("L-0001", as_of="2024-01-10")["status"] == "reviewed"


def test_the_limit_in_force_on_the_approval_date_is_the_one_checked(ledger: LoanLedger) -> None:
    """10,000.00 from 2024-01-01, raised to 50,000.00 from 2024-01-11: an approval dated
    2024-01-10 declaring 12,000.00 is refused; one declaring 10,000.00 (amount 10,000.00) is not."""
    ledger.execute(_grant("approver-1", "approver", limit="10000.00"))
    ledger.execute(_grant("approver-1", "approver", on="2024-01-11", limit="50000.00"))
    *before, approve = pre_loan("L-0001")
    for command in before:
        ledger.execute(command)

    with pytest.raises(
        AuthorityLimitError, match=r"granted limit 10000\.00 in force on 2024-01-10"
    ):
        ledger.execute({**approve, "authority_limit": "12000.00"})
    ledger.execute({**approve, "authority_limit": "10000.00", "amount": "10000.00"})

    assert ledger.loan("L-0001", as_of="2024-01-10")["status"] == "approved"


def test_without_the_register_required_staff_without_a_grant_act_as_before(
    ledger: LoanLedger,
) -> None:
    for command in pre_loan("L-0001"):
        ledger.execute(command)

    assert ledger.loan("L-0001", as_of="2024-01-10")["status"] == "approved"


def test_a_book_that_requires_the_register_refuses_staff_without_a_grant(
    ledger: LoanLedger,
) -> None:
    _require_register(ledger)
    apply, investigation, *_ = pre_loan("L-0001")
    ledger.execute(apply)

    with pytest.raises(
        UnregisteredStaffError,
        match="record_investigation: 'inv-1' holds no investigator authority on 2024-01-02 in "
        "the staff register, which the book's policy requires",
    ):
        ledger.execute(investigation)


def test_a_book_that_requires_the_register_accepts_granted_staff(ledger: LoanLedger) -> None:
    _everyone(ledger)
    _require_register(ledger)

    for command in pre_loan("L-0001"):
        ledger.execute(command)

    assert ledger.loan("L-0001", as_of="2024-01-10")["status"] == "approved"


def test_a_revoked_approver_is_refused_once_the_register_is_required(ledger: LoanLedger) -> None:
    _everyone(ledger)
    _require_register(ledger)
    ledger.execute(_revoke("approver-1", "approver", "2024-01-09"))
    *before, approve = pre_loan("L-0001")
    for command in before:
        ledger.execute(command)

    with pytest.raises(UnregisteredStaffError, match="'approver-1' holds no approver authority"):
        ledger.execute(approve)


def test_only_an_administrator_grants_once_the_register_is_required(ledger: LoanLedger) -> None:
    _require_register(ledger)

    with pytest.raises(
        UnregisteredStaffError, match="grant_authority: 'admin-1' holds no administrator"
    ):
        ledger.execute(_grant("inv-1", "investigator"))


def test_nobody_grants_or_revokes_their_own_authority(ledger: LoanLedger) -> None:
    with pytest.raises(SeparationOfDutiesError, match="cannot grant authority to themselves"):
        ledger.execute({**_grant("admin-1", "approver"), "granted_by": "ADMIN-1"})
    with pytest.raises(WrongStateError, match="'inv-9' holds no reviewer authority on 2024-01-05"):
        ledger.execute(_revoke("inv-9", "reviewer", "2024-01-05"))


def test_staff_facts_are_chained_and_verified(ledger: LoanLedger) -> None:
    _everyone(ledger)
    ledger.execute(_revoke("inv-2", "investigator", "2024-02-01"))

    result = ledger.verify()

    assert (result.ok, result.events_checked, result.loans_checked) == (True, 6, 5)


def test_a_book_that_requires_the_register_refuses_an_unregistered_write_off_approver(
    ledger: LoanLedger,
) -> None:
    _everyone(ledger)
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(
        {
            "command": "disburse",
            "loan_id": "L-0001",
            "on": "2024-01-15",
            "amount": "12000.00",
            "reference": "D-1",
        }
    )
    _require_register(ledger)

    with pytest.raises(UnregisteredStaffError, match="write_off: 'cfo-1' holds no approver"):
        ledger.execute(
            {
                "command": "write_off",
                "loan_id": "L-0001",
                "on": "2024-09-01",
                "approver": "cfo-1",
                "reason": "uncollectable",
            }
        )


def test_a_journal_loads_book_commands_in_order_and_names_the_refused_line(
    ledger: LoanLedger,
) -> None:
    journal = lines([_grant("approver-1", "approver", limit="10000.00"), *pre_loan("L-0001")])

    with pytest.raises(AuthorityLimitError, match=r"^line 5: approve: declared authority_limit"):
        ledger.load(journal)

    assert ledger.loan("L-0001", as_of="2024-01-10")["status"] == "reviewed"


def test_once_the_register_is_required_only_an_administrator_changes_the_policy(
    ledger: LoanLedger,
) -> None:
    _everyone(ledger)
    _require_register(ledger)
    switch_off = {"command": "set_policy", "on": "2024-02-01", "require_staff_register": False}

    with pytest.raises(UnregisteredStaffError, match="set_by must name an administrator"):
        ledger.execute(switch_off)
    with pytest.raises(UnregisteredStaffError, match="'rev-1' holds no administrator"):
        ledger.execute({**switch_off, "set_by": "rev-1"})
    ledger.execute({**switch_off, "set_by": "admin-1"})

    assert ledger.book.policy(date(2024, 2, 1)).require_staff_register is False
