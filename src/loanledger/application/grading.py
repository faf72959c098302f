"""The borrower-level contagion rule as the ledger applies it: a borrower's loans are graded
together, so grading one loan reads the borrower's other loans (replayed) or their `loan_state`
rows (`contagious_borrowers`). Every call site of the rule in the application is here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from loanledger.application.loans import Loading
from loanledger.domain.contagion import contagion_spreads
from loanledger.domain.loan import Loan
from loanledger.persistence.read_store import Row
from loanledger.projection.loan_state import StateRow, contagious_borrowers


class Grading(Loading):
    """Which borrowers have several loans, and whether a borrower's loans are graded
    non-performing together."""

    def _borrower_loans(self, borrower_id: str) -> list[str]:
        """Every loan of the borrower (one indexed query)."""
        index = self.loan_index.sql(self.read_store)
        return [row[0] for row in self.read_store.query(index["loans_of_borrower"], (borrower_id,))]

    def _siblings(self, borrower_id: str) -> tuple[str, ...]:
        """The borrower's loans if they have several (those are graded together), else none."""
        return self._several_loans().get(borrower_id, ())

    def _several_loans(self) -> dict[str, tuple[str, ...]]:
        """Borrower -> loans of the borrowers with several loans, from the loan index. Once the
        projection has moved on, it is read again only if the index holds another number of
        loans: a row is added when a loan applies and never removed or changed in loan or
        borrower (a rebuild adds the same rows again in the same order), so the same count is
        the same loans; reading it after every write made a book's reads quadratic in its size.
        Only these borrowers are kept: a map of every borrower (100,000 lists on a large book)
        cost a query of the whole index, and the garbage collector walked it again and again
        (B3: a third of a close of day on 100,000 loans)."""
        caught_up = self.projections.caught_up_to
        cached = self._borrowers
        if cached is None or cached[0] != caught_up:
            index = self.loan_index.sql(self.read_store)
            count = int(self.read_store.query(index["loan_count"])[0][0])
            if cached is not None and cached[1] == count:
                cached = (caught_up, count, cached[2])
            else:
                grouped: dict[str, list[str]] = {}
                for borrower, loan_id in self.read_store.query(
                    index["borrowers_with_several_loans"]
                ):
                    grouped.setdefault(borrower, []).append(loan_id)
                several = {borrower: tuple(loans) for borrower, loans in grouped.items()}
                cached = (caught_up, count, several)
            self._borrowers = cached
        return cached[2]

    def _contagious(self, stored: Iterable[Row]) -> set[str]:
        """The borrowers whose loans are graded non-performing together on these `loan_state`
        rows (`summary_at` / `rows_at`). Only borrowers with several loans can be, and few are:
        only their rows are read (a book's report tested every row before)."""
        several = self._several_loans()
        return contagious_borrowers(
            (StateRow.of(row) for row in stored if row[1] in several),
            self.rules.contagion_non_performing_share,
        )

    def _contagion(self, loan: Loan, on: date, known_at: datetime | None = None) -> bool:
        """Whether more than the rule set's share of the borrower's balances here are
        non-performing (substandard or worse), which makes all the borrower's loans so."""
        if loan.application is None:
            return False
        siblings = self._siblings(loan.application.borrower.id)
        if len(siblings) < 2:
            return False
        balances: list[tuple[Decimal, str]] = []
        for sibling_id in siblings:
            sibling = loan if sibling_id == loan.loan_id else self._get(sibling_id)
            sibling = sibling.as_known_at(known_at)
            if not sibling.exists_on(on):
                continue
            position = sibling.position(on, self.rules)
            if position is None or position.disbursed == 0:
                continue
            grade = sibling.risk(on, position, self.rules).classification
            balances.append((position.principal_outstanding, grade))
        return contagion_spreads(balances, self.rules.contagion_non_performing_share)

    def _drop_caches(self) -> None:
        """Forget the decoded events, the loans replayed for reads and the borrower map (personal
        data was erased, or the ledger closes): they are rebuilt from the stored bytes on use."""
        self._loan_events.clear()
        self._borrowers = None
