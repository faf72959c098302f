"""A partition of `verify(workers=N)` reads only its own loans' events, by their key, a batch of
loans at a time (issue 20), and still finds what the single verify finds.

Each partition's verdict is taken in this process (no cluster: `verify_partition` is the task a
worker runs), with batches of two loans, so that a partition walks several batches and the first
break must be found across them by its log position. On SQLite and PostgreSQL, intact and after
each tampering in turn, the partitions' counts add up to the single verify's and the break at
the lowest position among them is the single verify's first break.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loanledger import LoanLedger
from loanledger.application import partitioned_verify
from loanledger.application.partitioned_verify import VerifyTask, verify_partition
from loanledger.persistence import pages
from loanledger.persistence.pages import loan_events
from tests.integration.test_partitioned_rebuild import (
    SteppingClock,
    close_and_acknowledge,
    many_loans,
    record,
)
from tests.integration.test_partitioned_verify import TAMPERINGS


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LoanLedger]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'book.db'}"
    else:
        url = f"{request.getfixturevalue('postgres_url')}?schema=pr_{uuid.uuid4().hex[:12]}"
    ledger = LoanLedger.open(url, clock=SteppingClock())
    ledger.loan_snapshots.every = 4
    try:
        record(ledger, many_loans(9))
        close_and_acknowledge(ledger)
        yield ledger
    finally:
        ledger.close()


def test_each_partition_reads_its_own_loans_and_together_they_find_the_first_break(
    book: LoanLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "LOANS_PER_READ", 2)
    monkeypatch.setattr(partitioned_verify, "LOANS_PER_READ", 2)
    events = loan_events(book.recorder)
    assert events is not None
    assert len(events.stored_keys()) == 9
    breaks = []
    for name, change in [("intact", None), *TAMPERINGS]:
        if change is not None:
            change(book)
        serial = book.verify()
        until = book.recorder.max_notification_id() or 0
        for partitions in (2, 3):
            verdicts = [
                verify_partition(VerifyTask(book.settings.url, index, partitions, until))
                for index in range(partitions)
            ]
            assert all(verdict.events_checked > 0 for verdict in verdicts), name
            assert sum(v.events_checked for v in verdicts) == serial.events_checked, name
            assert sum(v.loans_checked for v in verdicts) == serial.loans_checked, name
            broken = [v for v in verdicts if v.first_break is not None]
            if name in ("intact", "altered_snapshot"):
                assert broken == [], name
                continue
            first = min(broken, key=lambda verdict: verdict.position or 0)
            assert first.first_break == serial.first_break, name
        breaks.append(serial.first_break.loan_id if serial.first_break else None)
    assert breaks == [None, "L-0000", "L-0007", "L-0005", "L-0002", "L-0001", "L-0001"]
