"""Hostile inputs through the public API on every store (issue 24): a refusal is a typed
`LoanLedgerError` and records nothing; no driver error (psycopg, sqlite3, eventsourcing) ever
reaches the caller; one bad line never blocks the other loans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import (
    DomainError,
    InvalidCommandError,
    JournalParseError,
    StoreDataError,
)
from tests.hostile import HOSTILE_STRINGS, replaced, string_paths, templates
from tests.journal import disburse, pre_loan
from tests.stores import ON_POSTGRESQL

REPORT_NAMES = ("loan_ledger", "five_category", "aging", "ifrs9_stages", "notices")


def _head(ledger: LoanLedger) -> int:
    return ledger.recorder.max_notification_id() or 0


def _apply(loan_id: str, borrower_id: str = "B-1") -> dict[str, Any]:
    return {**pre_loan(loan_id, borrower_id=borrower_id)[0]}


@ON_POSTGRESQL
def test_a_loan_id_with_a_nul_byte_is_refused_and_every_other_loan_goes_on(
    ledger: LoanLedger,
) -> None:
    with pytest.raises(InvalidCommandError, match="field 'loan_id': an identifier is 1-64"):
        ledger.execute(_apply("L-\u0000x"))
    assert _head(ledger) == 0
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    assert ledger.loan("L-0001", as_of="2024-01-15")["principal_outstanding"] == "12000.00"
    ledger.close_day("2024-01-16")
    assert ledger.verify().ok


@ON_POSTGRESQL
def test_a_borrower_id_with_a_nul_byte_is_refused_with_a_typed_error(ledger: LoanLedger) -> None:
    with pytest.raises(InvalidCommandError, match=r"field 'borrower.id': an identifier"):
        ledger.execute(_apply("L-0001", borrower_id="B-\u0000"))
    assert _head(ledger) == 0


@ON_POSTGRESQL
@pytest.mark.parametrize(
    "loan_id", ["../../etc/passwd", "L-1'; DROP TABLE stored_events; --", "L-😀"]
)
def test_loan_ids_outside_the_identifier_alphabet_are_refused(
    ledger: LoanLedger, loan_id: str
) -> None:
    with pytest.raises(InvalidCommandError, match="field 'loan_id': an identifier is 1-64"):
        ledger.execute(_apply(loan_id))
    assert _head(ledger) == 0


def _no_untyped_error(call: Any, *args: Any, **kwargs: Any) -> bool:
    """Run the call; True if it was refused, False if it went through. A hostile input is a
    refusal (a `DomainError` naming the rule), never a store error: any other exception, a
    `StoreDataError` included, fails the test."""
    try:
        call(*args, **kwargs)
    except DomainError:
        return True
    return False


def test_every_command_field_given_a_hostile_value_is_refused_or_applied_never_a_driver_error(
    ledger: LoanLedger,
) -> None:
    for command in pre_loan("L-W"):
        ledger.execute(command)
    ledger.execute(disburse("L-W", "2024-01-15", "12000.00", reference="D-W"))
    tried = refused = 0
    for template in templates("L-W"):
        for path in string_paths(template):
            for value in HOSTILE_STRINGS:
                before = _head(ledger)
                tried += 1
                if _no_untyped_error(ledger.execute, replaced(template, path, value)):
                    refused += 1
                    assert _head(ledger) == before, (template["command"], path, value)
    assert (tried, refused) == (2_360, 2_252)
    assert ledger.verify().ok


def test_queries_given_hostile_values_answer_or_refuse_with_a_typed_error(
    ledger: LoanLedger,
) -> None:
    for command in pre_loan("L-Q"):
        ledger.execute(command)
    for value in HOSTILE_STRINGS:
        _no_untyped_error(ledger.loan, value, as_of="2024-02-01")
        _no_untyped_error(ledger.loan, "L-Q", as_of=value)
        _no_untyped_error(ledger.loan, "L-Q", as_of="2024-02-01", known_at=value)
        _no_untyped_error(ledger.schedule, value)
        _no_untyped_error(ledger.archive, value)
        _no_untyped_error(ledger.report, value, as_of="2024-02-01")
        _no_untyped_error(ledger.close_day, value)
        _no_untyped_error(ledger.forget_borrower, value)
        _no_untyped_error(ledger.forget_guarantor, value)
        _no_untyped_error(ledger.load, [value])
        for name in REPORT_NAMES:
            _no_untyped_error(ledger.report, name, as_of=value)
    assert ledger.loan("L-Q", as_of="2024-02-01")["status"] == "approved"
    assert ledger.verify().ok


def test_a_store_refusing_the_rows_is_a_store_data_error_naming_loan_and_version(
    ledger: LoanLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventsourcing.persistence import DataError

    for command in pre_loan("L-0001")[:1]:
        ledger.execute(command)

    def refuse(*args: object, **kwargs: object) -> None:
        raise DataError("text fields cannot contain NUL")

    monkeypatch.setattr(ledger.recorder, "insert_events", refuse)
    with pytest.raises(StoreDataError) as refused:
        ledger.execute(pre_loan("L-0001")[1])
    assert (refused.value.loan_id, refused.value.version) == ("L-0001", 2)
    assert str(refused.value) == (
        "the store refused the data for loan 'L-0001' version 2 "
        "(DataError: text fields cannot contain NUL); nothing was recorded"
    )
    monkeypatch.undo()
    assert _head(ledger) == 1


def test_a_driver_error_on_a_read_is_a_store_data_error_not_the_drivers(
    ledger: LoanLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    def broken(*args: object, **kwargs: object) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(ledger.read_store, "query", broken)
    with pytest.raises(
        StoreDataError, match=r"\(DatabaseError: database disk image is malformed\)"
    ):
        ledger.close_day("2024-01-02")


def test_a_journal_file_with_bytes_that_are_not_utf8_is_refused_at_that_line(
    ledger: LoanLedger, tmp_path: Path
) -> None:
    journal = tmp_path / "book.jsonl"
    first = json.dumps(_apply("L-0001"), ensure_ascii=False).encode("utf-8")
    journal.write_bytes(first + b"\n" + b'{"command": "close", "loan_id": "L-\xff"}\n')

    with pytest.raises(JournalParseError, match=r"^line 2: not UTF-8 text"):
        ledger.load(journal)

    assert _head(ledger) == 1
