"""Named SQL statements, one file per projection under `projections/` (shipped in the wheel).

A file holds blocks introduced by `-- name: NAME` (portable) or `-- name: NAME [postgresql]` /
`[sqlite]` (one dialect's variant, preferred over the portable one for that dialect). Statements
use `?` placeholders; the PostgreSQL store turns them into `%s`. Keeping the SQL in files lets an
auditor read exactly how each figure is made without reading Python.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

_BLOCK = re.compile(r"^--\s*name:\s*(\w+)(?:\s*\[(sqlite|postgresql)\])?\s*$", re.MULTILINE)


def _projection_dir() -> Path:
    shipped = resources.files("loanledger") / "_sql" / "projections"
    if shipped.is_dir():
        return Path(str(shipped))
    # Running from a checkout (editable install): the top-level projections/ folder.
    return Path(__file__).resolve().parents[3] / "projections"


@cache
def statements(projection: str, dialect: str) -> dict[str, str]:
    """The statements of `projections/<projection>.sql` for `dialect`, by name."""
    text = (_projection_dir() / f"{projection}.sql").read_text(encoding="utf-8")
    found: dict[str, str] = {}
    specific: dict[str, str] = {}
    matches = list(_BLOCK.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip().rstrip(";").strip()
        name, only = match.group(1), match.group(2)
        if only is None:
            found[name] = body
        elif only == dialect:
            specific[name] = body
    found.update(specific)
    return found
