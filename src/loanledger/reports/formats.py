"""Report rows (lists of JSON-ready dicts) as JSON, CSV, XLSX or a rich table.

Every format keeps the values exactly as the report gives them: amounts stay the strings with two
decimals (never floats), counts stay integers, a missing value is empty. In CSV and XLSX a list
(`warnings`, `classification_reasons`) is joined with `;`. The columns are the first row's keys in
their order. CSV and XLSX cells a spreadsheet would evaluate as a formula are neutralised (see
`cells.py`); JSON and tables show the values as they are.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from rich.table import Table

from loanledger.reports.cells import is_risky, neutralised

Format = Literal["table", "json", "csv", "xlsx"]
FORMATS: tuple[str, ...] = ("table", "json", "csv", "xlsx")

LIST_SEPARATOR = ";"
XLSX_SHEET_TITLE_LIMIT = 31
"""Excel refuses sheet titles longer than 31 characters."""

Rows = Sequence[dict[str, Any]]


def columns(rows: Rows) -> list[str]:
    """The header: the first row's keys, in order (none for no rows)."""
    return list(rows[0]) if rows else []


def cell_text(value: Any) -> str:
    """One value as CSV/table text: None empty, lists joined with `;`, booleans as in JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(cell_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def cell_value(value: Any) -> str | int | None:
    """One value as an XLSX cell: integers stay numbers, everything else is text as in CSV."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return cell_text(value)


def to_json(rows: Rows) -> str:
    return json.dumps(list(rows), ensure_ascii=False, indent=2)


def to_csv(rows: Rows) -> str:
    buffer = io.StringIO()
    header = columns(rows)
    if header:
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([neutralised(name) for name in header])
        for row in rows:
            writer.writerow([neutralised(cell_text(row.get(name))) for name in header])
    return buffer.getvalue()


def write_xlsx(rows: Rows, path: str | Path, title: str = "report") -> None:
    """One sheet named `title`: a bold, frozen header row, then one row per report row."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=False)
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:XLSX_SHEET_TITLE_LIMIT] or "report"
    header = columns(rows)
    if header:
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for row in rows:
            sheet.append([cell_value(row.get(name)) for name in header])
        _no_formulas(sheet)
        for index, name in enumerate(header, start=1):
            width = max([len(name), *(len(cell_text(row.get(name))) for row in rows[:200])])
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = min(60, width + 2)
    workbook.save(str(path))


def _no_formulas(sheet: Any) -> None:
    """Every text cell a string, never a formula (openpyxl takes a leading `=` for one), and
    the risky ones quote-prefixed, so Excel neither evaluates nor re-reads them as formulas."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and (cell.data_type == "f" or is_risky(cell.value)):
                cell.data_type = "s"
                cell.quotePrefix = True


def read_xlsx(path: str | Path) -> list[dict[str, Any]]:
    """The rows of the first sheet written by `write_xlsx`, keyed by the header."""
    from openpyxl import load_workbook

    workbook = load_workbook(str(path), read_only=True)
    try:
        sheet = workbook.worksheets[0]
        values = [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    if not values:
        return []
    header = [str(name) for name in values[0]]
    return [dict(zip(header, row, strict=True)) for row in values[1:]]


def to_table(rows: Rows, title: str | None = None) -> Table:
    """A rich table; numeric-looking columns (amounts, counts) are right-aligned."""
    table = Table(title=title, header_style="bold", show_lines=False)
    header = columns(rows)
    for name in header:
        numeric = all(_looks_numeric(row.get(name)) for row in rows)
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(cell_text(row.get(name)) for name in header))
    if not header:
        table.add_column("(no rows)")
    return table


def key_value_table(record: dict[str, Any], title: str | None = None) -> Table:
    """One record (a loan view) as a two-column field/value table."""
    table = Table(title=title, header_style="bold")
    table.add_column("field")
    table.add_column("value")
    for name, value in record.items():
        table.add_row(name, cell_text(value))
    return table


def _looks_numeric(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return value is None
    if isinstance(value, int):
        return True
    if isinstance(value, str):
        text = value[1:] if value.startswith("-") else value
        return text.replace(".", "", 1).isdigit()
    return False


def render(rows: Rows, fmt: str) -> str:
    """JSON or CSV text of `rows` (table and xlsx are written by the caller)."""
    if fmt == "json":
        return to_json(rows)
    if fmt == "csv":
        return to_csv(rows)
    raise ValueError(f"format {fmt!r} is not text")
