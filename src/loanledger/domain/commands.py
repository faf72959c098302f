"""Journal commands (DESIGN §6): strict pydantic models, one per `command`.

A command is what someone asks the ledger to do, exactly as written in a JSON Lines journal.
Parsing is strict: unknown fields are refused, amounts and rates are decimal strings (a JSON
number with a fraction would be a float and is refused), dates are ISO `YYYY-MM-DD`, booleans are
JSON booleans. Every refusal is a `DomainError` subclass whose message names the command, the
field and the rule; nothing is recorded for a refused command.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from loanledger.domain.book_commands import BOOK_COMMANDS, BookCommand
from loanledger.domain.command_fields import (
    Amount,
    Flag,
    IsoDate,
    Rate,
    RepaymentMethodName,
    WholeNumber,
)
from loanledger.domain.errors import (
    DomainError,
    InvalidCommandError,
)
from loanledger.domain.text import (
    Identifier,
    IdNumber,
    Name,
    OptionalName,
    RequiredText,
    Text,
)


class Command(BaseModel):
    """Fields every command but `close_day` has."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: ClassVar[str]
    command: str
    loan_id: Identifier
    on: IsoDate

    def content_hash(self) -> str:
        """SHA-256 of the command's canonical content, for idempotency-key comparison."""
        canonical = json.dumps(
            self._content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def _content(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Borrower(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    id: Identifier
    name: Name
    id_number: IdNumber | None = None


class Apply(Command):
    name = "apply"
    command: Literal["apply"]
    borrower: Borrower
    amount: Amount
    currency: Annotated[str, StringConstraints(strict=True, min_length=3, max_length=3)] = "CNY"
    term_months: WholeNumber
    annual_rate: Rate
    repayment_method: RepaymentMethodName
    purpose: Text
    product: Identifier | None = None
    """The product applied for (issue 19); none: the built-in default product."""


class Findings(BaseModel):
    """The six areas of a pre-loan investigation (贷前调查)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    basic: Text  # 基本情况
    operations: Text  # 经营状况
    finances: Text  # 财务状况
    credit_record: Text  # 信誉状况
    management: Text  # 经营者素质
    guarantees: Text  # 担保情况


class RecordInvestigation(Command):
    name = "record_investigation"
    command: Literal["record_investigation"]
    investigators: Annotated[list[Identifier], Field(min_length=2, max_length=2)]
    findings: Findings
    conclusion: Literal["recommend", "decline"]


class Review(Command):
    name = "review"
    command: Literal["review"]
    reviewer: Identifier
    passed: Flag
    notes: Text


class Approve(Command):
    name = "approve"
    command: Literal["approve"]
    approver: Identifier
    authority_limit: Amount
    amount: Amount
    term_months: WholeNumber
    annual_rate: Rate
    repayment_method: RepaymentMethodName
    repayment_day: WholeNumber | None = None


class Reject(Command):
    name = "reject"
    command: Literal["reject"]
    approver: Identifier
    reason: Text


class Withdraw(Command):
    """The applicant withdraws the application before disbursement."""

    name = "withdraw"
    command: Literal["withdraw"]
    reason: Text = ""


class Disburse(Command):
    name = "disburse"
    command: Literal["disburse"]
    amount: Amount
    reference: Identifier
    payee: OptionalName | None = None


class Repay(Command):
    name = "repay"
    command: Literal["repay"]
    amount: Amount
    reference: Identifier
    prepay: Flag = False
    keep: Literal["term", "installment"] | None = None
    """With `prepay`: re-amortise keeping the term (default) or the installment."""

    @model_validator(mode="after")
    def _keep_needs_prepay(self) -> Repay:
        if self.keep is not None and not self.prepay:
            raise InvalidCommandError("keep applies only to a repayment with prepay: true")
        return self

    def _content(self) -> dict[str, Any]:
        # `keep` came later: left out when not given, so a repayment recorded before it was
        # added still matches its own retry.
        content = super()._content()
        if self.keep is None:
            del content["keep"]
        return content


class Refund(Command):
    """Held overpayment paid back to the borrower (退还多收款, DESIGN §12)."""

    name = "refund"
    command: Literal["refund"]
    amount: Amount
    reference: Identifier
    payee: Annotated[str, StringConstraints(strict=True, max_length=200)] | None = None


class PledgeCollateral(Command):
    name = "pledge_collateral"
    command: Literal["pledge_collateral"]
    collateral_id: Identifier
    kind: Identifier
    value: Amount
    appraiser: Identifier | None = None


class RevalueCollateral(Command):
    name = "revalue_collateral"
    command: Literal["revalue_collateral"]
    collateral_id: Identifier
    value: Amount
    appraiser: Identifier | None = None


class ReleaseCollateral(Command):
    name = "release_collateral"
    command: Literal["release_collateral"]
    collateral_id: Identifier
    requested_by: Identifier | None = None
    approver: Identifier | None = None
    """A second person's approval, needed while the loan is overdue or when the remaining
    collateral would breach the LTV threshold (see `domain.release_control`)."""


class Guarantor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    id: Identifier
    name: Name


class AddGuarantor(Command):
    name = "add_guarantor"
    command: Literal["add_guarantor"]
    guarantor: Guarantor
    guaranteed_amount: Amount
    guarantee_period_months: Annotated[WholeNumber, Field(ge=1, le=600)] | None = None
    """保证期间 agreed in the guarantee contract; none: six months after maturity (art. 692)."""


class AssessGuarantor(Command):
    """A periodic assessment of a guarantor's ability to pay (保证人代偿能力)."""

    name = "assess_guarantor"
    command: Literal["assess_guarantor"]
    guarantor_id: Identifier
    ability: Literal["normal", "weakened"]
    notes: Text = ""


class CheckFindings(BaseModel):
    """The four areas of a post-loan check (贷后检查)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    use_of_funds: Text
    repayment_ability: Text
    collateral: Text
    guarantor: Text


class RecordPostLoanCheck(Command):
    name = "record_post_loan_check"
    command: Literal["record_post_loan_check"]
    inspector: Identifier
    findings: CheckFindings
    rating: Literal["normal", "attention", "adverse"]
    funds_misused: Flag = False
    """Funds used against the agreed purpose: penalty switches to the misuse multiplier."""


class AcknowledgeNotice(Command):
    """The borrower's receipt (回执) of a written notice."""

    name = "acknowledge_notice"
    command: Literal["acknowledge_notice"]
    notice_id: Identifier


class Downgrade(Command):
    """A manual classification, never better than the floor days past due set."""

    name = "downgrade"
    command: Literal["downgrade"]
    classification: Literal["normal", "special_mention", "substandard", "doubtful", "loss"]
    approver: Identifier
    reason: RequiredText


class WriteOff(Command):
    name = "write_off"
    command: Literal["write_off"]
    approver: Identifier
    reason: Text


class Restructure(Command):
    """New terms for the whole outstanding debt (重组/展期): arrears are capitalised."""

    name = "restructure"
    command: Literal["restructure"]
    approver: Identifier
    term_months: WholeNumber
    annual_rate: Rate
    repayment_method: RepaymentMethodName
    repayment_day: WholeNumber | None = None
    reason: Text = ""


class CloseLoan(Command):
    """Close a fully repaid loan; any overpayment held is refunded."""

    name = "close"
    command: Literal["close"]


class FileArbitration(Command):
    """A claim filed with an arbitration commission or court (批量仲裁 / 诉讼)."""

    name = "file_arbitration"
    command: Literal["file_arbitration"]
    case_id: Identifier
    forum: Name
    claim_amount: Amount


class RecordAward(Command):
    name = "record_award"
    command: Literal["record_award"]
    case_id: Identifier
    award_amount: Amount


class ApplyEnforcement(Command):
    """Application to a court for enforcement of an award (申请执行)."""

    name = "apply_enforcement"
    command: Literal["apply_enforcement"]
    case_id: Identifier
    court: Name


class RecordRecovery(Command):
    """Money recovered through a case; the cash itself is recorded by the `repay` it names."""

    name = "record_recovery"
    command: Literal["record_recovery"]
    case_id: Identifier
    amount: Amount
    repayment_reference: Identifier


LOAN_COMMANDS: dict[str, type[Command]] = {
    cls.name: cls
    for cls in (
        Apply,
        RecordInvestigation,
        Review,
        Approve,
        Reject,
        Withdraw,
        Disburse,
        Repay,
        PledgeCollateral,
        RevalueCollateral,
        ReleaseCollateral,
        AddGuarantor,
        AssessGuarantor,
        RecordPostLoanCheck,
        AcknowledgeNotice,
        Downgrade,
        WriteOff,
        Restructure,
        CloseLoan,
        FileArbitration,
        RecordAward,
        ApplyEnforcement,
        RecordRecovery,
        Refund,
    )
}


class CloseDay(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    name: ClassVar[str] = "close_day"
    command: Literal["close_day"]
    on: IsoDate


def parse_command(data: object) -> Command | CloseDay | BookCommand:
    """Validate one journal command; refuse with the DomainError that names the broken rule."""
    if not isinstance(data, dict):
        raise InvalidCommandError(f"a command must be a JSON object, got {type(data).__name__}")
    name = data.get("command")
    if name == "close_day":
        model: type[BaseModel] = CloseDay
    elif isinstance(name, str) and name in LOAN_COMMANDS:
        model = LOAN_COMMANDS[name]
    elif isinstance(name, str) and name in BOOK_COMMANDS:
        model = BOOK_COMMANDS[name]
    else:
        known = ", ".join(sorted([*LOAN_COMMANDS, *BOOK_COMMANDS, "close_day"]))
        shown = name if isinstance(name, str) and len(name) <= 40 else "…"
        raise InvalidCommandError(f"unknown command {shown!r}; known commands: {known}")
    try:
        parsed = model.model_validate(data)
    except ValidationError as error:
        raise _domain_error(str(name), error) from None
    assert isinstance(parsed, Command | CloseDay | BookCommand)
    return parsed


def _domain_error(command: str, error: ValidationError) -> DomainError:
    """The first validation problem as the DomainError subclass of the rule it broke."""
    problem = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in problem["loc"]) or "command"
    cause: Any = (problem.get("ctx") or {}).get("error")
    if isinstance(cause, DomainError):
        return type(cause)(f"{command}: field '{where}': {cause}")
    kind = problem["type"]
    if kind == "extra_forbidden":
        return InvalidCommandError(f"{command}: unknown field '{where}'")
    if kind == "missing":
        return InvalidCommandError(f"{command}: missing field '{where}'")
    return InvalidCommandError(f"{command}: field '{where}': {problem['msg']}")
