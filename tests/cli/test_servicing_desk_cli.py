"""`loanledger installments`, `statement` and `preview` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import book, events_recorded, invoke, write_journal
from tests.journal import repay


@pytest.fixture
def loaded(tmp_path: Path) -> str:
    """The CLI tests' two-loan book (L-0001 repaid once on 2024-02-15), loaded into SQLite."""
    db = f"sqlite:///{tmp_path}/ledger.db"
    result = invoke("load", str(write_journal(tmp_path / "book.jsonl", book())), "--db", db)
    assert result.exit_code == 0, result.stderr
    return db


def test_installments_prints_each_installment_with_its_status_as_json(loaded: str) -> None:
    result = invoke("installments", "L-0001", "--as-of", "2024-03-20", "-f", "json", "--db", loaded)
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(row["number"], row["status"], row["paid_on"]) for row in rows[:3]] == [
        (1, "paid", "2024-02-15"),
        (2, "overdue", None),
        (3, "due", None),
    ]


def test_statement_prints_opening_movements_and_closing_as_json(loaded: str) -> None:
    result = invoke(
        "statement",
        "L-0001",
        "--from",
        "2024-01-01",
        "--to",
        "2024-02-29",
        "-f",
        "json",
        "--db",
        loaded,
    )
    assert result.exit_code == 0, result.stderr
    statement = json.loads(result.stdout)
    assert [(m["kind"], m["amount"]) for m in statement["movements"]] == [
        ("disbursement", "12000.00"),
        ("repayment", "1032.80"),
    ]
    assert statement["closing"]["principal_outstanding"] == "11027.20"


def test_statement_as_a_table_names_its_parts(loaded: str) -> None:
    result = invoke(
        "statement", "L-0001", "--from", "2024-01-01", "--to", "2024-02-29", "--db", loaded
    )
    assert result.exit_code == 0, result.stderr
    assert "opening" in result.stdout and "movements" in result.stdout
    assert "closing" in result.stdout


def test_preview_prints_before_and_after_and_records_nothing(tmp_path: Path, loaded: str) -> None:
    recorded = events_recorded(loaded)
    journal = write_journal(
        tmp_path / "what-if.jsonl",
        [repay("L-0001", "2024-03-20", "5000.00", "R-9", prepay=True)],
    )
    result = invoke("preview", str(journal), "-f", "json", "--db", loaded)
    assert result.exit_code == 0, result.stderr
    sides = json.loads(result.stdout)["loans"]["L-0001"]
    assert sides["before"]["loan"]["principal_outstanding"] == "11027.20"
    assert sides["after"]["loan"]["principal_outstanding"] == "6091.74"
    table = invoke("preview", str(journal), "--db", loaded)
    assert table.exit_code == 0, table.stderr
    assert "11,027.20" in table.stdout and "6,091.74" in table.stdout
    assert "nothing recorded (preview)" in table.stdout
    assert events_recorded(loaded) == recorded


def test_preview_names_the_line_of_a_malformed_command(tmp_path: Path, loaded: str) -> None:
    journal = tmp_path / "bad.jsonl"
    journal.write_text('{"command": "repay"\n', encoding="utf-8")
    result = invoke("preview", str(journal), "--db", loaded)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: line 1:")


def test_explain_prints_the_figure_its_rule_parts_and_facts_as_a_tree(loaded: str) -> None:
    result = invoke(
        "explain", "L-0001", "overdue_interest", "--as-of", "2024-04-20", "--db", loaded
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "overdue_interest of L-0001 as of 2024-04-20: 105.39"
    assert lines[2] == "  parts:"
    assert lines[3].startswith("    installment 2: installment=2, due_date=2024-03-15")
    assert any(line.startswith("    v5 LoanDisbursed effective 2024-01-15") for line in lines)


def test_explain_of_an_unknown_field_exits_2_naming_the_fields(loaded: str) -> None:
    result = invoke("explain", "L-0001", "colour", "--as-of", "2024-04-20", "--db", loaded)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: explain: unknown field 'colour'; fields: bucket,")


def test_payoff_prints_the_amount_that_settles_the_loan_and_paying_it_settles_it(
    tmp_path: Path, loaded: str
) -> None:
    result = invoke("payoff", "L-0001", "--on", "2024-03-20", "-f", "json", "--db", loaded)
    assert result.exit_code == 0, result.stderr
    quote = json.loads(result.stdout)
    assert (quote["loan_id"], quote["on"], quote["held"]) == ("L-0001", "2024-03-20", "0.00")
    journal = write_journal(
        tmp_path / "payoff.jsonl",
        [repay("L-0001", "2024-03-20", quote["total"], "R-payoff", prepay=True)],
    )
    assert invoke("load", str(journal), "--db", loaded).exit_code == 0
    after = invoke("payoff", "L-0001", "--on", "2024-03-20", "-f", "json", "--db", loaded)
    assert json.loads(after.stdout)["total"] == "0.00"
    view = invoke("loan", "L-0001", "--as-of", "2024-03-20", "-f", "json", "--db", loaded)
    assert json.loads(view.stdout)["principal_outstanding"] == "0.00"
