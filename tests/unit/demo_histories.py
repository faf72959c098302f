"""Loans' events from a small demo book, and the loan a replay of some of them gives: what the
tests of the loan_state projection's memos check their shortcuts against."""

from __future__ import annotations

from loanledger import LoanLedger
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.entrypoints.synthetic import SyntheticBook


def demo_histories(*, loans: int, seed: int, months: int) -> dict[str, list[DomainEvent]]:
    """Every loan's events, by loan id, in a demo book of `loans` loans over `months` months
    (every kind of loan the demo makes)."""
    ledger = LoanLedger.open("memory://")
    try:
        SyntheticBook(ledger, loans=loans, seed=seed, months=months).run(lambda _: None)
        index = ledger.loan_index.sql(ledger.read_store)
        loan_ids = [row[0] for row in ledger.read_store.query(index["all_loans"])]
        return {loan_id: list(ledger._get(loan_id).history) for loan_id in loan_ids}
    finally:
        ledger.close()


def replay(events: list[DomainEvent]) -> Loan:
    """A new loan with `events` applied, in order."""
    loan = Loan(events[0].originator_id)
    for event in events:
        event.mutate(loan)
    return loan
