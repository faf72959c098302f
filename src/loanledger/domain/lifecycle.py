"""The loan's state machine as one table: which journal command each lifecycle stage accepts.

A loan's lifecycle stage is what its recorded facts say, whatever their effective dates:

- `applied`, `investigated`, `reviewed`, `approved`: the pre-loan steps so far;
- `rejected`, `withdrawn`: the application ended before any money moved;
- `active`: disbursed and owing something (the statuses `active`, `overdue` and
  `legal_recovery` all accept the same commands, so the table does not tell them apart);
- `settled`: disbursed and owing nothing, no `close` recorded yet (status `closed`, or
  `overpaid` while money is held for the borrower: the table does not tell them apart);
- `closed`: a `close` fact is recorded;
- `written_off`: a `write_off` fact is recorded (核销).

`ALLOWED` is the table the README prints and the aggregate's guards enforce (`require_allowed`
is called for every command before its handler runs; a handler that must look at the money to
tell `active` from `settled` calls it again with the stage it found). A command the table allows
may still be refused for another rule (an amount, a date, a reference); a command it does not
allow is always refused with `WrongStateError`, naming the stage and the command.
"""

from __future__ import annotations

from loanledger.domain.errors import WrongStateError

PRE_LOAN_STAGES = ("applied", "investigated", "reviewed", "approved")
ENDED_APPLICATION_STAGES = ("rejected", "withdrawn")
DISBURSED_STAGES = ("active", "settled", "closed", "written_off")
STAGES = (*PRE_LOAN_STAGES, *ENDED_APPLICATION_STAGES, *DISBURSED_STAGES)
"""Every lifecycle stage, in the order the README's table lists them. The status `overpaid`
(money held on a settled or closed loan) is the stage `settled` or `closed`: it accepts the same
commands."""


def _stages(*names: str) -> frozenset[str]:
    unknown = set(names) - set(STAGES)
    assert not unknown, f"unknown lifecycle stages {sorted(unknown)}"
    return frozenset(names)


_SERVICING = ("active", "settled")
"""A disbursed loan still on the books: not closed, not written off."""

ALLOWED: dict[str, frozenset[str]] = {
    "record_investigation": _stages("applied"),
    "review": _stages("investigated"),
    "approve": _stages("reviewed"),
    "reject": _stages("applied", "investigated", "reviewed"),
    "withdraw": _stages(*PRE_LOAN_STAGES),
    "disburse": _stages("approved", "active"),
    # Money received is never refused once a loan was disbursed (DESIGN §12): on a settled or
    # closed loan it is held for the borrower (status `overpaid`), on a written-off one it is a
    # recovery.
    "repay": _stages(*DISBURSED_STAGES),
    # Held overpayment is paid back on any disbursed loan; more than is held is refused by the
    # money walk (`OverRefundError`), not by the table.
    "refund": _stages(*DISBURSED_STAGES),
    "pledge_collateral": _stages(*PRE_LOAN_STAGES, *_SERVICING),
    "revalue_collateral": _stages(*PRE_LOAN_STAGES, *_SERVICING),
    "release_collateral": _stages(*STAGES),
    "add_guarantor": _stages(*PRE_LOAN_STAGES, *_SERVICING),
    "assess_guarantor": _stages(*STAGES),
    "record_post_loan_check": _stages(*_SERVICING),
    "acknowledge_notice": _stages(*STAGES),
    "downgrade": _stages(*_SERVICING),
    "file_arbitration": _stages(*_SERVICING),
    "record_award": _stages(*DISBURSED_STAGES),
    "apply_enforcement": _stages(*DISBURSED_STAGES),
    "record_recovery": _stages(*DISBURSED_STAGES),
    "restructure": _stages("active"),
    "write_off": _stages("active"),
    "close": _stages("settled"),
}
"""Journal command -> the lifecycle stages in which it is accepted (`apply` opens a loan and has
no stage before it; `close_day` is book-wide)."""

RULE = "lifecycle table: README, which command each status accepts"

_PHRASES = {
    "applied": "is applied, before investigation",
    "investigated": "is investigated, before review",
    "reviewed": "is reviewed, before approval",
    "approved": "is approved, not disbursed",
    "rejected": "was rejected",
    "withdrawn": "was withdrawn",
    "active": "is disbursed and owes money",
    "settled": "is fully repaid, nothing is owed",
    "closed": "is closed",
    "written_off": "is written off",
}


def allows(stage: str, command: str) -> bool:
    """Whether the table accepts `command` in `stage`. A command the table has no row for is
    left to its handler's own guards (a test requires a row for every journal command)."""
    return command not in ALLOWED or stage in ALLOWED[command]


def require_allowed(loan_id: str, stage: str, command: str) -> None:
    """Refuse `command` unless the table allows it in `stage`; the message names the stage, the
    command and the rule."""
    if allows(stage, command):
        return
    if command == "repay" and stage in PRE_LOAN_STAGES:
        raise WrongStateError(
            f"loan {loan_id}: no repayment before the first disbursement ({RULE})"
        )
    raise WrongStateError(f"loan {loan_id} {_PHRASES[stage]}; {command} is not allowed ({RULE})")


def recorded_stage(
    *,
    rejected: bool,
    withdrawn: bool,
    closed: bool,
    written_off: bool,
    disbursed: bool,
    approved: bool,
    reviewed: bool,
    investigated: bool,
) -> str:
    """The stage the recorded facts put a loan in, without looking at its money: a disbursed
    loan that is neither closed nor written off is `active` here; the handlers that need to
    know whether it is `settled` derive its position and ask the table again."""
    for fact, stage in (
        (rejected, "rejected"),
        (withdrawn, "withdrawn"),
        (closed, "closed"),
        (written_off, "written_off"),
        (disbursed, "active"),
        (approved, "approved"),
        (reviewed, "reviewed"),
        (investigated, "investigated"),
    ):
        if fact:
            return stage
    return "applied"


def open_stages(command: str) -> bool:
    """Whether `command` is accepted in `active` or `settled` (what `recorded_stage` cannot
    tell apart before the money is derived)."""
    return command not in ALLOWED or bool(ALLOWED[command] & {"active", "settled"})
