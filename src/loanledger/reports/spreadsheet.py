"""Report rows as an XLSX workbook a person can compute with, and that reproduces byte for byte.

One sheet: a title block (book, report, as of, known at, rule set: whatever the caller says the
rows are), a blank row, the bold header, the rows and, for a summary, a bold totals row. Values
are typed: an amount (a two-decimal string in the report) is a number formatted `#,##0.00`, a
ratio (four decimals) a number formatted `0.00%`, an ISO date a date formatted `yyyy-mm-dd`, a
count a number; everything else is text, and text a spreadsheet would evaluate is neutralised
(`cells.py`). The header row is frozen (with the title block above it) and carries an autofilter
over the rows (the totals row stays out of it).

A spreadsheet holds numbers as binary floating point: the report's exact decimal is what is
written (the XML holds its digits), and `read_xlsx` gives the report's strings back, but the
exact record stays the JSON and CSV, which keep every value as the report's text.

The bytes are fixed by the content: the workbook's created and modified times are `FIXED_TIME`
and every member of the zip is dated `ZIP_TIME`, so the same rows with the same title block give
the same file, and a report asked again as of the same date and known-at moment reproduces it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, Any

from loanledger.reports.cells import is_risky
from loanledger.reports.totals import kind_of, totals_row

SHEET_TITLE_LIMIT = 31
"""Excel refuses sheet titles longer than 31 characters."""
AMOUNT_FORMAT = "#,##0.00"
RATIO_FORMAT = "0.00%"
COUNT_FORMAT = "#,##0"
DATE_FORMAT = "yyyy-mm-dd"
FIXED_TIME = datetime(2000, 1, 1)
"""The workbook's created and modified time (its metadata says nothing about when it was
written, so that two exports of one report are the same bytes)."""
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""The date of every zip member (the earliest a zip can hold)."""
LIST_SEPARATOR = ";"
MAX_WIDTH = 60

_CORE_TIME = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")

Rows = Sequence[dict[str, Any]]


def cell_text(value: Any) -> str:
    """One value as text: None empty, lists joined with `;`, booleans as in JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(cell_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def typed(value: Any) -> tuple[Any, str | None]:
    """One report value as a cell value and its number format (None: as it is)."""
    kind = kind_of(value)
    if kind == "amount":
        return Decimal(value), AMOUNT_FORMAT
    if kind == "ratio":
        return Decimal(value), RATIO_FORMAT
    if kind == "date":
        try:
            return date.fromisoformat(value), DATE_FORMAT
        except ValueError:
            return value, None
    if kind == "integer":
        return value, COUNT_FORMAT
    if value is None:
        return None, None
    return cell_text(value), None


def write_xlsx(
    rows: Rows,
    path: str | Path,
    title: str = "report",
    *,
    about: Mapping[str, str] | None = None,
    totals: bool = False,
) -> None:
    """Write `rows` to `path` as described in the module docstring. `about` is the title block
    (label: value, in order); `totals` adds the totals row."""
    Path(path).write_bytes(xlsx_bytes(rows, title, about=about, totals=totals))


def xlsx_bytes(
    rows: Rows,
    title: str = "report",
    *,
    about: Mapping[str, str] | None = None,
    totals: bool = False,
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    workbook.properties.created = FIXED_TIME
    workbook.properties.modified = FIXED_TIME
    workbook.properties.creator = "loanledger"
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:SHEET_TITLE_LIMIT] or "report"
    bold = Font(bold=True)
    line = 0
    for label, text in (about or {}).items():
        line += 1
        sheet.cell(row=line, column=1, value=label).font = bold
        sheet.cell(row=line, column=2, value=text)
    header = list(rows[0]) if rows else []
    if about:
        line += 1  # the blank row between the title block and the table
    top = line + 1
    for column, name in enumerate(header, start=1):
        sheet.cell(row=top, column=column, value=name).font = bold
    for offset, row in enumerate(rows, start=1):
        _write_row(sheet, top + offset, header, row)
    last = top + len(rows)
    if header:
        sheet.freeze_panes = f"A{top + 1}"
        sheet.auto_filter.ref = f"A{top}:{get_column_letter(len(header))}{last}"
    if totals and rows:
        _write_row(sheet, last + 1, header, totals_row(rows), font=bold)
    for column, name in enumerate(header, start=1):
        longest = max([len(name), *(len(cell_text(row.get(name))) + 3 for row in rows[:200])])
        sheet.column_dimensions[get_column_letter(column)].width = min(MAX_WIDTH, longest + 2)
    if about:
        sheet.column_dimensions["A"].width = max(
            sheet.column_dimensions["A"].width or 0, *(len(label) + 2 for label in about)
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _fixed_zip(buffer.getvalue())


def _write_row(
    sheet: Any, number: int, header: list[str], row: Mapping[str, Any], font: Any = None
) -> None:
    for column, name in enumerate(header, start=1):
        value, number_format = typed(row.get(name))
        cell = sheet.cell(row=number, column=column, value=value)
        if number_format is not None:
            cell.number_format = number_format
        elif isinstance(value, str) and (cell.data_type == "f" or is_risky(value)):
            # Text, never a formula (openpyxl takes a leading `=` for one), and the risky
            # ones quote-prefixed, so a spreadsheet neither evaluates nor re-reads them.
            cell.data_type = "s"
            cell.quotePrefix = True
        if font is not None:
            cell.font = font


def _fixed_zip(data: bytes) -> bytes:
    """The workbook's zip with every member dated `ZIP_TIME` and the metadata's times fixed."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            content = source.read(member.filename)
            if member.filename == "docProps/core.xml":
                stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode("ascii")
                content = _CORE_TIME.sub(rb"\g<1>" + stamp + rb"\g<3>", content)
            info = zipfile.ZipInfo(member.filename, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            target.writestr(info, content)
    return out.getvalue()


def read_xlsx(path: str | Path | IO[bytes]) -> list[dict[str, Any]]:
    """The rows of the first sheet written by `write_xlsx`, keyed by the header, with the
    report's values back: amounts and ratios as their decimal strings, dates as ISO strings
    (the title block and the totals row are left out)."""
    from openpyxl import load_workbook

    workbook = load_workbook(str(path) if isinstance(path, str | Path) else path)
    try:
        sheet = workbook.worksheets[0]
        reference = sheet.auto_filter.ref
        if reference:
            first, last = (int(re.sub(r"[A-Z]+", "", part)) for part in reference.split(":"))
        else:
            first, last = 1, sheet.max_row
        grid = list(sheet.iter_rows(min_row=first, max_row=last))
    finally:
        workbook.close()
    if not grid:
        return []
    header = [str(cell.value) for cell in grid[0]]
    return [
        {name: _report_value(cell) for name, cell in zip(header, row, strict=True)}
        for row in grid[1:]
    ]


def _report_value(cell: Any) -> Any:
    value = cell.value
    if value is None or isinstance(value, bool):
        return value
    # The float a spreadsheet hands back is the nearest to the decimal written; its shortest
    # repr is that decimal's digits, re-quantised (nothing to round: HALF_UP named anyway).
    if cell.number_format == AMOUNT_FORMAT:
        return str(Decimal(repr(value)).quantize(Decimal("0.01"), ROUND_HALF_UP))
    if cell.number_format == RATIO_FORMAT:
        return str(Decimal(repr(value)).quantize(Decimal("0.0001"), ROUND_HALF_UP))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
