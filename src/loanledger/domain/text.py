"""What an identifier and a piece of free text may hold (journal commands, DESIGN §6).

An identifier (loan, borrower, guarantor, staff, collateral, case and notice ids, product ids,
references, collateral kinds) ends up in SQL rows, file names, CSV cells, terminal output and
regulator exports, so its alphabet is small and fixed:

- 1 to `MAX_ID_LENGTH` (64) characters, in Unicode NFC;
- letters, combining marks and decimal digits of any script (Unicode L*, M*, Nd), and the five
  separators in `ID_SEPARATORS` (`-` `_` `.` `:` `/`); no space, no control character, no emoji;
- every `/`-separated part starts with a letter or a digit, so an id never starts with `-`, `=`,
  `+`, `@`, `.` or `/`, and has no empty, `.` or `..` part (`../../etc/passwd` and `/etc` are
  refused; `L-00001/dunning/2025-03-01` is a notice id).

Free text (names, notes, purpose, reasons, findings) may hold any printable Unicode, newlines
(LF, CR) and tabs; it may not hold NUL or another control character (Unicode Cc), a lone
surrogate (which no store can encode), or a bidirectional override or isolate (which make
terminal output and exports display something other than what is stored). A name or a forum is
one line: no line break or tab. Lengths stay as they were.

Every refusal is an `InvalidCommandError` naming the rule; the command parser adds the field.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from loanledger.domain.errors import InvalidCommandError

MAX_ID_LENGTH = 64
"""Longest identifier (loan id, person id, reference, collateral id)."""

ID_SEPARATORS = "-_.:/"
"""The only characters besides letters and digits an identifier may hold."""

ID_RULE = (
    f"an identifier is 1-{MAX_ID_LENGTH} characters in NFC: letters, digits and "
    f"'{ID_SEPARATORS}', each '/'-separated part starting with a letter or a digit"
)
"""The rule, as refusals state it."""

_LINE_BREAKS = frozenset("\n\r\u2028\u2029")
_TEXT_CONTROLS_ALLOWED = frozenset("\t\n\r")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SHOWN = 40


def _shown(value: str) -> str:
    """The value as a refusal quotes it: a Python literal (controls escaped), cut if long."""
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")


def _id_character_allowed(character: str) -> bool:
    if character in ID_SEPARATORS:
        return True
    category = unicodedata.category(character)
    return category[0] in "LM" or category == "Nd"


def _part_start_allowed(character: str) -> bool:
    category = unicodedata.category(character)
    return category[0] == "L" or category == "Nd"


def _named(character: str) -> str:
    return repr(character) if character.isprintable() else f"U+{ord(character):04X}"


_ASCII_ID = re.compile("[A-Za-z0-9" + re.escape(ID_SEPARATORS) + "]*")
"""The ASCII characters `_id_character_allowed` allows (ASCII letters are L*, its digits Nd):
most identifiers are ASCII, and a load checks several a line."""


def check_identifier(value: str) -> str:
    """`value` if it is a valid identifier (see the module's rule), else `InvalidCommandError`."""
    if not 1 <= len(value) <= MAX_ID_LENGTH:
        raise InvalidCommandError(f"{ID_RULE}; got {len(value)} characters")
    if not (value.isascii() and _ASCII_ID.fullmatch(value)):
        # ASCII is in NFC; any other value is checked character by character.
        if not unicodedata.is_normalized("NFC", value):
            raise InvalidCommandError(f"{ID_RULE}; {_shown(value)} is not in NFC")
        for character in value:
            if not _id_character_allowed(character):
                raise InvalidCommandError(f"{ID_RULE}; {_shown(value)} holds {_named(character)}")
    for part in value.split("/"):
        if not part or not _part_start_allowed(part[0]):
            raise InvalidCommandError(f"{ID_RULE}; {_shown(value)} has the part {part!r}")
    return value


def _text_problem(value: str, *, one_line: bool) -> str | None:
    if value.isascii() and value.isprintable():
        return None  # no control character, line break or tab, and nothing outside ASCII
    for character in value:
        if one_line and (character in _LINE_BREAKS or character == "\t"):
            return "a line break or tab"
        if character in _TEXT_CONTROLS_ALLOWED:
            continue
        category = unicodedata.category(character)
        if category == "Cc":
            return f"the control character U+{ord(character):04X}"
        if category == "Cs":
            return f"the lone surrogate U+{ord(character):04X}"
        if character in _BIDI_CONTROLS:
            return f"the bidirectional control U+{ord(character):04X}"
    return None


def check_text(value: str) -> str:
    """`value` if it is valid free text (see the module's rule), else `InvalidCommandError`."""
    problem = _text_problem(value, one_line=False)
    if problem is not None:
        raise InvalidCommandError(
            f"free text may hold printable characters, newlines and tabs only; found {problem}"
        )
    return value


def check_line(value: str) -> str:
    """`value` if it is valid one-line text (a name, a forum), else `InvalidCommandError`."""
    problem = _text_problem(value, one_line=True)
    if problem is not None:
        raise InvalidCommandError(f"a name is one line of printable characters; found {problem}")
    return value


def check_lookup(value: object, field: str) -> str:
    """An id a query names (`ledger.loan(loan_id)`, `forget_borrower(borrower_id)`), checked
    only for what no store can look up: a non-string, an empty or over-long value, a control
    character or a lone surrogate. Ids recorded before the alphabet above was enforced stay
    readable; anything else gets `InvalidCommandError` instead of a driver's error."""
    if not isinstance(value, str):
        raise InvalidCommandError(f"{field} must be a string, got {type(value).__name__}")
    if not 1 <= len(value) <= MAX_ID_LENGTH:
        raise InvalidCommandError(f"{field} must be 1-{MAX_ID_LENGTH} characters, got {len(value)}")
    for character in value:
        if unicodedata.category(character) in ("Cc", "Cs"):
            raise InvalidCommandError(f"{field} {_shown(value)} holds {_named(character)}")
    return value


Identifier = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=False),
    AfterValidator(check_identifier),
]
"""A journal identifier (see the module's rule)."""


MAX_TEXT_LENGTH = 2000
"""Longest free text (notes, findings, reasons) a command may carry."""

MAX_NAME_LENGTH = 200
"""Longest name (a person's, a forum's, a court's)."""

Text = Annotated[
    str, StringConstraints(strict=True, max_length=MAX_TEXT_LENGTH), AfterValidator(check_text)
]
"""Free text, possibly empty."""

RequiredText = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=MAX_TEXT_LENGTH),
    AfterValidator(check_text),
]
"""Free text of at least one character."""

Name = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(check_line),
]
"""A name: one line of 1-200 characters."""

OptionalName = Annotated[
    str, StringConstraints(strict=True, max_length=MAX_NAME_LENGTH), AfterValidator(check_line)
]
"""A name that may be empty (a payee as written)."""

IdNumber = Annotated[
    str, StringConstraints(strict=True, max_length=MAX_ID_LENGTH), AfterValidator(check_line)
]
"""A person's identity-document number: one line of at most 64 characters."""


__all__ = [
    "ID_RULE",
    "ID_SEPARATORS",
    "MAX_ID_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_TEXT_LENGTH",
    "IdNumber",
    "Identifier",
    "Name",
    "OptionalName",
    "RequiredText",
    "Text",
    "check_identifier",
    "check_line",
    "check_lookup",
    "check_text",
]
