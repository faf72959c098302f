"""`load(path, workers=N)` equals the single-process load: the same events in the same global
order (recorded times aside: each process reads its own clock), the same reports and verify,
the same `line N:` refusal with the lines before it applied, and references that stay
idempotent (a journal of repayments loaded twice records nothing the second time)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.application.partitioned import local_cluster
from loanledger.domain.errors import DomainError, OverDisbursementError
from loanledger.persistence.chain import unseal
from tests.integration.test_partitioned_rebuild import many_loans
from tests.journal import disburse, lines, repay

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.postgres

REPORTS = ("loan_ledger", "five_category", "aging", "notices", "trial_balance")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with local_cluster(2) as local:
        yield local


@pytest.fixture
def two_books(postgres_url: str) -> Iterator[tuple[LoanLedger, LoanLedger]]:
    serial = LoanLedger.open(f"{postgres_url}?schema=ls_{uuid.uuid4().hex[:12]}")
    parallel = LoanLedger.open(f"{postgres_url}?schema=lp_{uuid.uuid4().hex[:12]}")
    try:
        yield serial, parallel
    finally:
        serial.close()
        parallel.close()


def journal() -> list[dict[str, Any]]:
    """Twelve loans, a close of day in the middle, and an over-disbursement (refused) halfway
    through the second stretch, with other loans' lines after it."""
    first = many_loans(12)
    second = [repay(f"L-{n:04d}", "2024-11-15", "1032.80", "R-11") for n in range(0, 12, 2)]
    second.insert(3, disburse("L-0005", "2024-11-16", "900000.00", reference="D-9"))
    return [*first, {"command": "close_day", "on": "2024-10-31"}, *second]


def log(ledger: LoanLedger) -> list[tuple[str, int, str, dict[str, Any]]]:
    """Every stored event in log order: loan, version, topic and body without its recorded time
    and sealed personal data (each store seals with its own keys; `names` compares it open)."""
    rows = []
    for item in ledger.recorder.select_notifications(1, 100_000):
        body = json.loads(unseal(item.state)[1])
        body.pop("timestamp", None)
        body.pop("personal_data", None)
        rows.append((str(item.originator_id), item.originator_version, item.topic, body))
    return rows


def names(ledger: LoanLedger) -> list[Any]:
    loans = [ledger._get(f"L-{n:04d}") for n in range(12)]
    return [loan.application.borrower.name if loan.application else None for loan in loans]


def reports(ledger: LoanLedger) -> list[Any]:
    return [ledger.report(name, as_of="2024-12-31") for name in REPORTS]


def test_a_parallel_load_equals_the_serial_load_up_to_the_same_refused_line(
    two_books: tuple[LoanLedger, LoanLedger], cluster: Any, tmp_path: Path
) -> None:
    serial, parallel = two_books
    path = tmp_path / "book.jsonl"
    path.write_text("\n".join(lines(journal())) + "\n", encoding="utf-8")
    refused = len(many_loans(12)) + 1 + 4  # the close of day, then the fourth line after it

    with pytest.raises(OverDisbursementError) as serially:
        serial.load(path)
    with pytest.raises(OverDisbursementError) as in_parallel:
        parallel.load(path, workers=2, scheduler=cluster.scheduler_address)

    assert str(in_parallel.value) == str(serially.value)
    assert str(in_parallel.value).startswith(f"line {refused}: ")
    assert log(parallel) == log(serial)
    assert names(parallel) == names(serial) == ["张三"] * 12
    assert reports(parallel) == reports(serial)
    assert parallel.verify() == serial.verify()
    assert parallel.verify().ok


def test_a_journal_of_repayments_loaded_again_in_parallel_records_nothing_more(
    two_books: tuple[LoanLedger, LoanLedger], cluster: Any, tmp_path: Path
) -> None:
    _, ledger = two_books
    book = tmp_path / "book.jsonl"
    book.write_text("\n".join(lines(many_loans(6))) + "\n", encoding="utf-8")
    ledger.load(book, workers=2)
    payments = tmp_path / "payments.jsonl"
    payments.write_text(
        "\n".join(lines([repay(f"L-{n:04d}", "2024-09-15", "1032.80", "R-9") for n in range(6)])),
        encoding="utf-8",
    )

    first = ledger.load(payments, workers=3, scheduler=cluster.scheduler_address)
    events = ledger.recorder.max_notification_id()
    again = ledger.load(payments, workers=3, scheduler=cluster.scheduler_address)

    assert first == again == {"applied": 6}
    assert ledger.recorder.max_notification_id() == events


def test_a_malformed_loan_line_stops_a_parallel_load_as_it_stops_the_serial_one(
    two_books: tuple[LoanLedger, LoanLedger], cluster: Any, tmp_path: Path
) -> None:
    serial, parallel = two_books
    commands = many_loans(6)
    commands.insert(30, {**repay("L-0004", "2024-03-15", "12.00", "R-X"), "amount": "12.001x"})
    path = tmp_path / "book.jsonl"
    path.write_text("\n".join(lines(commands)) + "\n", encoding="utf-8")

    with pytest.raises(DomainError) as serially:
        serial.load(path)
    with pytest.raises(DomainError) as in_parallel:
        parallel.load(path, workers=2, scheduler=cluster.scheduler_address)

    assert type(in_parallel.value) is type(serially.value)
    assert str(in_parallel.value) == str(serially.value)
    assert str(in_parallel.value).startswith("line 31: ")
    assert log(parallel) == log(serial)
