"""Report rows (lists of JSON-ready dicts) as JSON, CSV, XLSX or a terminal table.

JSON and CSV keep the values exactly as the report gives them: amounts stay the strings with two
decimals (never floats), counts stay integers, a missing value is empty; in CSV a list
(`warnings`, `classification_reasons`) is joined with `;`. The columns are the first row's keys in
their order. XLSX types its cells (numbers with formats, dates as dates, `spreadsheet.py`) and
terminal tables show amounts with separators and totals (`tables.py`); both keep the values.
CSV and XLSX cells a spreadsheet would evaluate as a formula are neutralised (see `cells.py`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, Literal

from rich.console import Group, RenderableType

from loanledger.reports.cells import neutralised
from loanledger.reports.spreadsheet import cell_text, read_xlsx, typed, write_xlsx
from loanledger.reports.tables import DEFAULT_WIDTH, key_value_table, to_tables
from loanledger.reports.totals import TOTAL_REPORTS

Format = Literal["table", "json", "csv", "xlsx"]
FORMATS: tuple[str, ...] = ("table", "json", "csv", "xlsx")

LIST_SEPARATOR = ";"

__all__ = [
    "FORMATS",
    "TOTAL_REPORTS",
    "cell_text",
    "cell_value",
    "columns",
    "key_value_table",
    "read_xlsx",
    "render",
    "to_csv",
    "to_json",
    "to_table",
    "write_xlsx",
]

Rows = Sequence[dict[str, Any]]


def columns(rows: Rows) -> list[str]:
    """The header: the first row's keys, in order (none for no rows)."""
    return list(rows[0]) if rows else []


def cell_value(value: Any) -> Any:
    """One value as an XLSX cell value (amounts, ratios, dates and counts typed)."""
    return typed(value)[0]


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


def to_table(
    rows: Rows, title: str | None = None, *, width: int = DEFAULT_WIDTH, totals: bool = False
) -> RenderableType:
    """The rows as terminal tables (`tables.to_tables`): one, or several when too wide."""
    found = to_tables(rows, title, width=width, totals=totals)
    return found[0] if len(found) == 1 else Group(*found)


def render(rows: Rows, fmt: str) -> str:
    """JSON or CSV text of `rows` (table and xlsx are written by the caller)."""
    if fmt == "json":
        return to_json(rows)
    if fmt == "csv":
        return to_csv(rows)
    raise ValueError(f"format {fmt!r} is not text")
