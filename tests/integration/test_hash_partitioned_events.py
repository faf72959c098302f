"""The core flows on an events table laid out for Citus — here its plain-PostgreSQL stand-in,
`PARTITION BY HASH (originator_id)` — give what they give on the plain table: loading a
journal (serially and in parallel), closing days, reports, the loan view, verify, checkpoints
and inclusion proofs, and the rebuild (serially and in partitions); and the events really are
spread over the partitions by loan. Migration 0012 on a server without citus changes nothing
and says so."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from loanledger import LoanLedger
from loanledger.persistence.citus import hash_partitioned_events
from loanledger.persistence.migrate import migrate
from loanledger.persistence.urls import parse_store_url
from loanledger.proof import check_inclusion
from tests.integration.test_partitioned_rebuild import close_and_acknowledge, dump, many_loans
from tests.journal import lines

pytestmark = pytest.mark.postgres

PARTITIONS = 4


def flows(ledger: LoanLedger, journal: Path) -> dict[str, Any]:
    """Load (in parallel: bulk COPY), close days and record commands (the recorder's insert),
    report, view, prove, verify, rebuild (serially and in partitions): what each flow gives."""
    ledger.load(journal, workers=2)
    close_and_acknowledge(ledger)
    seen: dict[str, Any] = {
        name: ledger.report(name, as_of="2024-09-30")
        for name in ("loan_ledger", "aging", "notices", "trial_balance", "five_category")
    }
    seen["view"] = ledger.loan("L-0003", as_of="2024-09-30")
    checkpoint = ledger.checkpoint()
    proof = ledger.prove("L-0004", checkpoint)
    seen["proof_ok"] = check_inclusion(proof, checkpoint)
    seen["tree_size"] = checkpoint["tree_size"]
    verified = ledger.verify()
    seen["verify"] = (verified.ok, verified.loans_checked, verified.events_checked)
    ledger.rebuild()
    seen["rebuilt"] = dump(ledger)
    ledger.rebuild(workers=2)
    assert dump(ledger) == seen["rebuilt"]
    return seen


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "book.jsonl"
    path.write_text("\n".join(lines(many_loans(8))) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def plain_and_partitioned(postgres_url: str) -> Iterator[tuple[str, str]]:
    """Two DBA-managed stores (migrated, opened with create_tables=false), the second with its
    events table hash-partitioned."""
    plain = f"{postgres_url}?schema=hp_{uuid.uuid4().hex[:12]}&create_tables=false"
    partitioned = f"{postgres_url}?schema=hh_{uuid.uuid4().hex[:12]}&create_tables=false"
    migrate(plain)
    hash_partitioned_events(partitioned, PARTITIONS)
    yield plain, partitioned


def comparable(seen: dict[str, Any]) -> dict[str, Any]:
    """Without what differs between any two stores: recorded times and sealed bytes."""
    kept = dict(seen)
    kept["rebuilt"] = {
        table: len(rows) for table, rows in seen["rebuilt"].items()
    }  # segment rows name recorded times
    return kept


def test_the_core_flows_on_hash_partitioned_events_give_what_they_give_on_the_plain_table(
    plain_and_partitioned: tuple[str, str], journal: Path
) -> None:
    plain_url, partitioned_url = plain_and_partitioned
    results = []
    for url in (plain_url, partitioned_url):
        ledger = LoanLedger.open(url)
        try:
            results.append(flows(ledger, journal))
        finally:
            ledger.close()
    plain, partitioned = results

    assert comparable(partitioned) == comparable(plain)
    assert partitioned["proof_ok"] is True and partitioned["verify"][0] is True
    settings = parse_store_url(partitioned_url)
    schema = settings.env["POSTGRES_SCHEMA"]
    with psycopg.connect(**settings.postgres_connection()) as connection:
        spread = connection.execute(
            "SELECT c.relname, count(DISTINCT e.originator_id) "
            f'FROM "{schema}".loanledger_events AS e '
            "JOIN pg_class AS c ON c.oid = e.tableoid GROUP BY c.relname ORDER BY c.relname"
        ).fetchall()
        kind = connection.execute(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = 'loanledger_events'",
            (schema,),
        ).fetchone()
    assert kind == ("p",)  # a partitioned table
    assert len(spread) == PARTITIONS  # every partition holds loans
    assert sum(loans for _, loans in spread) >= 8  # each loan in one partition only


def test_migration_0012_without_citus_leaves_the_events_table_and_says_why(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"{postgres_url}?schema=hc_{uuid.uuid4().hex[:12]}"
    with caplog.at_level(logging.WARNING, logger="loanledger.persistence.migrate"):
        applied = migrate(url)

    assert applied[-1] == "0012_citus.sql"
    assert any(
        "the citus extension is not installed in this database" in message
        and "SELECT loanledger_distribute_events()" in message
        for message in caplog.messages
    )
