"""The loan index projection: which loans exist, whose they are, and which need close of day."""

from __future__ import annotations

from collections.abc import Sequence

from loanledger.domain.loan_events import LoanApplied
from loanledger.persistence.read_store import ReadStore, Transaction
from loanledger.projection.engine import Projection, Recorded


class LoanIndexProjection(Projection):
    name = "loan_index"
    version = 1

    def process(self, txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None:
        sql = self.sql(store)
        # A loan applied in this batch is inserted with the newest version the batch holds for
        # it (what inserting and then touching it gives); the others are touched once each.
        applied: dict[str, tuple[str, str, str, str]] = {}
        newest: dict[str, int] = {}
        for item in batch:
            event = item.event
            if isinstance(event, LoanApplied):
                applied[event.loan_id] = (
                    event.loan_id,
                    str(event.originator_id),
                    event.borrower.id,
                    event.effective_date.isoformat(),
                )
            if newest.get(event.loan_id, 0) < event.originator_version:
                newest[event.loan_id] = event.originator_version
        inserted = [(*row, newest[loan_id]) for loan_id, row in applied.items()]
        touched = [(loan_id, v) for loan_id, v in newest.items() if loan_id not in applied]
        if store.dialect == "postgresql":
            # One statement each, the rows as arrays: a round trip per batch, not per loan.
            if inserted:
                columns = [list(column) for column in zip(*inserted, strict=True)]
                txn.execute(sql["insert_applied_rows"], columns)
            if touched:
                loan_ids, versions = zip(*touched, strict=True)
                txn.execute(sql["touch_rows"], (list(loan_ids), list(versions)))
            return
        if inserted:
            txn.executemany(sql["insert_applied"], inserted)
        if touched:
            txn.executemany(sql["touch"], [(v, loan_id, v) for loan_id, v in touched])
