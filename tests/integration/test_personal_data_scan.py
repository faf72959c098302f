"""No byte of the store holds a forgotten borrower's name or id number (issue 24): the payee of
an entrusted payment (受托支付) is sealed under the borrower's data key like their name, and
after `forget_borrower` neither the SQLite file (events, read models, snapshots, free pages, the
WAL) nor a dump of every PostgreSQL table holds either in any encoding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.erasure import ERASED
from tests.journal import disburse, pre_loan, repay
from tests.stores import ON_POSTGRESQL

NAME = "张三丰"
ID_NUMBER = "110101199001019999"
THIRD_PARTY = "钱七商贸有限公司"
AS_OF = "2024-03-31"


def _journal() -> list[dict[str, Any]]:
    commands = pre_loan("L-0001")
    commands[0] = {**commands[0], "borrower": {"id": "B-1", "name": NAME, "id_number": ID_NUMBER}}
    first = {**disburse("L-0001", "2024-01-15", "6000.00", reference="D-1"), "payee": NAME}
    second = {**disburse("L-0001", "2024-01-16", "6000.00", reference="D-2"), "payee": THIRD_PARTY}
    return [*commands, first, second, repay("L-0001", "2024-02-15", "1032.80", "R-1")]


def _book(ledger: LoanLedger) -> None:
    for command in _journal():
        ledger.execute(command)
    ledger.close_day(AS_OF)
    for name in ("loan_ledger", "five_category", "notices", "loan_level"):
        ledger.report(name, as_of=AS_OF)
    ledger.loan("L-0001", as_of=AS_OF)
    ledger.archive("L-0001", unmasked=True)


def _encodings(text: str) -> list[bytes]:
    """The text as UTF-8, as JSON with \\u escapes (either case), as UTF-16 (either order)."""
    escaped = json.dumps(text)[1:-1]
    return [
        text.encode("utf-8"),
        escaped.encode("ascii"),
        escaped.upper().replace("\\U", "\\u").encode("ascii"),
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
    ]


def _payees(ledger: LoanLedger) -> list[str | None]:
    facts = ledger.archive("L-0001", unmasked=True)["facts"]
    return [fact["data"].get("payee") for fact in facts if fact["fact"] == "LoanDisbursed"]


def test_a_payee_is_sealed_under_the_borrowers_key_and_reads_back_until_forgotten(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    stored = b"".join(item.state for item in ledger.recorder.select_notifications(1, 1000))
    assert NAME.encode() not in stored
    assert THIRD_PARTY.encode() not in stored
    assert _payees(ledger) == [NAME, THIRD_PARTY]

    ledger.forget_borrower("B-1", actor="test")

    assert _payees(ledger) == [ERASED, ERASED]
    assert ledger.verify().ok


def _sqlite_bytes(path: Path) -> bytes:
    return b"".join(
        candidate.read_bytes()
        for candidate in path.parent.iterdir()
        if candidate.name.startswith(path.name)
    )


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_after_forgetting_no_byte_of_the_sqlite_file_holds_the_name_or_id_number(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    path = Path(ledger.settings.env["SQLITE_DBNAME"])
    secrets = [*_encodings(NAME), *_encodings(ID_NUMBER), *_encodings(THIRD_PARTY)]

    ledger.forget_borrower("B-1", actor="test")
    ledger.close()

    held = _sqlite_bytes(path)
    assert len(held) > 100_000
    assert [secret for secret in secrets if secret in held] == []


@ON_POSTGRESQL
def test_after_forgetting_no_postgresql_table_holds_the_name_or_id_number(
    ledger: LoanLedger,
) -> None:
    import psycopg

    _book(ledger)
    secrets = [*_encodings(NAME), *_encodings(ID_NUMBER), *_encodings(THIRD_PARTY)]

    ledger.forget_borrower("B-1", actor="test")

    dump = bytearray()
    with psycopg.connect(**ledger.settings.postgres_connection(search_path=True)) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
        assert len(tables) >= 8
        for (table,) in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"').fetchall():
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        dump += bytes(value)
                    else:
                        dump += str(value).encode("utf-8")
    assert [secret for secret in secrets if secret in dump] == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_destroyed_data_key_leaves_no_byte_in_the_sqlite_file(ledger: LoanLedger) -> None:
    """`secure_delete` zeroes the deleted key row, and the WAL is truncated after a forget: a
    file reader who also holds the master key finds nothing to unwrap."""
    _book(ledger)
    (wrapped,) = ledger.read_store.query(
        "SELECT wrapped FROM loanledger_data_keys WHERE subject = ?", ("borrower:B-1",)
    )[0]
    path = Path(ledger.settings.env["SQLITE_DBNAME"])

    ledger.forget_borrower("B-1", actor="test")
    ledger.close()

    assert wrapped.encode("ascii") not in _sqlite_bytes(path)


def test_a_disbursement_stored_at_class_version_1_reads_with_its_payee_and_no_borrower_id() -> None:
    """Events recorded before the payee was sealed: no `class_version`, no `borrower_id`, the
    payee in clear (it stays so: stored bytes are never rewritten, the chain covers them)."""
    from uuid import UUID

    from loanledger.domain.loan_events import LoanDisbursed
    from loanledger.persistence.mapper import decode_body

    body = (
        b'{"effective_date":"2024-01-15","loan_id":"L-1","timestamp":"2024-01-15T08:00:00+00:00",'
        b'"amount":"100.00","content_hash":"x","reference":"D-1","payee":"\xe5\xbc\xa0\xe4\xb8\x89"}'
    )
    topic = f"{LoanDisbursed.__module__}:{LoanDisbursed.__qualname__}"

    event = decode_body(topic, UUID(int=7), 3, body)

    assert isinstance(event, LoanDisbursed)
    assert (event.payee, event.borrower_id, event.reference) == ("张三", None, "D-1")


def test_a_refunds_payee_is_sealed_under_the_borrowers_key_and_erased_with_them(
    ledger: LoanLedger,
) -> None:
    payee = "孙八贸易商行"
    for command in _journal():
        ledger.execute(command)
    ledger.execute(repay("L-0001", "2024-02-20", "100.00", "R-early"))
    ledger.execute(
        {
            "command": "refund",
            "loan_id": "L-0001",
            "on": "2024-02-21",
            "amount": "60.00",
            "reference": "F-1",
            "payee": payee,
        }
    )
    stored = b"".join(item.state for item in ledger.recorder.select_notifications(1, 1000))
    assert all(encoded not in stored for encoded in _encodings(payee))
    refunds = [
        f
        for f in ledger.archive("L-0001", unmasked=True)["facts"]
        if f["fact"] == "OverpaymentRefunded"
    ]
    assert [fact["data"]["payee"] for fact in refunds] == [payee]

    ledger.forget_borrower("B-1", actor="test")

    refunds = [
        f
        for f in ledger.archive("L-0001", unmasked=True)["facts"]
        if f["fact"] == "OverpaymentRefunded"
    ]
    assert [fact["data"]["payee"] for fact in refunds] == [ERASED]
    assert ledger.loan("L-0001", as_of="2024-02-21")["overpayment"] == "39.00"
    assert ledger.verify().ok


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_read_models_a_rebuild_drops_unzeroed_hold_no_personal_data(
    ledger: LoanLedger,
) -> None:
    """A rebuild drops a read model declared free of personal data (`Projection.personal_data`)
    without zeroing its pages; every row of its tables is scanned for the name, the id number
    and the payee, before any forgetting."""
    _book(ledger)
    secrets = [*_encodings(NAME), *_encodings(ID_NUMBER), *_encodings(THIRD_PARTY)]
    free = [p.name for p in ledger.projections.projections if not p.personal_data]
    assert "loan_state" in free
    tables = [
        str(row[0])
        for row in ledger.read_store.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        if any(str(row[0]).startswith(f"loanledger_{name}") for name in free)
    ]
    dump = bytearray()
    for table in tables:
        for row in ledger.read_store.query(f'SELECT * FROM "{table}"'):
            dump += repr(row).encode("utf-8") + "".join(map(str, row)).encode("utf-8")
    assert len(dump) > 10_000
    assert [secret for secret in secrets if secret in dump] == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_after_a_rebuild_a_forgetting_still_leaves_no_byte_in_the_sqlite_file(
    ledger: LoanLedger,
) -> None:
    """The rebuild turns zeroing off only around dropping such a read model: afterwards the
    connection zeroes again (the destroyed data key's row is overwritten), and nothing the
    rebuild dropped leaves the name, the id number or the payee behind."""
    _book(ledger)
    ledger.rebuild()
    ledger.report("notices", as_of=AS_OF)
    ledger.archive("L-0001", unmasked=True)
    assert ledger.read_store.query("PRAGMA secure_delete") == [(1,)]
    (wrapped,) = ledger.read_store.query(
        "SELECT wrapped FROM loanledger_data_keys WHERE subject = ?", ("borrower:B-1",)
    )[0]
    path = Path(ledger.settings.env["SQLITE_DBNAME"])
    secrets = [
        wrapped.encode("ascii"),
        *_encodings(NAME),
        *_encodings(ID_NUMBER),
        *_encodings(THIRD_PARTY),
    ]

    ledger.forget_borrower("B-1", actor="test")
    ledger.close()

    assert [secret for secret in secrets if secret in _sqlite_bytes(path)] == []
