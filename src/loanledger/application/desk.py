"""The servicing desk: payoff quotes, installment status, statements, explanations and what-if
branches (`loanledger.application.whatif`) over the ledger's queries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from loanledger.application.close_of_day import CloseOfDay
from loanledger.application.dates import parse_as_of
from loanledger.application.queries import Queries
from loanledger.application.store import _query
from loanledger.application.whatif import Branch, preview
from loanledger.domain.errors import InvalidDateError, WrongStateError
from loanledger.domain.payoff import payoff as payoff_quote
from loanledger.persistence.chain import MalformedSealError, unseal
from loanledger.persistence.ids import loan_uuid
from loanledger.reports.explain import explain
from loanledger.reports.installments import installment_rows
from loanledger.reports.statement import build_statement


class Desk(Queries, CloseOfDay):
    """What a servicing officer asks about one loan (a what-if branch closes its copies' days as
    close of day does, hence `CloseOfDay`)."""

    @_query
    def payoff(self, loan_id: str, on: date | str) -> dict[str, Any]:
        """What must be paid on `on` to settle the loan exactly, and its parts (DESIGN §12):
        `total` paid with `prepay: true` on `on` leaves nothing owed and nothing held."""
        day = parse_as_of(on)
        loan = self._get(loan_id)
        if not loan.disbursements:
            raise WrongStateError(f"loan {loan_id} has no payoff before its first disbursement")
        rules = self.book.rules(day)
        return payoff_quote(loan.terms(), loan.money_facts(), day, rules).as_dict(loan_id)

    @_query
    def installments(
        self, loan_id: str, as_of: date | str, known_at: datetime | str | None = None
    ) -> list[dict[str, Any]]:
        """Each installment of the schedule in force on `as_of` with what is due, paid and
        outstanding of it, the date it was met in full, and its status (`paid`, `partly_paid`,
        `overdue`, `due`, `future`); see `loanledger.reports.installments`."""
        day, moment = self.parse_dates(as_of, known_at)
        loan = self._known_loan(loan_id, day, moment)
        return installment_rows(loan, day, self.book.rules(day, moment))

    @_query
    def statement(
        self,
        loan_id: str,
        from_date: date | str,
        to_date: date | str,
        known_at: datetime | str | None = None,
    ) -> dict[str, Any]:
        """The loan's statement from the start of `from_date` to the end of `to_date`: opening
        balances, each money movement with its allocation and the balances after its day, and
        closing balances equal to `loan(loan_id, to_date)`'s; see `loanledger.reports.statement`."""
        start, moment = self.parse_dates(from_date, known_at)
        end = parse_as_of(to_date)
        if end < start:
            raise InvalidDateError(f"statement to_date {end} is before from_date {start}")
        loan = self._known_loan(loan_id, end, moment)
        return build_statement(loan, start, end, self.book.rules(end, moment))

    @_query
    def explain(
        self,
        loan_id: str,
        field: str,
        as_of: date | str,
        known_at: datetime | str | None = None,
    ) -> dict[str, Any]:
        """Why `field` of the loan view on `as_of` is what it is: `value`, `rule_set`, `rule`,
        `parts` (money parts sum exactly to the value) and `facts` (each event it rests on, with
        its chain link); see `loanledger.reports.explain`."""
        day, moment = self.parse_dates(as_of, known_at)
        loan = self._known_loan(loan_id, day, moment)
        self.projections.catch_up()
        links = {}
        for item in self.recorder.select_events(loan_uuid(loan_id)):
            try:
                links[item.originator_version] = unseal(item.state)[0]
            except MalformedSealError:
                continue  # an unreadable link is shown as none (verify names the break)
        contagion = self._contagion(loan, day, moment)
        rules = self.book.rules(day, moment)
        return explain(loan, field, day, rules, contagion=contagion, links=links)

    def what_if(self) -> Branch:
        """A branch for several what-if steps, never stored:
        `with ledger.what_if() as branch: branch.execute(...); branch.loan(...)`."""
        return Branch(self)

    @_query
    def preview(
        self, commands: Iterable[dict[str, Any]], as_of: date | str | None = None
    ) -> dict[str, Any]:
        """Run journal commands on a branch and return, per loan they touch, the loan view and
        schedule before and after, and the refusals; nothing is recorded
        (`loanledger.application.whatif`)."""
        return preview(self, commands, as_of)
