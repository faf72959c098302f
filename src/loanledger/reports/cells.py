"""Export cells a spreadsheet would evaluate are neutralised (OWASP's CSV-injection rule).

A report cell holds what the ledger recorded or computed, and some of that is free text a
person typed (a purpose, a reason, a forum) or an identifier. A spreadsheet opening a CSV file
treats a cell starting with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(...)` leaks data, DDE
runs programs), and a leading tab or carriage return is read past to reach one. So:

- CSV: such a cell is written with a single quote before it (`'=HYPERLINK(...)`), OWASP's advice;
  the report's own value (JSON, the library's rows, the store) is unchanged.
- XLSX: every text cell is written as a string, never a formula, with Excel's "quote prefix"
  style on the risky ones, so the cell shows and holds exactly the value.

A plain decimal number (`-12.50`, `+3`) is left as it is: a spreadsheet reads it as the number
it is, with nothing to evaluate. The ledger's amounts are non-negative decimal strings; a
negative figure (a movement, a difference) is such a number too. Anything else with a leading
sign (`-2+3`, `-A1`) is quoted.
"""

from __future__ import annotations

import re

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet evaluate (or skip to) a formula."""

_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def is_risky(text: str) -> bool:
    """A spreadsheet would evaluate `text` (a formula trigger first, and not a plain number)."""
    return text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text)


def neutralised(text: str) -> str:
    """`text` as a CSV cell: a single quote before it if a spreadsheet would evaluate it."""
    return "'" + text if is_risky(text) else text
