"""Named SQL statements, one file per table family (shipped in the wheel): the read models under
`projections/` (what the projection engine derives from the events) and the side stores under
`storage/` (personal-data keys, snapshots, the transparency log, the closed-day journal: written
by persistence and the application, not projections of events). A name is unique across both.

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


SQL_FOLDERS = ("projections", "storage")
"""The two folders of named SQL files, searched in this order (a name lives in exactly one)."""


def _sql_dir(folder: str) -> Path:
    shipped = resources.files("loanledger") / "_sql" / folder
    if shipped.is_dir():
        return Path(str(shipped))
    # Running from a checkout (editable install): the top-level folder of that name.
    return Path(__file__).resolve().parents[3] / folder


def sql_file(name: str) -> Path:
    """The file `<name>.sql` in `projections/` or `storage/` (FileNotFoundError if in neither)."""
    for folder in SQL_FOLDERS:
        path = _sql_dir(folder) / f"{name}.sql"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no {name}.sql in {' or '.join(SQL_FOLDERS)}")


@cache
def statements(name: str, dialect: str) -> dict[str, str]:
    """The statements of `projections/<name>.sql` or `storage/<name>.sql` for `dialect`, by
    name."""
    text = sql_file(name).read_text(encoding="utf-8")
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
