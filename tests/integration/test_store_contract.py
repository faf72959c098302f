"""One store contract, every store (DESIGN §2, principle 5).

`StoreContract` is the abstract suite; it is subclassed once per store kind at the bottom of this
file, as eventsourcing does with its recorder tests. Every subclass must pass every test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import uuid4

import pytest

from loanledger import ConcurrencyError, LoanLedger
from tests.integration.memo import Memo, MemoAmended, MemoOpened
from tests.integration.tampering import (
    delete_event,
    flip_bit,
    overwrite_state,
    stored_states,
    swap_events,
)

Clock = Callable[[], datetime]


def _memo_with_versions(ledger: LoanLedger, clock: Clock, count: int, loan_id: str) -> Memo:
    memo = Memo.open(uuid4(), loan_id, "v1", clock())
    for number in range(2, count + 1):
        memo.amend(f"v{number}", clock(), loan_id)
    ledger.record(memo)
    return memo


class StoreContract:
    store_kind = ""

    def test_appended_events_read_back_equal_and_in_version_order(
        self, ledger: LoanLedger, clock: Clock
    ) -> None:
        memo = Memo.open(uuid4(), "L-0001", "first", clock())
        memo.amend("second", clock(), "L-0001")
        expected = list(memo._pending)
        ledger.record(memo)

        stored = list(ledger.events.get(memo.id))

        assert stored == expected
        assert [event.originator_version for event in stored] == [1, 2]
        assert isinstance(stored[0], MemoOpened) and isinstance(stored[1], MemoAmended)
        assert ledger.repository.get(memo.id).texts == ["first", "second"]

    def test_a_batch_of_many_loans_gets_notification_ids_in_the_order_it_was_saved(
        self, ledger: LoanLedger, clock: Clock
    ) -> None:
        loan_ids = [f"L-01{number:02d}" for number in range(30)]
        memos = [Memo.open(uuid4(), loan_id, "opened", clock()) for loan_id in loan_ids]
        for memo, loan_id in list(zip(memos, loan_ids, strict=True))[::3]:
            memo.amend("amended", clock(), loan_id)
        saved = [
            (event.originator_id, event.originator_version) for m in memos for event in m._pending
        ]
        before = ledger.recorder.max_notification_id() or 0

        ledger.record(*memos)

        page = ledger.recorder.select_notifications(before + 1, 100)
        assert [(n.originator_id, n.originator_version) for n in page] == saved
        assert [n.id for n in page] == sorted(n.id for n in page)
        assert ledger.verify().events_checked == len(saved)

    def test_a_stale_writer_gets_a_concurrency_error_and_records_nothing(
        self, ledger: LoanLedger, clock: Clock
    ) -> None:
        memo = _memo_with_versions(ledger, clock, 1, "L-0002")
        first: Memo = ledger.repository.get(memo.id)
        second: Memo = ledger.repository.get(memo.id)
        first.amend("from the first writer", clock(), "L-0002")
        second.amend("from the second writer", clock(), "L-0002")
        ledger.record(first)

        with pytest.raises(ConcurrencyError, match="another writer recorded an event"):
            ledger.record(second)

        assert ledger.repository.get(memo.id).texts == ["v1", "from the first writer"]
        assert ledger.verify().ok

    def test_re_appending_stored_events_is_refused_and_never_duplicates(
        self, ledger: LoanLedger, clock: Clock
    ) -> None:
        memo = Memo.open(uuid4(), "L-0003", "only", clock())
        events = list(memo._pending)
        ledger.record(memo)

        with pytest.raises(ConcurrencyError):
            ledger.save(*events)

        assert len(list(ledger.events.get(memo.id))) == 1
        assert ledger.verify().events_checked == 1

    def test_a_batch_with_one_conflict_records_none_of_its_events(
        self, ledger: LoanLedger, clock: Clock
    ) -> None:
        existing = _memo_with_versions(ledger, clock, 1, "L-0004")
        stale: Memo = ledger.repository.get(existing.id)
        stale.amend("wins", clock(), "L-0004")
        ledger.record(stale)
        conflicting: Memo = ledger.repository.get(existing.id, version=1)
        conflicting.amend("loses", clock(), "L-0004")
        fresh = Memo.open(uuid4(), "L-0005", "new", clock())

        with pytest.raises(ConcurrencyError):
            ledger.record(fresh, conflicting)

        assert list(ledger.events.get(fresh.id)) == []
        assert ledger.verify().loans_checked == 1

    def test_verify_counts_every_loan_and_event_of_an_intact_store(
        self, ledger: LoanLedger, clock: Clock
    ) -> None:
        _memo_with_versions(ledger, clock, 3, "L-0006")
        _memo_with_versions(ledger, clock, 2, "L-0007")

        result = ledger.verify()

        assert (result.ok, result.loans_checked, result.events_checked) == (True, 2, 5)
        assert result.first_break is None

    def test_appending_after_a_reopen_continues_the_chain(
        self, ledger: LoanLedger, clock: Clock
    ) -> None:
        memo = _memo_with_versions(ledger, clock, 2, "L-0008")
        if ledger.settings.kind == "memory":
            reopened = ledger  # a memory store does not outlive its ledger
            reopened._heads.clear()
        else:
            reopened = LoanLedger.open(ledger.settings.url, clock=clock)
        again: Memo = reopened.repository.get(memo.id)
        reopened._heads.clear()  # force the link to be read back from the store
        again.amend("after reopen", clock(), "L-0008")
        reopened.record(again)

        assert reopened.verify().ok
        assert reopened.verify().events_checked == 3

    @pytest.mark.parametrize("where", ["first", "middle", "last"])
    def test_verify_names_the_event_whose_byte_was_flipped(
        self, ledger: LoanLedger, clock: Clock, where: str
    ) -> None:
        memo = _memo_with_versions(ledger, clock, 3, "L-0009")
        state = stored_states(ledger, memo.id)[2]
        position = {"first": 0, "middle": len(state) // 2, "last": len(state) - 1}[where]
        overwrite_state(ledger, memo.id, 2, flip_bit(state, position))

        result = ledger.verify()

        assert result.ok is False
        assert result.first_break is not None
        assert (result.first_break.loan_id, result.first_break.version) == ("L-0009", 2)
        assert "L-0009" in str(result.first_break) and "version 2" in str(result.first_break)

    def test_verify_reports_unreadable_bytes_of_a_first_event_without_crashing(
        self, ledger: LoanLedger, clock: Clock
    ) -> None:
        memo = _memo_with_versions(ledger, clock, 2, "L-0010")
        overwrite_state(ledger, memo.id, 1, b"\xff\xfe not a sealed event")

        result = ledger.verify()

        assert result.first_break is not None
        assert result.first_break.loan_id == "L-0010"  # learnt from the readable version 2
        assert result.first_break.version == 1
        assert result.first_break.reason.startswith("unreadable stored bytes")

    def test_verify_reports_a_deleted_middle_event_as_missing(
        self, ledger: LoanLedger, clock: Clock
    ) -> None:
        memo = _memo_with_versions(ledger, clock, 3, "L-0011")
        delete_event(ledger, memo.id, 2)

        result = ledger.verify()

        assert result.first_break is not None
        assert (result.first_break.loan_id, result.first_break.version) == ("L-0011", 2)
        assert result.first_break.reason == "version 2 is missing (next stored version is 3)"

    def test_verify_reports_two_swapped_events_at_the_first_of_them(
        self, ledger: LoanLedger, clock: Clock
    ) -> None:
        memo = _memo_with_versions(ledger, clock, 4, "L-0012")
        swap_events(ledger, memo.id, 2, 3)

        result = ledger.verify()

        assert result.first_break is not None
        assert (result.first_break.loan_id, result.first_break.version) == ("L-0012", 2)
        assert "do not match their chain link" in result.first_break.reason

    def test_verify_names_only_the_broken_loan_among_intact_ones(
        self, ledger: LoanLedger, clock: Clock
    ) -> None:
        _memo_with_versions(ledger, clock, 2, "L-0013")
        broken = _memo_with_versions(ledger, clock, 2, "L-0014")
        _memo_with_versions(ledger, clock, 2, "L-0015")
        state = stored_states(ledger, broken.id)[2]
        overwrite_state(ledger, broken.id, 2, state.replace(b"v2", b"v9"))

        result = ledger.verify()

        assert (result.loans_checked, result.events_checked) == (3, 6)
        assert result.first_break is not None
        assert (result.first_break.loan_id, result.first_break.version) == ("L-0014", 2)


class TestMemoryStore(StoreContract):
    store_kind = "memory"


class TestSQLiteStore(StoreContract):
    store_kind = "sqlite"


@pytest.mark.postgres
class TestPostgreSQLStore(StoreContract):
    store_kind = "postgresql"


@pytest.mark.postgres
def test_threads_appending_to_one_stream_on_postgresql_lose_no_update(
    postgres_url: str, clock: Clock
) -> None:
    """Eight threads each append ten amendments to one memo, reloading on every conflict."""
    from concurrent.futures import ThreadPoolExecutor

    url = f"{postgres_url}?schema=t_{uuid4().hex[:12]}"
    ledger = LoanLedger.open(url, clock=clock)
    memo = _memo_with_versions(ledger, clock, 1, "L-0100")
    conflicts: list[int] = []

    def writer(number: int) -> None:
        for step in range(10):
            for _attempt in range(200):
                current: Memo = ledger.repository.get(memo.id)
                current.amend(f"w{number}-{step}", clock(), "L-0100")
                try:
                    ledger.record(current)
                    break
                except ConcurrencyError:
                    conflicts.append(number)
            else:
                raise AssertionError("writer starved after 200 attempts")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(writer, range(8)))

    texts: list[str] = ledger.repository.get(memo.id).texts
    assert len(texts) == 81
    assert sorted(texts[1:]) == sorted(f"w{n}-{s}" for n in range(8) for s in range(10))
    result = ledger.verify()
    assert (result.ok, result.events_checked) == (True, 81)
    ledger.close()


@pytest.mark.parametrize(
    "url",
    ["sqlite:////no/such/directory/books.db", "postgresql://postgres@127.0.0.1:1/postgres"],
)
def test_a_store_that_cannot_be_opened_raises_store_unavailable_naming_it(url: str) -> None:
    from loanledger import StoreUnavailableError

    with pytest.raises(StoreUnavailableError, match=f"^cannot open store {url}: "):
        LoanLedger.open(url)
