"""Reports as spreadsheets a person computes with: typed cells with formats, a frozen header
with a filter, a totals row for summaries, a title block, and the same bytes every time."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from loanledger.reports import formats
from loanledger.reports.spreadsheet import FIXED_TIME, ZIP_TIME, xlsx_bytes

AGING = [
    {"bucket": "M0", "loans": 7, "principal_outstanding": "1119248.89", "overdue_amount": "0.00"},
    {
        "bucket": "M1",
        "loans": 1,
        "principal_outstanding": "216865.23",
        "overdue_amount": "216865.23",
    },
    {
        "bucket": "M7+",
        "loans": 1,
        "principal_outstanding": "24056.39",
        "overdue_amount": "24465.45",
    },
]
ABOUT = {
    "book": "sqlite:///books.db",
    "report": "aging",
    "as of": "2025-06-30",
    "known at": "2025-07-01T00:00:00+00:00",
    "rule set": "CN-2023",
}


def test_a_summary_has_a_title_block_a_frozen_filtered_header_and_a_totals_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "aging.xlsx"
    formats.write_xlsx(AGING, path, title="aging", about=ABOUT, totals=True)
    sheet = load_workbook(path).worksheets[0]

    assert [(row[0].value, row[1].value) for row in sheet.iter_rows(max_row=5)] == list(
        ABOUT.items()
    )
    assert [cell.value for cell in sheet[6]] == [None] * 4
    assert [cell.value for cell in sheet[7]] == list(AGING[0])
    assert all(cell.font.bold for cell in sheet[7])
    assert sheet.freeze_panes == "A8"
    assert sheet.auto_filter.ref == "A7:D10"
    assert [cell.value for cell in sheet[11]] == ["total", 9, 1360170.51, 241330.68]
    assert all(cell.font.bold for cell in sheet[11])
    assert formats.read_xlsx(path) == AGING


def test_amounts_ratios_dates_and_counts_are_numbers_and_dates_with_formats(
    tmp_path: Path,
) -> None:
    rows = [
        {
            "loan_id": "L-00001",
            "principal_outstanding": "1234567.89",
            "ltv": "0.6543",
            "maturity_date": "2026-01-15",
            "days_past_due": 446,
            "warnings": ["days_past_due", "ltv_breach"],
            "note": None,
        }
    ]
    path = tmp_path / "ledger.xlsx"
    formats.write_xlsx(rows, path)
    sheet = load_workbook(path).worksheets[0]
    loan, amount, ltv, maturity, days, warnings, note = sheet[2]

    assert (loan.value, loan.data_type) == ("L-00001", "s")
    assert (amount.value, amount.data_type, amount.number_format) == (1234567.89, "n", "#,##0.00")
    assert (ltv.value, ltv.data_type, ltv.number_format) == (0.6543, "n", "0.00%")
    assert (maturity.value, maturity.number_format) == (datetime(2026, 1, 15), "yyyy-mm-dd")
    assert (days.value, days.number_format) == (446, "#,##0")
    assert warnings.value == "days_past_due;ltv_breach"
    assert note.value is None
    assert formats.read_xlsx(path) == [{**rows[0], "warnings": "days_past_due;ltv_breach"}]


def test_two_exports_of_the_same_report_are_the_same_bytes_with_fixed_metadata() -> None:
    first = xlsx_bytes(AGING, "aging", about=ABOUT, totals=True)
    second = xlsx_bytes(AGING, "aging", about=ABOUT, totals=True)

    assert first == second
    archive = zipfile.ZipFile(io.BytesIO(first))
    assert {member.date_time for member in archive.infolist()} == {ZIP_TIME}
    core = archive.read("docProps/core.xml").decode()
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f">{stamp}</dcterms:created>" in core and f">{stamp}</dcterms:modified>" in core
    assert xlsx_bytes(AGING[:2], "aging", about=ABOUT, totals=True) != first


@settings(max_examples=20)
@given(
    st.lists(
        st.decimals(min_value=0, max_value=Decimal("9999999999999.99"), places=2),
        min_size=1,
        max_size=20,
    ),
    st.lists(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)), min_size=1),
)
def test_every_amount_and_date_reads_back_as_the_report_wrote_it(
    amounts: list[Decimal], dates: list[date]
) -> None:
    rows = [
        {"n": index, "amount": f"{amount:.2f}", "on": dates[index % len(dates)].isoformat()}
        for index, amount in enumerate(amounts)
    ]
    assert formats.read_xlsx(io.BytesIO(xlsx_bytes(rows, "r", totals=True))) == rows
