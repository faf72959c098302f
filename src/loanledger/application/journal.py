"""Reading journal lines (JSON Lines, DESIGN §6) into command dicts, with limits.

Each line is one JSON object. Blank lines are skipped (they still count for `line N`). Parsing is
strict: duplicate keys are refused, and a line longer than `MAX_LINE_BYTES` is refused before it
is parsed, so a hostile journal cannot exhaust memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import Any

from loanledger.domain.errors import JournalParseError, LimitExceededError

MAX_LINE_BYTES = 64 * 1024
"""Longest journal line: far above any real command (a few hundred bytes), far below harm."""


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JournalParseError(f"duplicate field {key!r}")
        result[key] = value
    return result


def parse_line(line: str | bytes) -> dict[str, Any]:
    """One journal line as a dict; JournalParseError if it is not one JSON object."""
    try:
        size = len(line.encode("utf-8") if isinstance(line, str) else line)
    except UnicodeEncodeError as error:
        raise JournalParseError(
            f"not UTF-8 text (at character {error.start + 1} of the line)"
        ) from None
    if size > MAX_LINE_BYTES:
        raise LimitExceededError(f"line is {size} bytes, above the limit of {MAX_LINE_BYTES}")
    try:
        data = json.loads(line, object_pairs_hook=_refuse_duplicate_keys)
    except JournalParseError:
        raise
    except (ValueError, RecursionError) as error:
        raise JournalParseError(f"not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise JournalParseError(f"a command must be a JSON object, got {type(data).__name__}")
    return data


def numbered_lines(source: str | PathLike[str] | Iterable[str]) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for every non-blank line of a path or an iterable of lines."""
    if isinstance(source, str | PathLike):
        # Bytes that are not UTF-8 are kept as lone surrogates, so that `parse_line` refuses
        # their line by number (JournalParseError) instead of the file read failing midway.
        with Path(source).open(encoding="utf-8", errors="surrogateescape") as handle:
            yield from _non_blank(handle)
    else:
        yield from _non_blank(source)


def _non_blank(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield number, line
