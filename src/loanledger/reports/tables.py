"""Report rows as tables a person reads on a terminal.

Amounts get thousands separators (`1,234,567.89`) and, like every number, are right-aligned;
summaries end with a totals row (`totals.TOTAL_REPORTS`). A table never wraps an identifier, a
date or an amount: when it is wider than the terminal, the headers break at their underscores
first, and if it is still too wide its columns are split over several tables, each repeating the
first column (the loan id, the account, the bucket...), so every table fits. Only long free text
wraps. The values themselves are the report's; only how they are shown changes, and cells are
plain text (never rich markup, so `[erased]` stays `[erased]`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text

from loanledger.reports.totals import Kind, column_kind, kind_of, totals_row

DEFAULT_WIDTH = 80
NO_WRAP_UP_TO = 24
"""Values up to this long (identifiers, dates, amounts, statuses) are never wrapped."""
WRAP_TO = 30
"""Longer text wraps; for fitting a table it counts as this wide."""
LIST_SEPARATOR = ";"

Rows = Sequence[dict[str, Any]]


def shown(value: Any) -> str:
    """One value as a person reads it: amounts and counts with thousands separators, None
    empty, booleans as yes/no, lists joined with `;`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    kind = kind_of(value)
    if kind == "amount":
        return f"{Decimal(value):,.2f}"
    if kind == "integer":
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(shown(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _right(kind: Kind) -> bool:
    return kind in ("amount", "ratio", "integer")


def _value_width(rows: Rows, name: str) -> int:
    return max([len(shown(row.get(name))) for row in rows] or [0])


def _header(name: str, split: bool, value_width: int) -> str:
    """The header, broken at its underscores when asked to and when it is wider than the
    column's values (a short id column keeps `loan_id` whole)."""
    return name.replace("_", "_\n") if split and len(name) > value_width else name


def _widths(rows: Rows, header: list[str], split: bool) -> dict[str, int]:
    """Each column's width for fitting: its longest header line or value, long text counted
    at `WRAP_TO` (it wraps)."""
    widths: dict[str, int] = {}
    for name in header:
        values = _value_width(rows, name)
        lines = _header(name, split, values).split("\n")
        natural = max([*(len(line) for line in lines), values, 1])
        widths[name] = natural if values <= NO_WRAP_UP_TO else min(natural, WRAP_TO)
    return widths


def _table_width(widths: Sequence[int]) -> int:
    """A rich table's width for these column widths: `│ x │ y │`."""
    return sum(widths) + 3 * len(widths) + 1


def _pages(header: list[str], widths: dict[str, int], width: int) -> list[list[str]]:
    """The columns split into tables that fit `width`, each starting with the first column."""
    if len(header) < 2 or _table_width(list(widths.values())) <= width:
        return [header]
    key, rest = header[0], header[1:]
    pages: list[list[str]] = []
    page: list[str] = [key]
    for name in rest:
        if len(page) > 1 and _table_width([widths[column] for column in [*page, name]]) > width:
            pages.append(page)
            page = [key]
        page.append(name)
    pages.append(page)
    return pages


def to_tables(
    rows: Rows, title: str | None = None, *, width: int = DEFAULT_WIDTH, totals: bool = False
) -> list[Table]:
    """`rows` as one table, or as several (columns split) when one would not fit `width`."""
    header = list(rows[0]) if rows else []
    if not header:
        table = Table(title=title, header_style="bold")
        table.add_column("(no rows)")
        return [table]
    body = list(rows)
    total = totals_row(body) if totals and body else None
    measured = [*body, total] if total else body
    split = _table_width(list(_widths(measured, header, False).values())) > width
    widths = _widths(measured, header, split)
    pages = _pages(header, widths, width)
    tables: list[Table] = []
    for number, page in enumerate(pages, start=1):
        part = title
        if len(pages) > 1:
            part = f"{title or ''} ({number} of {len(pages)})".strip()
        table = Table(title=part, header_style="bold")
        for name in page:
            kind = column_kind(body, name)
            short = _value_width(measured, name) <= NO_WRAP_UP_TO
            table.add_column(
                _header(name, split, _value_width(measured, name)),
                justify="right" if _right(kind) else "left",
                no_wrap=short,
                min_width=widths[name] if short else None,
                overflow="fold",
            )
        for index, row in enumerate(body):
            last = index == len(body) - 1
            table.add_row(*(Text(shown(row.get(name))) for name in page), end_section=last)
        if total:
            table.add_row(*(Text(shown(total.get(name))) for name in page), style="bold")
        tables.append(table)
    return tables


def key_value_table(record: dict[str, Any], title: str | None = None) -> Table:
    """One record (a loan view, a payoff quote) as a two-column field/value table; amounts and
    counts right-aligned with separators."""
    table = Table(title=title, header_style="bold")
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in record.items():
        justify: JustifyMethod = "right" if _right(kind_of(value)) else "left"
        table.add_row(Text(name), Text(shown(value), justify=justify))
    return table
