"""What-if branches: journal commands run on copies of loans held in memory, never stored.

A servicing desk asks "what if the borrower prepays 20,000.00 on Friday?" or "what would this
restructure do to the schedule?" before anything is recorded. A `Branch` answers with the same
rules and the same refusals as `LoanLedger.execute`, because it runs the same aggregate code on
a copy of each loan it touches (read from the store once), and keeps the events those commands
raise in memory: nothing reaches the store or the read models, and leaving the branch discards it.

What a branch sees:
- loans it touched: its own copies (the stored facts plus the branch's commands);
- every other loan: as stored;
- a borrower's other loans grade this one (contagion) as stored: a branch that defaults one loan
  of a borrower does not regrade the borrower's untouched loans;
- `close_day` commands close that date for the loans the branch holds (notices, legal recovery,
  grade changes), not for the whole book.
Reports on a branch are built by replaying every loan (the read models hold only stored facts),
so they cost a full pass over the book: a preview of one loan should ask for the loan instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any, Protocol

from loanledger.application.risk import RISK_REPORTS, ReplaySource, RiskReports, with_allowance
from loanledger.domain.commands import Apply, CloseDay, Command, parse_command
from loanledger.domain.errors import (
    DomainError,
    InvalidCommandError,
    LoanNotFoundError,
    UnknownReportError,
    WrongStateError,
)
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.domain.products.catalogue import ProductVersion
from loanledger.domain.provisions import ProvisionRules
from loanledger.domain.rules import RuleSet
from loanledger.persistence.ids import loan_uuid
from loanledger.reports import ledger as ledger_reports
from loanledger.reports.installments import installment_rows
from loanledger.reports.portfolio import LoanRow
from loanledger.reports.views import schedule_rows

MAX_BRANCH_LOANS = 10_000
"""Loans one branch may hold in memory: a what-if is a question about a few loans, and a branch
that touched the whole book would hold the whole book."""

MAX_PREVIEW_COMMANDS = 10_000
"""Commands one `preview` runs (the same bound, for the same reason)."""


class BranchLimitError(DomainError):
    """A what-if branch was asked to hold more loans or run more commands than its bound."""


class BranchHost(Protocol):
    """What a branch needs of the ledger it branches from (`LoanLedger` provides it)."""

    clock: Callable[[], datetime]

    def recorded_at_for(self, loan: Loan) -> datetime:
        """The recorded time of the loan's next facts (never before its last one)."""
        ...

    def close_loan_on(self, loan: Loan, on: date) -> tuple[list[DomainEvent], date | None]:
        """Record on `loan` (pending) what closing `on` owes it, as the ledger's close of day."""
        ...

    def provisioning_on(self, on: date, known_at: datetime | None = None) -> ProvisionRules:
        """The provision rule set in force on `on` (`domain.provisions`)."""
        ...

    def rules_on(self, on: date, known_at: datetime | None = None) -> RuleSet:
        """The rule set in force on `on` (book policy)."""
        ...

    def product_version(self, command: Command, loan: Loan | None) -> ProductVersion | None:
        """The product version an `apply` or `approve` is checked against (None: none)."""
        ...

    def stored_loan(self, loan_id: str) -> Loan:
        """A fresh copy of the loan as stored (`LoanNotFoundError` when it never applied)."""
        ...

    def stored_loans(self, known_at: datetime | None) -> Iterator[Loan]:
        """Every stored loan as known at `known_at`."""
        ...

    def view_of(self, loan: Loan, on: date, known_at: datetime | None = None) -> dict[str, Any]:
        """The loan fields `LoanLedger.loan` answers with, for this copy of the loan."""
        ...

    def catch_up(self) -> None:
        """Bring the ledger's read models up to the stored events."""
        ...

    def report_row(self, loan: Loan, on: date, known_at: datetime | None) -> LoanRow | None:
        """The loan's portfolio report row on `on`."""
        ...

    def report_builder(
        self, name: str
    ) -> Callable[[Iterable[LoanRow]], list[dict[str, Any]]] | None:
        """The builder of a report made from loan rows (None: not such a report)."""
        ...

    def report_names(self) -> list[str]:
        """Every report name, for the refusal of an unknown one."""
        ...

    def parse_dates(
        self, as_of: date | str, known_at: datetime | str | None
    ) -> tuple[date, datetime | None]:
        """`as_of` and `known_at` checked as `LoanLedger.loan` checks them."""
        ...


class Branch:
    """Commands applied to in-memory copies of loans; see the module docstring and
    `LoanLedger.what_if`."""

    def __init__(self, ledger: BranchHost) -> None:
        self._ledger = ledger
        self._loans: dict[str, Loan] = {}
        self._open = True

    # --- commands --------------------------------------------------------------------------------

    def execute(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """Check and apply one journal command on the branch; return what `execute` would.

        A refusal raises the same `DomainError` subclass as `LoanLedger.execute` and leaves the
        branch as it was before the command."""
        self._require_open()
        parsed = parse_command(dict(command))
        if isinstance(parsed, CloseDay):
            return {"command": "close_day", **self._close_day(parsed.on)}
        if not isinstance(parsed, Command):
            raise InvalidCommandError(
                f"{parsed.command} is a book command (policy, staff register, products): a "
                "what-if branch runs loan commands and close_day only"
            )
        loan = self._copy(parsed)
        checkpoint = loan.checkpoint()
        recorded_at = self._ledger.recorded_at_for(loan)
        try:
            if isinstance(parsed, Apply):
                outcome_result: dict[str, Any] = {}
            else:
                product = self._ledger.product_version(parsed, loan)
                outcome_result = loan.handle(parsed, recorded_at, product=product).result
        except DomainError:
            self._loans[parsed.loan_id] = loan.rewound(checkpoint)
            raise
        return {
            "command": parsed.command,
            "loan_id": parsed.loan_id,
            "version": loan.version,
            **outcome_result,
        }

    def _copy(self, command: Command) -> Loan:
        """The branch's copy of the command's loan (an `apply` opens a new one)."""
        loan = self._loans.get(command.loan_id)
        if isinstance(command, Apply):
            if loan is not None or self._stored(command.loan_id) is not None:
                raise WrongStateError(f"loan {command.loan_id} has applied already")
            self._hold(command.loan_id)
            loan = Loan.open_application(
                loan_uuid(command.loan_id),
                command,
                self._ledger.clock(),
                self._ledger.product_version(command, None),
            )
            self._loans[command.loan_id] = loan
            return loan
        if loan is None:
            self._hold(command.loan_id)
            loan = self._loans[command.loan_id] = self._ledger.stored_loan(command.loan_id)
        return loan

    def _hold(self, loan_id: str) -> None:
        if len(self._loans) >= MAX_BRANCH_LOANS:
            raise BranchLimitError(
                f"a what-if branch holds at most {MAX_BRANCH_LOANS} loans; "
                f"{loan_id} would be one more"
            )

    def _stored(self, loan_id: str) -> Loan | None:
        try:
            return self._ledger.stored_loan(loan_id)
        except LoanNotFoundError:
            return None

    def _close_day(self, on: date) -> dict[str, Any]:
        self._ledger.catch_up()  # the borrowers' other loans are found in the loan index
        recorded = 0
        for loan in self._loans.values():
            if not loan.exists_on(on):
                continue
            events, _ = self._ledger.close_loan_on(loan, on)
            recorded += len(events)
        return {"on": on.isoformat(), "loans_processed": len(self._loans), "events": recorded}

    # --- queries ---------------------------------------------------------------------------------

    def touched(self) -> list[str]:
        """The loans this branch holds copies of, in the order first touched."""
        return list(self._loans)

    def loan(
        self, loan_id: str, as_of: date | str, known_at: datetime | str | None = None
    ) -> dict[str, Any]:
        """The §8 `loan` fields as `LoanLedger.loan` gives them, with the branch's commands."""
        day, moment = self._ledger.parse_dates(as_of, known_at)
        loan = self._loan(loan_id).as_known_at(moment)
        if not loan.exists_on(day):
            raise LoanNotFoundError(f"loan {loan_id} has no application on or before {day}")
        return self._ledger.view_of(loan, day, moment)

    def schedule(self, loan_id: str, as_of: date | str | None = None) -> list[dict[str, Any]]:
        """The schedule in force, as `LoanLedger.schedule` gives it, with the branch's commands."""
        loan = self._loan(loan_id)
        if loan.approval is None:
            raise WrongStateError(f"loan {loan_id} has no schedule before approval")
        day = _last_effective(loan) if as_of is None else self._ledger.parse_dates(as_of, None)[0]
        return schedule_rows(loan, day, self._ledger.rules_on(day))

    def installments(
        self, loan_id: str, as_of: date | str, known_at: datetime | str | None = None
    ) -> list[dict[str, Any]]:
        """Installment status, as `LoanLedger.installments` gives it, with the branch's commands."""
        day, moment = self._ledger.parse_dates(as_of, known_at)
        rules = self._ledger.rules_on(day, moment)
        return installment_rows(self._loan(loan_id).as_known_at(moment), day, rules)

    def report(
        self, name: str, as_of: date | str, known_at: datetime | str | None = None
    ) -> list[dict[str, Any]]:
        """A §8 report over the whole book with the branch's commands (built by replay)."""
        day, moment = self._ledger.parse_dates(as_of, known_at)
        risk = RiskReports(self._risk_source(), moment)
        if name in RISK_REPORTS:
            return risk.report(name, day)
        if name in ("trial_balance", "journal"):
            money = (
                (loan.loan_id, loan.postings(day, self._ledger.rules_on(day, moment)))
                for loan in self._book(moment)
                if loan.exists_on(day)
            )
            postings = with_allowance(risk, risk.allowance_targets(day), money)
            if name == "trial_balance":
                return ledger_reports.trial_balance(postings)
            return ledger_reports.journal(postings, None)
        builder = self._ledger.report_builder(name)
        if builder is None:
            known = ", ".join(self._ledger.report_names())
            raise UnknownReportError(f"unknown report {name!r}; reports: {known}")
        rows = (
            self._ledger.report_row(loan, day, moment)
            for loan in self._book(moment)
            if loan.exists_on(day)
        )
        return builder(row for row in rows if row is not None)

    def _risk_source(self) -> ReplaySource:
        """The branch's book, replayed, for provisions and the allowance (`application.risk`)."""

        def rows(day: date, moment: datetime | None) -> Iterator[LoanRow]:
            for loan in self._book(moment):
                row = self._ledger.report_row(loan, day, moment) if loan.exists_on(day) else None
                if row is not None:
                    yield row

        def earliest() -> date | None:
            return min((loan.history[0].effective_date for loan in self._book(None)), default=None)

        return ReplaySource(
            rows, self._loan, self._ledger.provisioning_on, self._ledger.rules_on, earliest
        )

    def _loan(self, loan_id: str) -> Loan:
        self._require_open()
        loan = self._loans.get(loan_id)
        return loan if loan is not None else self._ledger.stored_loan(loan_id)

    def _book(self, known_at: datetime | None) -> Iterator[Loan]:
        """Every loan of the book, the branch's copies in place of the stored ones."""
        seen = set()
        for loan in self._ledger.stored_loans(known_at):
            seen.add(loan.loan_id)
            copy = self._loans.get(loan.loan_id)
            yield loan if copy is None else copy.as_known_at(known_at)
        for loan_id in sorted(set(self._loans) - seen):
            yield self._loans[loan_id].as_known_at(known_at)

    # --- lifetime --------------------------------------------------------------------------------

    def discard(self) -> None:
        """Forget the branch's copies; the branch refuses further use."""
        self._loans.clear()
        self._open = False

    def _require_open(self) -> None:
        if not self._open:
            raise WrongStateError("this what-if branch was discarded when its block ended")

    def __enter__(self) -> Branch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


def preview(
    ledger: BranchHost, commands: Iterable[Mapping[str, Any]], as_of: date | str | None = None
) -> dict[str, Any]:
    """Run `commands` on a branch; per loan they touch, the view and schedule before and after.

    `as_of` (default: the latest effective date among the commands and the touched loans' facts)
    is the date both views are taken on. A refused command is listed under `refusals` with its
    1-based position, the error's class (the same one `execute` would raise) and message, and the
    commands after it still run, as each would be judged on its own. Nothing is recorded.
    """
    results: list[dict[str, Any]] = []
    refusals: list[dict[str, Any]] = []
    before: dict[str, Loan | None] = {}
    dates: list[date] = []
    with Branch(ledger) as branch:
        for number, command in enumerate(commands, start=1):
            if number > MAX_PREVIEW_COMMANDS:
                raise BranchLimitError(f"a preview runs at most {MAX_PREVIEW_COMMANDS} commands")
            loan_id = command.get("loan_id") if isinstance(command, Mapping) else None
            if isinstance(loan_id, str) and loan_id not in before:
                before[loan_id] = branch._stored(loan_id)
            try:
                results.append(branch.execute(command))
            except DomainError as error:
                refusals.append(
                    {
                        "line": number,
                        "command": command.get("command") if isinstance(command, Mapping) else None,
                        "loan_id": loan_id if isinstance(loan_id, str) else None,
                        "error": type(error).__name__,
                        "message": str(error),
                    }
                )
                continue
            on = command.get("on")
            if isinstance(on, str):
                dates.append(date.fromisoformat(on))
            elif isinstance(on, date):
                dates.append(on)
        touched = [branch._loan(loan_id) for loan_id in branch.touched()]
        day = _preview_date(ledger, as_of, dates, touched)
        loans = {
            loan_id: {
                "before": _snapshot(ledger, stored, day, branch=None),
                "after": _snapshot(ledger, branch._loans.get(loan_id), day, branch=branch),
            }
            for loan_id, stored in sorted(before.items())
        }
    return {"as_of": day.isoformat(), "results": results, "refusals": refusals, "loans": loans}


def _snapshot(
    ledger: BranchHost, loan: Loan | None, day: date, *, branch: Branch | None
) -> dict[str, Any]:
    """The loan's view and schedule on `day` (None and [] where it has none)."""
    if loan is None or not loan.exists_on(day):
        return {"loan": None, "schedule": []}
    view = ledger.view_of(loan, day)
    rules = ledger.rules_on(day)
    schedule = schedule_rows(loan, day, rules) if loan.approval is not None else []
    return {"loan": view, "schedule": schedule}


def _preview_date(
    ledger: BranchHost, as_of: date | str | None, dates: list[date], loans: list[Loan]
) -> date:
    if as_of is not None:
        return ledger.parse_dates(as_of, None)[0]
    candidates = list(dates)
    candidates += [_last_effective(loan) for loan in loans if loan.history]
    if not candidates:
        raise WrongStateError("preview needs as_of when no command was accepted")
    return max(candidates)


def _last_effective(loan: Loan) -> date:
    return max(event.effective_date for event in loan.history)
