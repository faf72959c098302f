"""The state machine as a table (issue 17): random commands in random lifecycle stages, each
accepted or refused exactly as `loanledger.domain.lifecycle.ALLOWED` (and the README) says.

One ledger per store kind; every hypothesis example drives a loan of its own through random
commands, one business day or a few apart, so no command is refused for its date before an
earlier fact. Each command is well formed and names things the loan has where it can (its
collateral, guarantors, cases, repayments), so a refusal the table does not predict can only be
about money or dates (an over-disbursement, a tranche after maturity), never about the state:

- the table refuses the command in the loan's stage  => `WrongStateError`, nothing recorded;
- the table allows it                                 => accepted, or refused for another rule
                                                         (never `WrongStateError`).

The stage is read from the ledger's own `status` on the day (active, overdue and legal recovery
are one stage; `closed` without a `close` fact is `settled`) and from the facts the model saw
accepted (rejected, withdrawn, closed, written off).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from loanledger import DomainError, LoanLedger
from loanledger.domain.commands import LOAN_COMMANDS
from loanledger.domain.errors import WrongStateError
from loanledger.domain.lifecycle import ALLOWED, STAGES, allows
from loanledger.persistence.ids import loan_uuid
from tests.journal import FINDINGS

README = Path(__file__).resolve().parents[2] / "README.md"

COMMANDS = tuple(sorted(ALLOWED))
ENDING = ("reject", "withdraw", "write_off", "close")
DRAWN = (*COMMANDS, *[name for name in COMMANDS if name not in ENDING] * 2)
"""Commands drawn at random: those that end a loan's life a third as often as the others, so
that runs spend their steps in the later stages too."""
LOAN_NUMBERS = itertools.count(1)
APPROVED = Decimal("20000.00")
STATUS_STAGE = {"active": "active", "overdue": "active", "legal_recovery": "active"}
CHECK_FINDINGS = {
    "use_of_funds": "as agreed",
    "repayment_ability": "stable",
    "collateral": "intact",
    "guarantor": "solvent",
}


class LifecycleTable(RuleBasedStateMachine):
    """Drives one loan of `ledger` and checks each reply against the table."""

    ledger: LoanLedger

    def __init__(self) -> None:
        super().__init__()
        self.loan_id = f"LT-{next(LOAN_NUMBERS):05d}"
        self.day = date(2024, 1, 2)
        self.ended: str | None = None
        """rejected, withdrawn, closed or written_off, once such a fact was accepted."""
        self.collateral: list[str] = []
        self.guarantors: list[str] = []
        self.cases: list[str] = []
        self.awarded: list[str] = []
        self.repayments: list[tuple[str, str]] = []
        self.counter = itertools.count(1)
        self.settling = 0

    @initialize()
    def apply(self) -> None:
        self.ledger.execute(
            {
                "command": "apply",
                "loan_id": self.loan_id,
                "on": self.day.isoformat(),
                "borrower": {"id": f"B-{self.loan_id}", "name": "王五"},
                "amount": f"{APPROVED}",
                "term_months": 1,
                "annual_rate": "0.06",
                "repayment_method": "bullet",
                "purpose": "working capital",
            }
        )

    # --- the model -----------------------------------------------------------------------------

    def stage(self) -> str:
        if self.ended is not None:
            return self.ended
        status: str = self.ledger.loan(self.loan_id, as_of=self.day)["status"]
        if status in ("closed", "overpaid"):
            # Owing nothing, no close recorded (the model saw none accepted); `overpaid` is such
            # a loan holding the borrower's money, in the same stage.
            return "settled"
        return STATUS_STAGE.get(status, status)

    def _version(self) -> int:
        return len(list(self.ledger.events.get(loan_uuid(self.loan_id))))

    def submit(self, name: str, fields: dict[str, Any]) -> bool:
        """Send the command; check the reply against the table; True if it was accepted."""
        stage = self.stage()
        event(f"{name} in {stage}")
        command = {"command": name, "loan_id": self.loan_id, "on": self.day.isoformat(), **fields}
        before = self._version()
        try:
            self.ledger.execute(command)
        except WrongStateError as refusal:
            assert not allows(stage, name), f"{name} in {stage} refused: {refusal}"
            assert self._version() == before
            return False
        except DomainError as refusal:
            assert allows(stage, name), f"{name} in {stage}: {type(refusal).__name__} {refusal}"
            assert self._version() == before
            return False
        assert allows(stage, name), f"{name} accepted in {stage}"
        return True

    def _next(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}"

    def _settle_amount(self) -> str:
        """What settles the loan on `day` once everything has fallen due: principal, interest
        and penalty owed at the end of the day before (a payment is allocated against penalty
        accrued through the day before)."""
        view = self.ledger.loan(self.loan_id, as_of=self.day - timedelta(days=1))
        owed = sum(
            Decimal(view[key])
            for key in ("principal_outstanding", "overdue_interest", "penalty_outstanding")
        )
        return f"{max(owed, Decimal('0.01')):.2f}"

    # --- rules ---------------------------------------------------------------------------------

    @rule(days=st.integers(min_value=0, max_value=12))
    def time_passes(self, days: int) -> None:
        self.day += timedelta(days=days)

    @rule(name=st.sampled_from(DRAWN), choice=st.integers(min_value=0, max_value=3))
    def command(self, name: str, choice: int) -> None:
        make: Callable[[int], dict[str, Any]] = getattr(self, f"_{name}")
        fields = make(choice)
        accepted = self.submit(name, fields)
        if accepted:
            self._accepted(name, fields)

    @rule(write_off=st.booleans())
    def advance(self, write_off: bool = False) -> None:
        """The next step of an ordinary loan's life, so that random runs reach every stage: the
        pre-loan steps, the disbursement, time to maturity and beyond, a repayment of everything
        owed (to `settled`), then `close` — or a write-off instead."""
        stage = self.stage()
        if stage in ("applied", "investigated", "reviewed", "approved", "settled"):
            name = {
                "applied": "record_investigation",
                "investigated": "review",
                "reviewed": "approve",
                "approved": "disburse",
                "settled": "close",
            }[stage]
            self.command(name, 3)
        elif stage == "active" and self.settling < 3:
            self.settling += 1
            self.day += timedelta(days=15)  # on to the one-month maturity and past it
        elif stage == "active" and write_off:
            self.command("write_off", 0)
        elif stage == "active":
            reference = self._next("R")
            amount = self._settle_amount()
            if self.submit("repay", {"amount": amount, "reference": reference}):
                self.repayments.append((reference, amount))

    @rule(write_off=st.booleans())
    def advance_again(self, write_off: bool) -> None:
        """The same, twice as likely as any single random command."""
        self.advance(write_off)

    def _accepted(self, name: str, fields: dict[str, Any]) -> None:
        ended = {
            "reject": "rejected",
            "withdraw": "withdrawn",
            "close": "closed",
            "write_off": "written_off",
        }
        if name in ended:
            self.ended = ended[name]
        elif name == "pledge_collateral":
            self.collateral.append(fields["collateral_id"])
        elif name == "release_collateral":
            self.collateral.remove(fields["collateral_id"])
        elif name == "add_guarantor":
            self.guarantors.append(fields["guarantor"]["id"])
        elif name == "file_arbitration":
            self.cases.append(fields["case_id"])
        elif name == "record_award":
            self.awarded.append(fields["case_id"])
        elif name == "repay":
            self.repayments.append((fields["reference"], fields["amount"]))

    # --- well-formed commands, one per journal command -----------------------------------------

    def _record_investigation(self, choice: int) -> dict[str, Any]:
        return {
            "investigators": ["inv-1", "inv-2"],
            "findings": FINDINGS,
            "conclusion": "recommend",
        }

    def _review(self, choice: int) -> dict[str, Any]:
        return {"reviewer": "rev-1", "passed": True, "notes": "complete"}

    def _approve(self, choice: int) -> dict[str, Any]:
        return {
            "approver": "app-1",
            "authority_limit": "5000000.00",
            "amount": f"{APPROVED}",
            "term_months": 1,
            "annual_rate": "0.06",
            "repayment_method": "bullet",
        }

    def _reject(self, choice: int) -> dict[str, Any]:
        return {"approver": "app-1", "reason": "cash flow unclear"}

    def _withdraw(self, choice: int) -> dict[str, Any]:
        return {"reason": "borrower withdrew"}

    def _disburse(self, choice: int) -> dict[str, Any]:
        return {"amount": f"{5000 * (choice + 1)}.00", "reference": self._next("D")}

    def _repay(self, choice: int) -> dict[str, Any]:
        return {"amount": f"{10 * (choice + 1)}.00", "reference": self._next("R")}

    def _refund(self, choice: int) -> dict[str, Any]:
        # Usually more than is held: refused by the money walk, which the table allows.
        return {"amount": f"{choice + 1}.00", "reference": self._next("F")}

    def _pledge_collateral(self, choice: int) -> dict[str, Any]:
        return {"collateral_id": self._next("C"), "kind": "property", "value": "30000.00"}

    def _existing(self, items: list[str], choice: int, missing: str) -> str:
        return items[choice % len(items)] if items else missing

    def _revalue_collateral(self, choice: int) -> dict[str, Any]:
        return {"collateral_id": self._existing(self.collateral, choice, "C-0"), "value": "900.00"}

    def _release_collateral(self, choice: int) -> dict[str, Any]:
        return {"collateral_id": self._existing(self.collateral, choice, "C-0")}

    def _add_guarantor(self, choice: int) -> dict[str, Any]:
        return {
            "guarantor": {"id": self._next("G"), "name": "赵六"},
            "guaranteed_amount": "10000.00",
        }

    def _assess_guarantor(self, choice: int) -> dict[str, Any]:
        return {
            "guarantor_id": self._existing(self.guarantors, choice, "G-0"),
            "ability": "weakened",
        }

    def _record_post_loan_check(self, choice: int) -> dict[str, Any]:
        return {"inspector": "insp-1", "findings": CHECK_FINDINGS, "rating": "normal"}

    def _acknowledge_notice(self, choice: int) -> dict[str, Any]:
        return {"notice_id": "N-0"}  # no close of day here: never a notice to acknowledge

    def _downgrade(self, choice: int) -> dict[str, Any]:
        return {"classification": "loss", "approver": "app-1", "reason": "fraud found"}

    def _write_off(self, choice: int) -> dict[str, Any]:
        return {"approver": "app-2", "reason": "uncollectable"}

    def _restructure(self, choice: int) -> dict[str, Any]:
        return {
            "approver": "app-2",
            "term_months": 6,
            "annual_rate": "0.05",
            "repayment_method": "annuity",
            "reason": "hardship",
        }

    def _close(self, choice: int) -> dict[str, Any]:
        return {}

    def _file_arbitration(self, choice: int) -> dict[str, Any]:
        return {"case_id": self._next("K"), "forum": "上海仲裁委员会", "claim_amount": "1000.00"}

    def _record_award(self, choice: int) -> dict[str, Any]:
        return {"case_id": self._existing(self.cases, choice, "K-0"), "award_amount": "900.00"}

    def _apply_enforcement(self, choice: int) -> dict[str, Any]:
        # Only an awarded case can be enforced (a case without one is refused by its own rule).
        return {"case_id": self._existing(self.awarded, choice, "K-0"), "court": "浦东法院"}

    def _record_recovery(self, choice: int) -> dict[str, Any]:
        reference, amount = (
            self.repayments[choice % len(self.repayments)] if self.repayments else ("R-0", "1.00")
        )
        return {
            "case_id": self._existing(self.cases, choice, "K-0"),
            "amount": amount,
            "repayment_reference": reference,
        }


def test_every_command_is_accepted_or_refused_as_the_lifecycle_table_says(
    store_url: str, clock: Callable[[], datetime]
) -> None:
    ledger = LoanLedger.open(store_url, clock=clock)
    try:
        machine = type("LifecycleTableOnStore", (LifecycleTable,), {"ledger": ledger})
        examples = settings().max_examples if store_url == "memory://" else 15
        run_state_machine_as_test(
            machine,
            settings=settings(max_examples=examples, stateful_step_count=30, deadline=None),
        )
    finally:
        ledger.close()


def _readme_table() -> dict[str, frozenset[str]]:
    """The README's lifecycle table: a header row of stages, then one row per command, `✓`
    where the command is accepted."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index("<!-- lifecycle-table -->")
    rows = []
    for line in lines[start + 1 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    header, body = rows[0], rows[2:]
    stages = [cell.strip("`") for cell in header[1:]]
    return {
        row[0].strip("`"): frozenset(
            stage for stage, cell in zip(stages, row[1:], strict=True) if cell == "✓"
        )
        for row in body
    }


def test_the_readme_prints_the_lifecycle_table_the_code_enforces() -> None:
    table = _readme_table()

    assert table == ALLOWED
    assert set().union(*table.values()) <= set(STAGES)


def test_the_lifecycle_table_has_a_row_for_every_journal_command_on_a_loan() -> None:
    assert set(ALLOWED) == set(LOAN_COMMANDS) - {"apply"}
