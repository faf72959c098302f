"""CSV and XLSX exports neutralise cells a spreadsheet would evaluate (issue 24, OWASP's
CSV-injection rule), without changing the values the reports hold."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from loanledger.reports import formats
from loanledger.reports.arbitration import index_csv
from loanledger.reports.cells import is_risky, neutralised

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "-A1"]
NUMBERS = ["-12.50", "12.50", "+3", "0", "-0.01"]


@pytest.mark.parametrize("text", FORMULAS)
def test_a_cell_a_spreadsheet_would_evaluate_gets_a_single_quote_in_csv(text: str) -> None:
    assert is_risky(text)
    assert neutralised(text) == "'" + text


@pytest.mark.parametrize("text", [*NUMBERS, "L-0001", "张三", "", "a=b"])
def test_a_plain_number_or_text_is_written_as_it_is(text: str) -> None:
    assert not is_risky(text)
    assert neutralised(text) == text


def test_a_csv_export_quotes_formulas_but_keeps_numbers_and_the_rows_unchanged() -> None:
    rows = [{"name": '=HYPERLINK("http://x","y")', "amount": "-12.50", "note": "@SUM(A1)"}]
    text = formats.to_csv(rows)
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "amount", "note"],
        ['\'=HYPERLINK("http://x","y")', "-12.50", "'@SUM(A1)"],
    ]
    assert rows[0]["name"] == '=HYPERLINK("http://x","y")'


def test_an_xlsx_export_holds_formulas_as_quote_prefixed_strings_and_amounts_as_numbers(
    tmp_path: Path,
) -> None:
    rows = [{"name": '=HYPERLINK("http://x","y")', "amount": "-12.50", "days": 3}]
    path = tmp_path / "r.xlsx"
    formats.write_xlsx(rows, path)
    sheet = load_workbook(path).worksheets[0]
    name, amount, days = sheet[2]
    assert (name.value, name.data_type, name.quotePrefix) == (
        '=HYPERLINK("http://x","y")',
        "s",
        True,
    )
    assert (amount.value, amount.data_type, amount.number_format) == (-12.5, "n", "#,##0.00")
    assert (days.value, days.data_type) == (3, "n")
    assert formats.read_xlsx(path) == rows


def test_the_arbitration_index_quotes_formulas_too() -> None:
    row = {
        "loan_id": "L-0001",
        "borrower_id": "B-1",
        "principal_outstanding": "-1+1",
        "overdue_principal": "0.00",
        "overdue_interest": "0.00",
        "penalty_outstanding": "0.00",
        "days_past_due": 0,
        "notices_issued": 0,
        "notices_acknowledged": 0,
    }
    assert index_csv([row]).splitlines()[1] == "L-0001,B-1,'-1+1,0.00,0.00,0.00,0,0,0"
