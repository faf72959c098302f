"""The loan index projection: which loans exist, whose they are, and which need close of day."""

from __future__ import annotations

from collections.abc import Sequence

from loanledger.domain.loan_events import LoanApplied
from loanledger.projection.engine import Projection, Recorded
from loanledger.projection.store import ReadStore, Transaction


class LoanIndexProjection(Projection):
    name = "loan_index"
    version = 1

    def process(self, txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None:
        sql = self.sql(store)
        applied = []
        touched: dict[str, int] = {}
        for item in batch:
            event = item.event
            if isinstance(event, LoanApplied):
                applied.append(
                    (
                        event.loan_id,
                        str(event.originator_id),
                        event.borrower.id,
                        event.effective_date.isoformat(),
                        event.originator_version,
                    )
                )
            else:
                touched[event.loan_id] = max(
                    touched.get(event.loan_id, 0), event.originator_version
                )
        if applied:
            txn.executemany(sql["insert_applied"], applied)
        if touched:
            txn.executemany(
                sql["touch"], [(version, loan_id, version) for loan_id, version in touched.items()]
            )
