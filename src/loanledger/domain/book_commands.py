"""Journal commands about the book rather than one loan: policy and the staff register.

They follow the loan commands' style (strict, unknown fields refused) but carry no `loan_id`:
`set_policy` (on, policy fields: each optional, at least one), `grant_authority` and
`revoke_authority` (staff_id, on, role, limit?, granted_by).
"""

from __future__ import annotations

import hashlib
import json
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from loanledger.domain.command_fields import Amount, Flag, IsoDate
from loanledger.domain.errors import InvalidCommandError
from loanledger.domain.horizon import DEFAULT_FUTURE_HORIZON_DAYS, DEFAULT_TIME_ZONE, FutureHorizon
from loanledger.domain.policy import POLICY_FIELDS
from loanledger.domain.text import Identifier

RoleName = Literal["investigator", "reviewer", "approver", "administrator"]


class BookCommand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: ClassVar[str]
    command: str
    on: IsoDate

    def content_hash(self) -> str:
        canonical = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class SetPolicy(BookCommand):
    """Adopt book-wide settings from `on`; fields left out keep their value."""

    name = "set_policy"
    command: Literal["set_policy"]
    rule_set: Identifier | None = None
    require_staff_register: Flag | None = None
    set_by: Identifier | None = None
    future_horizon_days: int | None = None
    time_zone: Identifier | None = None
    provisioning: dict[str, str] | None = None
    """The provision rule set and its rates from `on`, e.g. `{"rule_set": "CN-PROV-2002",
    "general": "0.01"}` (checked by `domain.provisions.provision_rules` when executed)."""

    @model_validator(mode="after")
    def _names_a_setting(self) -> SetPolicy:
        if all(getattr(self, field) is None for field in POLICY_FIELDS):
            raise InvalidCommandError(
                f"set_policy names no setting; give at least one of {', '.join(POLICY_FIELDS)}"
            )
        # Checked as the horizon itself checks them (0-3660 days, a known time zone).
        FutureHorizon(
            self.future_horizon_days
            if self.future_horizon_days is not None
            else DEFAULT_FUTURE_HORIZON_DAYS,
            self.time_zone if self.time_zone is not None else DEFAULT_TIME_ZONE,
        )
        return self


class GrantAuthority(BookCommand):
    name = "grant_authority"
    command: Literal["grant_authority"]
    staff_id: Identifier
    role: RoleName
    limit: Amount | None = None
    granted_by: Identifier


class RevokeAuthority(BookCommand):
    name = "revoke_authority"
    command: Literal["revoke_authority"]
    staff_id: Identifier
    role: RoleName
    granted_by: Identifier


BOOK_COMMANDS: dict[str, type[BookCommand]] = {
    cls.name: cls for cls in (SetPolicy, GrantAuthority, RevokeAuthority)
}
