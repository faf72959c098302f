"""What kind of value a report cell holds, and the totals row of a summary.

Reports give amounts as strings with exactly two decimals, ratios as strings with four, dates as
ISO `YYYY-MM-DD` strings and counts as integers (`amounts.py`). The terminal table and the
spreadsheet show each kind its own way (separators, percentages, real dates), so both ask here.
A totals row adds up the amount columns and the counts of loans, exactly, in `Decimal`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

Kind = Literal["amount", "ratio", "date", "integer", "text"]

TOTAL_REPORTS: tuple[str, ...] = ("five_category", "aging", "ifrs9_stages", "trial_balance")
"""Reports that end with a totals row (in a table and a spreadsheet): the portfolio summaries,
whose rows partition the book, and the trial balance, whose debits equal its credits."""

COUNT_COLUMNS: tuple[str, ...] = ("loans",)
"""Integer columns that are counts and so add up (others, such as a stage, are labels)."""

TOTAL_LABEL = "total"

_AMOUNT = re.compile(r"-?(0|[1-9]\d{0,17})\.\d\d")
_RATIO = re.compile(r"-?(0|[1-9]\d{0,17})\.\d{4}")
"""As `amounts.py` writes them: no leading zeros, so an identifier such as `007.10` (a valid
reference) is never taken for a number and changed by a round trip."""
_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def kind_of(value: Any) -> Kind:
    """The kind of one report value."""
    if isinstance(value, bool) or value is None:
        return "text"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, str):
        if _AMOUNT.fullmatch(value):
            return "amount"
        if _RATIO.fullmatch(value):
            return "ratio"
        if _DATE.fullmatch(value):
            return "date"
    return "text"


def column_kind(rows: Sequence[dict[str, Any]], name: str) -> Kind:
    """The kind every non-empty value of a column shares, else `text`."""
    kinds = {kind_of(row.get(name)) for row in rows if row.get(name) is not None}
    return kinds.pop() if len(kinds) == 1 else "text"


def totals_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The totals of `rows`: `total` in the first column, each amount column's exact sum (two
    decimals, as the report writes amounts), each count column's sum, and nothing elsewhere."""
    header = list(rows[0]) if rows else []
    total: dict[str, Any] = {name: None for name in header}
    for index, name in enumerate(header):
        kind = column_kind(rows, name)
        if index == 0:
            total[name] = TOTAL_LABEL
        elif kind == "amount":
            amounts = (Decimal(row[name]) for row in rows if row.get(name) is not None)
            total[name] = f"{sum(amounts, Decimal(0)):.2f}"
        elif kind == "integer" and name in COUNT_COLUMNS:
            total[name] = sum(int(row[name]) for row in rows if row.get(name) is not None)
    return total
