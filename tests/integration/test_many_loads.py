"""Loading several loans at once (`LoanLedger._get_many`, what the `loan_state` projection loads
a page's loans with when it does not keep them) gives each loan exactly as loading it alone does:
the loans with a snapshot from it, the others' events read with one statement for all of them
(`persistence.pages.events_reader`) and decoded in one batch; a loan that never applied or whose
stored events cannot be read fails with the error loading it alone gives.

The book: L-0001 of tests/integration/test_snapshots.py (35 events, snapshotted every 10 here,
so at version 30), and L-0002 and L-0003, each applied, disbursed and repaid once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import CorruptHistoryError, LoanNotFoundError
from loanledger.persistence.ids import loan_uuid
from tests.integration.tampering import overwrite_state, stored_states
from tests.integration.test_snapshots import EVERY, LOAN, cold, journal, record
from tests.journal import disburse, pre_loan, repay

SHORT = ["L-0002", "L-0003"]


def book(ledger: LoanLedger) -> None:
    record(ledger, journal())
    for number, loan_id in enumerate(SHORT, start=1):
        for command in [
            *pre_loan(loan_id, borrower_id=f"B-{number + 1}"),
            disburse(loan_id, "2024-01-15", "12000.00"),
            repay(loan_id, "2024-02-15", "1032.77", f"R-{loan_id}"),
        ]:
            ledger.execute(command)


def test_loans_loaded_together_are_each_the_loan_loaded_alone(
    ledger: LoanLedger, clock: Callable[[], datetime]
) -> None:
    book(ledger)
    together = cold(ledger)
    alone = cold(ledger)
    try:
        together._get("L-0002")  # its events are cached: it is loaded as `_get` loads it
        asked = ["L-0003", LOAN, "L-0002"]
        loans = together._get_many(asked)
        assert list(loans) == asked
        assert [loan.version for loan in loans.values()] == [6, 35, 6]
        # L-0001 from its snapshot (events 1..30) and the five events after it.
        assert together.loan_snapshots.stats["served"] == 1
        for loan_id in asked:
            expected = alone._get(loan_id, remember=False)
            assert loans[loan_id].history == expected.history
            assert loans[loan_id].version == expected.version
    finally:
        for opened in (together, alone):
            if opened is not ledger:
                opened.close()


def test_the_events_of_several_loans_come_by_loan_as_asked_each_in_version_order(
    ledger: LoanLedger,
) -> None:
    book(ledger)
    ids = [loan_uuid(loan_id) for loan_id in ["L-0003", LOAN, "L-0002"]]
    found = [(event.originator_id, event.originator_version) for event in ledger._events_of(ids)]
    expected = [
        (event.originator_id, event.originator_version)
        for id_ in ids
        for event in ledger.recorder.select_events(id_)
    ]
    assert found == expected
    assert len(found) == 35 + 2 * 6
    assert ledger._events_of([]) == []


def test_a_loan_that_never_applied_fails_as_it_fails_alone(ledger: LoanLedger) -> None:
    book(ledger)
    with pytest.raises(LoanNotFoundError, match=r"^loan L-0404 has not applied$"):
        cold(ledger)._get_many(["L-0002", "L-0404"])


def test_a_loan_whose_stored_events_cannot_be_read_is_named_as_it_is_alone(
    ledger: LoanLedger,
) -> None:
    book(ledger)
    aggregate_id = loan_uuid("L-0003")
    state = stored_states(ledger, aggregate_id)[2]
    overwrite_state(ledger, aggregate_id, 2, state[:64] + b"{not json")
    fresh = cold(ledger)
    try:
        with pytest.raises(CorruptHistoryError, match=r"^loan L-0003 has stored events that"):
            fresh._get_many(["L-0002", "L-0003"])
        assert fresh._get_many(["L-0002"])["L-0002"].version == 6
    finally:
        if fresh is not ledger:
            fresh.close()


def test_with_snapshots_off_loans_loaded_together_read_no_snapshot(ledger: LoanLedger) -> None:
    book(ledger)
    fresh = cold(ledger, snapshots=False)
    try:
        loans = fresh._get_many([LOAN, "L-0002"])
        assert loans[LOAN].version == 35
        assert fresh.loan_snapshots.stats == {"served": 0, "rejected": 0, "taken": 0}
        assert EVERY == 10
    finally:
        if fresh is not ledger:
            fresh.close()
