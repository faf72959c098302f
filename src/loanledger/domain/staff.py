"""The staff register (人员授权): who may act in which role, from when, within which limit.

Grants and revocations are recorded facts of one stream per person (`grant_authority`,
`revoke_authority`), so an approval can be checked against the limit in force on its own date
rather than against a limit the approver declares. Staff ids are compared normalised (trimmed,
casefolded): "INV-1 " and "inv-1" are the same person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from loanledger.domain.aggregate import EventSourcedAggregate
from loanledger.domain.errors import SeparationOfDutiesError, WrongStateError
from loanledger.domain.policy import BookEvent

Role = Literal["investigator", "reviewer", "approver", "administrator"]
ROLES: tuple[Role, ...] = ("investigator", "reviewer", "approver", "administrator")


def normalised(staff_id: str) -> str:
    """The form staff ids are compared in: trimmed and casefolded."""
    return staff_id.strip().casefold()


def staff_stream(staff_id: str) -> str:
    """The `loan_id` a staff member's facts carry (their stream's name in verify)."""
    return f"staff:{normalised(staff_id)}"


class AuthorityGranted(BookEvent):
    staff_id: str
    role: Role
    limit: Decimal | None
    """For an approver: the largest amount they may approve (None: no limit of their own)."""
    granted_by: str

    def create_aggregate(self) -> Any:
        return StaffMember(self.originator_id)


class AuthorityRevoked(BookEvent):
    staff_id: str
    role: Role
    granted_by: str


@dataclass(frozen=True)
class Authority:
    """A role held on a date, and its limit."""

    role: Role
    limit: Decimal | None
    granted_on: date


class StaffMember(EventSourcedAggregate):
    """One person's grants and revocations."""

    def __init__(self, aggregate_id: UUID) -> None:
        super().__init__(aggregate_id)
        self.facts: list[AuthorityGranted | AuthorityRevoked] = []

    def apply(self, event: Any) -> None:
        if not isinstance(event, AuthorityGranted | AuthorityRevoked):
            raise TypeError(f"a staff member cannot apply {type(event).__name__}")
        super().apply(event)
        self.facts.append(event)

    def authority(self, role: str, on: date) -> Authority | None:
        """The grant of `role` in force at the end of `on` (None: not held)."""
        held: Authority | None = None
        for fact in sorted(
            self.facts, key=lambda fact: (fact.effective_date, fact.originator_version)
        ):
            if fact.effective_date > on or fact.role != role:
                continue
            if isinstance(fact, AuthorityGranted):
                held = Authority(fact.role, fact.limit, fact.effective_date)
            else:
                held = None
        return held

    def grant(
        self,
        staff_id: str,
        on: date,
        role: Role,
        limit: Decimal | None,
        granted_by: str,
        recorded_at: datetime,
    ) -> AuthorityGranted:
        if normalised(granted_by) == normalised(staff_id):
            raise SeparationOfDutiesError(
                f"grant_authority: {staff_id!r} cannot grant authority to themselves"
            )
        return self.trigger(
            AuthorityGranted,
            recorded_at,
            loan_id=staff_stream(staff_id),
            effective_date=on,
            staff_id=normalised(staff_id),
            role=role,
            limit=limit,
            granted_by=normalised(granted_by),
        )

    def revoke(
        self, staff_id: str, on: date, role: Role, granted_by: str, recorded_at: datetime
    ) -> AuthorityRevoked:
        if self.authority(role, on) is None:
            raise WrongStateError(
                f"revoke_authority: {staff_id!r} holds no {role} authority on {on.isoformat()}"
            )
        if normalised(granted_by) == normalised(staff_id):
            raise SeparationOfDutiesError(
                f"revoke_authority: {staff_id!r} cannot revoke their own authority"
            )
        return self.trigger(
            AuthorityRevoked,
            recorded_at,
            loan_id=staff_stream(staff_id),
            effective_date=on,
            staff_id=normalised(staff_id),
            role=role,
            granted_by=normalised(granted_by),
        )
