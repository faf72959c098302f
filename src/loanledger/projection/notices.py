"""The `notices` projection: every notice close of day issued and every receipt, with both of
their times, so the `notices` report as of any date and as known at any moment is one query
(projections/notices.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from loanledger.domain.loan_events import NoticeAcknowledged, NoticeIssued
from loanledger.persistence.read_store import ReadStore, Transaction
from loanledger.projection.engine import Projection, Recorded
from loanledger.projection.loan_state import moment_text


class NoticesProjection(Projection):
    name = "notices"
    version = 1

    def drop(self, txn: Transaction, store: ReadStore) -> None:
        sql = self.sql(store)
        for key in ("drop", "drop_receipts"):
            txn.execute(sql[key])

    def clear(self, txn: Transaction, store: ReadStore) -> None:
        sql = self.sql(store)
        for key in ("clear", "clear_receipts"):
            txn.execute(sql[key])

    def process(self, txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None:
        sql = self.sql(store)
        issued = []
        receipts = []
        for item in batch:
            event = item.event
            if isinstance(event, NoticeIssued):
                issued.append(
                    (
                        event.notice_id,
                        event.loan_id,
                        event.kind,
                        event.effective_date.isoformat(),
                        event.due_date.isoformat() if event.due_date else None,
                        moment_text(event.timestamp),
                    )
                )
            elif isinstance(event, NoticeAcknowledged):
                receipts.append(
                    (
                        event.loan_id,
                        event.originator_version,
                        event.notice_id,
                        event.effective_date.isoformat(),
                        moment_text(event.timestamp),
                    )
                )
        if issued:
            txn.executemany(sql["insert"], issued)
        if receipts:
            txn.executemany(sql["insert_receipt"], receipts)

    def report(
        self, store: ReadStore, as_of: date, known_at: datetime | None
    ) -> list[dict[str, Any]]:
        """The §8 `notices` rows as of `as_of`, from what was recorded by `known_at`."""
        moment = moment_text(known_at)
        day = as_of.isoformat()
        rows = store.query(self.sql(store)["at"], (day, moment, day, moment))
        return [
            {
                "notice_id": notice_id,
                "loan_id": loan_id,
                "kind": kind,
                "issued_on": issued_on,
                "due_date": due_date,
                "acknowledged_on": acknowledged_on,
            }
            for notice_id, loan_id, kind, issued_on, due_date, acknowledged_on in rows
        ]
