"""Personal data at rest (Reliability issue #9, item 6): encrypted in every store, crypto-shredded
by `forget_borrower`, master key rotatable, unmasked exports logged.

The book, as a servicing team would load it:

- L-0001: borrower B-1 张三 (id number 110101199001011234), 12,000.00 annuity at 6 %, disbursed
  2024-01-15, guarantor G-1 王五, repaid 1,032.80 on 2024-02-15;
- L-0002: borrower B-2 欧阳娜娜 (id number 44030119851231567X), 6,000.00 equal principal,
  disbursed 2024-01-16, never repaid.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from loanledger import DomainError, LoanLedger, LoanLedgerError
from loanledger.domain.erasure import ERASED
from loanledger.domain.errors import (
    InvalidMasterKeyError,
    MasterKeyMismatchError,
    MasterKeyMissingError,
    PersonalDataKeyError,
    UnknownBorrowerError,
    UnknownGuarantorError,
    WrongStateError,
)
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.keys import DATA_KEY_CACHE_SIZE, MASTER_KEY_ENV, MasterKey
from loanledger.persistence.read_store import ReadStore
from loanledger.projection import engine
from loanledger.projection.engine import DECODE_BATCH
from tests.conftest import TEST_MASTER_KEY
from tests.html import TagBalance
from tests.integration.tampering import flip_bit, overwrite_state, stored_states
from tests.journal import disburse, pre_loan, repay

AS_OF = "2024-03-31"
ZHANG = "张三"
ZHANG_ID = "110101199001011234"
OUYANG = "欧阳娜娜"
OUYANG_ID = "44030119851231567X"
WANG = "王五"

REPORTS = ("loan_ledger", "five_category", "aging", "ifrs9_stages", "notices", "trial_balance")


def journal() -> list[dict[str, Any]]:
    second = pre_loan("L-0002", borrower_id="B-2", amount="6000.00", method="equal_principal")
    second[0] = {**second[0], "borrower": {"id": "B-2", "name": OUYANG, "id_number": OUYANG_ID}}
    return [
        *pre_loan("L-0001"),
        disburse("L-0001", "2024-01-15", "12000.00"),
        {
            "command": "add_guarantor",
            "loan_id": "L-0001",
            "on": "2024-01-15",
            "guarantor": {"id": "G-1", "name": WANG},
            "guaranteed_amount": "12000.00",
        },
        *second,
        disburse("L-0002", "2024-01-16", "6000.00"),
        repay("L-0001", "2024-02-15", "1032.80", "R-1"),
    ]


def _book(ledger: LoanLedger) -> None:
    ledger.load(json.dumps(command, ensure_ascii=False) for command in journal())
    ledger.close_day(AS_OF)


def _raw_states(ledger: LoanLedger) -> list[bytes]:
    """Every stored event's bytes, read past the ledger: the database row itself."""
    kind = ledger.settings.kind
    if kind == "memory":
        return [item.state for item in ledger.recorder.select_notifications(1, 10_000)]
    table = ledger.recorder.events_table_name  # type: ignore[attr-defined]
    if kind == "sqlite":
        with sqlite3.connect(ledger.settings.env["SQLITE_DBNAME"]) as connection:
            return [bytes(row[0]) for row in connection.execute(f"SELECT state FROM {table}")]
    if kind == "postgresql":
        import psycopg
        from psycopg import sql

        with psycopg.connect(**ledger.settings.postgres_connection(search_path=True)) as conn:
            rows = conn.execute(sql.SQL("SELECT state FROM {}").format(sql.Identifier(table)))
            return [bytes(row[0]) for row in rows.fetchall()]
    raise AssertionError(f"no raw reader for {kind} stores")


def _reopen(ledger: LoanLedger, clock: Callable[[], datetime], **keys: Any) -> LoanLedger:
    return LoanLedger.open(ledger.settings.url, clock=clock, **keys)


def _everything(ledger: LoanLedger) -> dict[str, Any]:
    """Every read a user has of the book, as JSON-ready values."""
    return {
        "loans": {loan_id: ledger.loan(loan_id, as_of=AS_OF) for loan_id in ("L-0001", "L-0002")},
        "reports": {name: ledger.report(name, as_of=AS_OF) for name in REPORTS},
        "loan_level": ledger.report("loan_level", as_of=AS_OF),
        "loan_level_unmasked": ledger.export_loan_level(AS_OF, unmasked=True, actor="test"),
        "archives": {
            loan_id: ledger.archive(loan_id, unmasked=True) for loan_id in ("L-0001", "L-0002")
        },
    }


# --- at rest -------------------------------------------------------------------------------------


def test_the_stored_bytes_hold_no_name_or_id_number_in_clear(ledger: LoanLedger) -> None:
    _book(ledger)

    stored = b"".join(_raw_states(ledger))

    for secret in (ZHANG, ZHANG_ID, OUYANG, OUYANG_ID, WANG):
        assert secret.encode("utf-8") not in stored, secret
    # What figures and auditors need stays in clear: ids and amounts.
    for clear in ("B-1", "B-2", "G-1", "12000.00", "1032.80"):
        assert clear.encode("utf-8") in stored, clear


def test_a_stored_application_carries_one_sealed_envelope_naming_its_subject_and_fields(
    ledger: LoanLedger,
) -> None:
    _book(ledger)

    applications = [
        json.loads(state[64:]) for state in _raw_states(ledger) if b'"borrower"' in state
    ]

    assert [item["borrower"] for item in applications] == [{"id": "B-1"}, {"id": "B-2"}]
    envelope = applications[0]["personal_data"]
    assert sorted(envelope) == ["fields", "key", "sealed", "subject"]
    assert envelope["subject"] == "borrower:B-1"
    assert envelope["fields"] == ["borrower.name", "borrower.id_number"]


def test_personal_data_reads_back_in_full_from_the_store(
    ledger: LoanLedger, clock: Callable[[], datetime]
) -> None:
    _book(ledger)

    reopened = ledger if ledger.settings.kind == "memory" else _reopen(ledger, clock)
    try:
        archive = reopened.archive("L-0001", unmasked=True)
        rows = reopened.export_loan_level(AS_OF, unmasked=True, actor="test")
    finally:
        if reopened is not ledger:
            reopened.close()

    assert archive["borrower"] == {"id": "B-1", "name": ZHANG, "id_number": ZHANG_ID}
    guarantor = next(fact for fact in archive["facts"] if fact["fact"] == "GuarantorAdded")
    assert guarantor["data"]["guarantor_name"] == WANG
    assert [(row["borrower_name"], row["borrower_id_number"]) for row in rows] == [
        (ZHANG, ZHANG_ID),
        (OUYANG, OUYANG_ID),
    ]


def test_a_borrower_without_an_id_number_stores_none_and_reads_back_none(
    ledger: LoanLedger,
) -> None:
    commands = pre_loan("L-0003", borrower_id="B-3")
    commands[0] = {**commands[0], "borrower": {"id": "B-3", "name": "李四"}}
    for command in commands:
        ledger.execute(command)

    assert ledger.archive("L-0003", unmasked=True)["borrower"] == {
        "id": "B-3",
        "name": "李四",
        "id_number": None,
    }
    envelope = json.loads(_raw_states(ledger)[0][64:])["personal_data"]
    assert envelope["fields"] == ["borrower.name"]


def test_each_person_has_their_own_data_key(ledger: LoanLedger) -> None:
    _book(ledger)

    rows = ledger.read_store.query(
        "SELECT subject, master_key_id FROM loanledger_data_keys ORDER BY subject"
    )

    master = MasterKey.from_text(TEST_MASTER_KEY).key_id  # memory:// uses a configured key too
    assert rows == [("borrower:B-1", master), ("borrower:B-2", master), ("guarantor:G-1", master)]


def test_the_hash_chain_covers_the_ciphertext(ledger: LoanLedger) -> None:
    _book(ledger)
    states = stored_states(ledger, loan_uuid("L-0001"))
    sealed_at = states[1].index(b'"sealed":"') + len(b'"sealed":"') + 4

    overwrite_state(ledger, loan_uuid("L-0001"), 1, flip_bit(states[1], sealed_at))

    result = ledger.verify()
    assert not result.ok
    assert str(result.first_break) == (
        "loan L-0001 version 1: stored bytes do not match their chain link "
        "(altered event or altered link)"
    )


# --- forgetting ----------------------------------------------------------------------------------


def test_forgetting_a_borrower_erases_their_personal_data_everywhere_and_nothing_else(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    before = _everything(ledger)
    verified = ledger.verify()

    result = ledger.forget_borrower("B-1", actor="dpo-1")

    after = _everything(ledger)
    assert result == {
        "borrower_id": "B-1",
        "loans": ["L-0001"],
        "forgotten_at": result["forgotten_at"],
        "already_forgotten": False,
        "data_key_destroyed": True,
    }
    # Figures and every report: byte for byte the same.
    assert after["loans"] == before["loans"]
    assert json.dumps(after["reports"]) == json.dumps(before["reports"])
    # The loan-level export, masked and unmasked: only B-1's two fields differ.
    erased_row = {"borrower_name": ERASED, "borrower_id_number": ERASED}
    assert after["loan_level"] == [
        {**before["loan_level"][0], **erased_row},
        before["loan_level"][1],
    ]
    assert after["loan_level_unmasked"] == [
        {**before["loan_level_unmasked"][0], **erased_row},
        before["loan_level_unmasked"][1],
    ]
    # The archive: the borrower and the application fact's borrower, nothing else.
    archive_before, archive_after = before["archives"]["L-0001"], after["archives"]["L-0001"]
    erased_borrower = {"id": "B-1", "name": ERASED, "id_number": ERASED}
    assert archive_after["borrower"] == erased_borrower
    assert archive_after["facts"][0]["data"]["borrower"] == erased_borrower
    assert archive_after["facts"][1:] == archive_before["facts"][1:]
    assert archive_after["facts"][0]["hash"] == archive_before["facts"][0]["hash"]
    assert {**archive_after, "borrower": None, "facts": None} == {
        **archive_before,
        "borrower": None,
        "facts": None,
    }
    assert after["archives"]["L-0002"] == before["archives"]["L-0002"]
    # The guarantor is another person: not forgotten with the borrower.
    guarantor = next(f for f in archive_after["facts"] if f["fact"] == "GuarantorAdded")
    assert guarantor["data"]["guarantor_name"] == WANG
    # The chain was over the ciphertext, which did not change.
    assert ledger.verify() == verified
    assert verified.ok


def test_a_forgotten_borrowers_archive_page_shows_erased_and_never_the_name(
    ledger: LoanLedger,
) -> None:
    _book(ledger)

    ledger.forget_borrower("B-1")
    page = ledger.archive_html("L-0001")

    parser = TagBalance()
    parser.feed(page)
    assert parser.open == []
    assert ERASED in page
    for secret in (ZHANG, ZHANG_ID):
        assert secret not in page


def test_rebuilding_after_forgetting_gives_the_same_reports(ledger: LoanLedger) -> None:
    _book(ledger)
    ledger.forget_borrower("B-1")
    before = _everything(ledger)

    ledger.rebuild()

    assert _everything(ledger) == before


@pytest.mark.parametrize(
    "store_url",  # a memory:// store cannot be opened by a second process
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_forgotten_borrower_reads_as_erased_in_another_process(
    ledger: LoanLedger, clock: Callable[[], datetime]
) -> None:
    _book(ledger)
    ledger.archive(
        "L-0001", unmasked=True
    )  # this process has the name decoded and the key unwrapped

    ledger.forget_borrower("B-1")
    reopened = _reopen(ledger, clock)
    try:
        assert reopened.archive("L-0001", unmasked=True)["borrower"] == {
            "id": "B-1",
            "name": ERASED,
            "id_number": ERASED,
        }
        assert reopened.verify().ok
    finally:
        reopened.close()
    assert ledger.read_store.query(
        "SELECT count(*) FROM loanledger_data_keys WHERE subject = 'borrower:B-1'"
    ) == [(0,)]


def test_forgetting_twice_changes_nothing_and_is_logged_once(ledger: LoanLedger) -> None:
    _book(ledger)
    first = ledger.forget_borrower("B-1", actor="dpo-1")

    second = ledger.forget_borrower("B-1", actor="dpo-2")

    assert second == {
        "borrower_id": "B-1",
        "loans": ["L-0001"],
        "forgotten_at": first["forgotten_at"],
        "already_forgotten": True,
        "data_key_destroyed": False,
    }
    log = ledger.personal_data_log()
    assert [(row["action"], row["subject"], row["actor"]) for row in log] == [
        ("forget", "borrower:B-1", "dpo-1")
    ]
    assert log[0]["recorded_at"] == first["forgotten_at"]
    assert log[0]["detail"].startswith("data key ") and log[0]["detail"].endswith(" destroyed")


def test_forgetting_an_unknown_borrower_is_refused_and_logs_nothing(ledger: LoanLedger) -> None:
    _book(ledger)

    with pytest.raises(UnknownBorrowerError) as refused:
        ledger.forget_borrower("B-404")

    assert isinstance(refused.value, DomainError)
    assert str(refused.value) == "borrower B-404 has no loan in this ledger: nothing to forget"
    assert ledger.personal_data_log() == []


def test_forgetting_a_guarantor_erases_their_name_but_not_the_borrowers(
    ledger: LoanLedger,
) -> None:
    _book(ledger)

    ledger.forget_guarantor("G-1", actor="dpo-1")

    archive = ledger.archive("L-0001", unmasked=True)
    guarantor = next(f for f in archive["facts"] if f["fact"] == "GuarantorAdded")
    assert guarantor["data"]["guarantor_name"] == ERASED
    assert archive["borrower"]["name"] == ZHANG
    with pytest.raises(UnknownGuarantorError, match="guarantor G-404 has no personal data"):
        ledger.forget_guarantor("G-404")


def test_a_forgotten_borrower_who_applies_again_gets_a_new_key_and_the_old_data_stays_erased(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    ledger.forget_borrower("B-1")

    for command in pre_loan("L-0009"):
        ledger.execute(command)

    assert ledger.archive("L-0009", unmasked=True)["borrower"] == {
        "id": "B-1",
        "name": ZHANG,
        "id_number": ZHANG_ID,
    }
    assert ledger.archive("L-0001", unmasked=True)["borrower"]["name"] == ERASED


# --- idempotency and replay ----------------------------------------------------------------------


def test_re_sending_a_repayment_is_still_a_no_op_and_re_applying_still_refused(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    version = ledger.loan("L-0001", as_of=AS_OF)
    events = len(_raw_states(ledger))

    ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))
    with pytest.raises(WrongStateError, match="loan L-0001 has applied already"):
        ledger.execute(pre_loan("L-0001")[0])

    assert len(_raw_states(ledger)) == events
    assert ledger.loan("L-0001", as_of=AS_OF) == version


def test_a_journal_gives_the_same_figures_in_an_encrypted_store_as_before_forgetting(
    ledger: LoanLedger,
) -> None:
    reference = LoanLedger.open("memory://")
    try:
        for command in journal():
            reference.execute(command)
        reference.close_day(AS_OF)
        expected = reference.report("loan_ledger", as_of=AS_OF)
    finally:
        reference.close()

    _book(ledger)

    assert ledger.report("loan_ledger", as_of=AS_OF) == expected


# --- keys ----------------------------------------------------------------------------------------


SQLITE_AND_POSTGRES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.mark.parametrize("store_url", SQLITE_AND_POSTGRES, indirect=True)
def test_rotating_the_master_key_keeps_personal_data_readable_under_the_new_key_only(
    store_url: str, clock: Callable[[], datetime]
) -> None:
    old, new = MasterKey.generate_text(), MasterKey.generate_text()
    ledger = LoanLedger.open(store_url, clock=clock, master_key=old)
    try:
        _book(ledger)
        events_before = _raw_states(ledger)
        result = ledger.rotate_master_key(new, actor="kms-operator")
        log = ledger.personal_data_log()
        # The same process goes on reading the name (an unmasked read, logged after the above).
        assert ledger.archive("L-0001", unmasked=True)["borrower"]["name"] == ZHANG
    finally:
        ledger.close()

    assert result == {"master_key_id": MasterKey.from_text(new).key_id, "data_keys_rewrapped": 3}
    assert [(row["action"], row["actor"]) for row in log] == [("rotate_master_key", "kms-operator")]
    rotated = LoanLedger.open(store_url, clock=clock, master_key=new)
    try:
        assert rotated.archive("L-0001", unmasked=True)["borrower"]["name"] == ZHANG
        assert rotated.export_loan_level(AS_OF, unmasked=True)[1]["borrower_name"] == OUYANG
        assert _raw_states(rotated) == events_before  # no event was touched
        assert rotated.verify().ok
    finally:
        rotated.close()
    stale = LoanLedger.open(store_url, clock=clock, master_key=old)
    try:
        with pytest.raises(MasterKeyMismatchError):
            stale.archive("L-0001", unmasked=True)
    finally:
        stale.close()


@pytest.mark.parametrize("store_url", SQLITE_AND_POSTGRES, indirect=True)
def test_during_a_rotation_the_previous_key_still_unwraps(
    store_url: str, clock: Callable[[], datetime]
) -> None:
    old, new = MasterKey.generate_text(), MasterKey.generate_text()
    ledger = LoanLedger.open(store_url, clock=clock, master_key=old)
    try:
        _book(ledger)
    finally:
        ledger.close()

    # Deployed with the new key before the rotation ran: the old one is given as previous.
    both = LoanLedger.open(store_url, clock=clock, master_key=new, previous_master_key=old)
    try:
        assert both.archive("L-0002", unmasked=True)["borrower"]["name"] == OUYANG
        for command in pre_loan("L-0003", borrower_id="B-3"):
            both.execute(command)  # a new person's key is wrapped under the new master key
        assert both.rotate_master_key(new)["data_keys_rewrapped"] == 3
    finally:
        both.close()


@pytest.mark.parametrize("store_url", SQLITE_AND_POSTGRES, indirect=True)
def test_a_wrong_master_key_is_a_clear_typed_error_and_verify_still_works(
    store_url: str, clock: Callable[[], datetime]
) -> None:
    right = LoanLedger.open(store_url, clock=clock)
    try:
        _book(right)
    finally:
        right.close()
    wrong_key = MasterKey.generate_text()

    wrong = LoanLedger.open(store_url, clock=clock, master_key=wrong_key)
    try:
        with pytest.raises(MasterKeyMismatchError) as refused:
            wrong.loan("L-0001", as_of=AS_OF)
        assert wrong.verify().ok  # an auditor needs no key to check the chain
    finally:
        wrong.close()

    assert isinstance(refused.value, PersonalDataKeyError)
    assert isinstance(refused.value, LoanLedgerError)
    assert not isinstance(refused.value, DomainError)
    assert str(refused.value).startswith("the data key of borrower:B-1 in ")
    assert (
        f"is wrapped under master key {MasterKey.from_text(TEST_MASTER_KEY).key_id}, but the "
        f"configured master key is {MasterKey.from_text(wrong_key).key_id}: set "
        "LOANLEDGER_MASTER_KEY to the key this store was written with"
    ) in str(refused.value)


@pytest.mark.parametrize("store_url", SQLITE_AND_POSTGRES, indirect=True)
def test_a_file_store_without_a_master_key_refuses_personal_data_and_records_nothing(
    store_url: str, clock: Callable[[], datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MASTER_KEY_ENV)
    ledger = LoanLedger.open(store_url, clock=clock)
    try:
        with pytest.raises(MasterKeyMissingError, match="set LOANLEDGER_MASTER_KEY"):
            ledger.execute(pre_loan("L-0001")[0])
        assert ledger.verify().events_checked == 0
    finally:
        ledger.close()


def test_a_memory_store_without_a_master_key_uses_a_key_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MASTER_KEY_ENV)
    ledger = LoanLedger.open("memory://")
    try:
        _book(ledger)
        assert ledger.archive("L-0001", unmasked=True)["borrower"]["name"] == ZHANG
    finally:
        ledger.close()


@pytest.mark.parametrize("text", ["not base64!", "c2hvcnQ=", ""])
def test_a_malformed_master_key_is_refused_when_the_ledger_opens(text: str) -> None:
    with pytest.raises(InvalidMasterKeyError, match="master key must be"):
        LoanLedger.open("memory://", master_key=text or "=")


# --- unmasked exports ----------------------------------------------------------------------------


def test_an_unmasked_export_is_logged_with_who_when_and_what(
    ledger: LoanLedger, caplog: pytest.LogCaptureFixture
) -> None:
    _book(ledger)

    with caplog.at_level(logging.WARNING, logger="loanledger.audit"):
        rows = ledger.export_loan_level(AS_OF, unmasked=True, actor="auditor-7")

    assert rows[0]["borrower_name"] == ZHANG
    log = ledger.personal_data_log()
    assert [(r["action"], r["subject"], r["actor"], r["detail"]) for r in log] == [
        ("unmasked_export", "*", "auditor-7", f"loan_level as of {AS_OF}")
    ]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            f"UNMASKED export of personal data by auditor-7 at {log[0]['recorded_at']}: "
            f"loan_level as of {AS_OF}",
        )
    ]


def test_a_masked_export_logs_nothing(ledger: LoanLedger, caplog: pytest.LogCaptureFixture) -> None:
    _book(ledger)

    with caplog.at_level(logging.WARNING, logger="loanledger.audit"):
        rows = ledger.export_loan_level(AS_OF)

    assert [(row["borrower_name"], row["borrower_id_number"]) for row in rows] == [
        ("张*", "110101********1234"),
        ("欧***", "440301********567X"),
    ]
    assert ledger.personal_data_log() == []
    assert caplog.records == []


# --- concurrency ---------------------------------------------------------------------------------


@pytest.mark.parametrize("store_url", SQLITE_AND_POSTGRES, indirect=True)
def test_writers_applying_for_one_new_borrower_at_once_share_one_data_key(
    store_url: str, clock: Callable[[], datetime]
) -> None:
    writers = [LoanLedger.open(store_url, clock=clock) for _ in range(4)]
    start = threading.Barrier(len(writers))
    errors: list[BaseException] = []

    def apply(number: int, ledger: LoanLedger) -> None:
        try:
            start.wait()
            ledger.execute(pre_loan(f"L-{number:04d}", borrower_id="B-7")[0])
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [
        threading.Thread(target=apply, args=(number, ledger))
        for number, ledger in enumerate(writers, start=1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        reader = writers[0]
        keys = reader.read_store.query(
            "SELECT count(*) FROM loanledger_data_keys WHERE subject = 'borrower:B-7'"
        )
        assert keys == [(1,)]
        fresh = _reopen(reader, clock)
        try:
            names = [
                fresh.archive(f"L-{n:04d}", unmasked=True)["borrower"]["name"] for n in range(1, 5)
            ]
        finally:
            fresh.close()
        assert names == [ZHANG] * 4
    finally:
        for ledger in writers:
            ledger.close()


@pytest.mark.parametrize("store_url", SQLITE_AND_POSTGRES, indirect=True)
def test_a_writer_whose_borrower_was_forgotten_elsewhere_seals_new_data_under_a_new_key(
    store_url: str, clock: Callable[[], datetime]
) -> None:
    writer = LoanLedger.open(store_url, clock=clock)
    other = LoanLedger.open(store_url, clock=clock)
    try:
        for command in pre_loan("L-0001"):
            writer.execute(command)  # the writer now holds B-1's data key
        other.forget_borrower("B-1", actor="dpo-1")

        writer.execute(pre_loan("L-0002")[0])

        fresh = _reopen(writer, clock)
        try:
            assert fresh.archive("L-0002", unmasked=True)["borrower"]["name"] == ZHANG
            assert fresh.archive("L-0001", unmasked=True)["borrower"]["name"] == ERASED
        finally:
            fresh.close()
    finally:
        writer.close()
        other.close()


@contextmanager
def _statements_of(store: ReadStore) -> Iterator[list[str]]:
    """The statements `store.query` runs inside the block, in order."""
    reads: list[str] = []
    query = store.query

    def counted(statement: str, params: Any = ()) -> Any:
        reads.append(statement)
        return query(statement, params)

    store.query = counted  # type: ignore[method-assign]
    try:
        yield reads
    finally:
        store.query = query  # type: ignore[method-assign]


def test_ensuring_many_new_people_reads_their_keys_in_a_few_queries_and_keeps_existing_keys(
    ledger: LoanLedger,
) -> None:
    """A bulk load's batch of new borrowers costs a bounded number of key-table reads (one per
    chunk of subjects, before and after creating them), not one per borrower; a subject who
    has a key keeps it."""
    _book(ledger)
    before: dict[str, str] = dict(
        ledger.read_store.query("SELECT subject, data_key_id FROM loanledger_data_keys")
    )
    subjects = [f"borrower:N-{number:04d}" for number in range(1200)] + ["borrower:B-1"]
    with _statements_of(ledger.read_store) as reads:
        ledger.data_keys.ensure(subjects)

    after: dict[str, str] = dict(
        ledger.read_store.query("SELECT subject, data_key_id FROM loanledger_data_keys")
    )
    assert len(reads) == 6  # 3 chunks of at most 500 subjects, read before and after creating
    assert len(after) == len(before) + 1200
    assert after["borrower:B-1"] == before["borrower:B-1"]
    assert len(set(after.values())) == len(after)


@pytest.mark.parametrize(
    "store_url",  # a memory:// store cannot be opened by a second (cold) ledger
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_rebuild_reads_a_pages_data_keys_in_one_query_and_gives_the_same_reports(
    ledger: LoanLedger, clock: Callable[[], datetime]
) -> None:
    """Decoding a page of events fetches every data key it needs together (one query for the
    page), not one query per person; the names read back are the same."""
    for number in range(1, 41):
        loan_id = f"L-{number:04d}"
        for command in pre_loan(loan_id, borrower_id=f"B-{number}"):
            ledger.execute(command)
    ledger.forget_borrower("B-1", actor="test")  # a destroyed key is looked up with the rest
    before = [ledger.archive(f"L-{number:04d}", unmasked=True) for number in (1, 40)]
    assert ZHANG not in json.dumps(before[0], ensure_ascii=False)
    cold = _reopen(ledger, clock)
    with _statements_of(cold.read_store) as reads:
        cold.rebuild()

    key_reads = [statement for statement in reads if "loanledger_data_keys" in statement]
    assert len(key_reads) == 1  # 40 people, 160 events: one page
    assert [cold.archive(f"L-{number:04d}", unmasked=True) for number in (1, 40)] == before
    cold.close()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_page_larger_than_a_decoding_chunk_reads_the_keys_a_chunk_at_a_time(
    ledger: LoanLedger, clock: Callable[[], datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page is decoded `DECODE_BATCH` events at a time, each chunk's keys in one query (so
    that they fit the key cache whatever the page's size); the names read back are the same."""
    for number in range(1, 41):
        for command in pre_loan(f"L-{number:04d}", borrower_id=f"B-{number}"):
            ledger.execute(command)
    before = [ledger.archive(f"L-{number:04d}", unmasked=True) for number in (1, 40)]
    cold = _reopen(ledger, clock)
    monkeypatch.setattr(engine, "DECODE_BATCH", 40)
    with _statements_of(cold.read_store) as reads:
        cold.rebuild()

    key_reads = [statement for statement in reads if "loanledger_data_keys" in statement]
    assert len(key_reads) == 4  # 160 events in one page, decoded in 4 chunks of 40
    assert [cold.archive(f"L-{number:04d}", unmasked=True) for number in (1, 40)] == before
    cold.close()


def test_the_data_key_cache_holds_every_key_of_a_page_until_the_page_is_decoded() -> None:
    """A page's keys are fetched together before its events are decoded (`DECODE_BATCH` of
    them at a time); were the cache smaller than that, the first of them would be dropped again
    and read one query a person."""
    assert DATA_KEY_CACHE_SIZE >= DECODE_BATCH
